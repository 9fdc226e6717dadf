package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/workflowtemplates"
)

var update = flag.Bool("update", false, "rewrite golden files")

const defaultRules = "../../../rules"

// digestPlaceholder stands for the default rules' digest in golden files, so
// that editing a rule does not break them (the test checks the digest itself).
const digestPlaceholder = "sha256:<rules-digest>"

func workspaceWith(t *testing.T, change string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(change)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, workspace.ChangeFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	set, err := rules.Load(defaultRules)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := argo.LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		nodes     string // the nodes output parameter
		gates     string
		workflow  bool
		staleFile bool // a workflow.yaml from an earlier run is in the workspace
	}{
		{name: "migration", nodes: "4", gates: "migration", workflow: true},
		{name: "docs", nodes: "0", gates: "", staleFile: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspaceWith(t, filepath.Join("testdata", tc.name, "change.json"))
			wfPath := filepath.Join(dir, workspace.WorkflowFile)
			if tc.staleFile {
				if err := os.WriteFile(wfPath, []byte("stale"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			outputs := filepath.Join(dir, "outputs")
			code, stdout, stderr := runArgs(t, "--workspace", dir, "--rules", defaultRules, "--catalog", "testdata/catalog.yaml",
				"--outputs", outputs, "--namespace", "rehearsal", "--workspace-claim", "release-x7k2p-workspace",
				"--generate-name", "release-x7k2p-", "--run", "release-x7k2p")
			if code != 0 {
				t.Fatalf("run = %d, want 0; stderr:\n%s", code, stderr)
			}
			graph, err := os.ReadFile(filepath.Join(dir, workspace.GraphFile))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(graph, []byte(set.Digest)) {
				t.Errorf("graph.json does not carry the rules digest %s", set.Digest)
			}
			golden(t, filepath.Join("testdata", tc.name, "graph.json"), bytes.ReplaceAll(graph, []byte(set.Digest), []byte(digestPlaceholder)))
			for name, want := range map[string]string{"nodes": tc.nodes, "gates": tc.gates, "risk": ""} {
				got, err := os.ReadFile(filepath.Join(outputs, name))
				if err != nil {
					t.Fatalf("output parameter %s: %v", name, err)
				}
				if name != "risk" && string(got) != want {
					t.Errorf("output parameter %s = %q, want %q", name, got, want)
				}
			}
			wf, err := os.ReadFile(wfPath)
			if !tc.workflow {
				if err == nil {
					t.Errorf("workflow.yaml exists after a graph with no nodes:\n%s", wf)
				}
				if !strings.Contains(stdout, `"removedStale": true`) {
					t.Errorf("stdout does not say the stale workflow was removed:\n%s", stdout)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tc.name, "workflow.yaml"), bytes.ReplaceAll(wf, []byte(set.Digest), []byte(digestPlaceholder)))
			// The emitted file is what the parent submits: it must decode strictly
			// and pass Argo's validator against the shipped templates.
			parsed, err := argo.Unmarshal(wfPath, wf)
			if err != nil {
				t.Fatal(err)
			}
			if err := ts.ValidateWorkflow(parsed); err != nil {
				t.Errorf("ValidateWorkflow(workflow.yaml) = %v", err)
			}
		})
	}
}

// TestDeterministic runs the same inputs twice and wants the same bytes.
func TestDeterministic(t *testing.T) {
	var prev [2][]byte
	for i := range 2 {
		dir := workspaceWith(t, "testdata/migration/change.json")
		if code, _, stderr := runArgs(t, "--workspace", dir, "--rules", defaultRules, "--catalog", "testdata/catalog.yaml"); code != 0 {
			t.Fatalf("run = %d; stderr:\n%s", code, stderr)
		}
		for j, f := range []string{workspace.GraphFile, workspace.WorkflowFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && !bytes.Equal(b, prev[j]) {
				t.Errorf("%s differs between two runs on the same inputs", f)
			}
			prev[j] = b
		}
	}
}

// writeRules writes rule files into a fresh directory.
func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInvalidGraph(t *testing.T) {
	tests := []struct {
		name  string
		route string
		gates string
		want  []string // substrings of stderr; RULES stands for the rules dir
	}{
		{
			name: "step without template",
			route: `apiVersion: rehearsal.dev/v1
kind: route
rules:
  - id: route.chaos
    description: chaos everywhere
    when: "true"
    effect:
      node: {id: chaos, step: chaos}
`,
			want: []string{`rule route.chaos (RULES/route.yaml:4:5) adds node "chaos" with step "chaos", which has no WorkflowTemplate`},
		},
		{
			name: "dependency on a missing node",
			route: `apiVersion: rehearsal.dev/v1
kind: route
rules:
  - id: route.packet
    description: a packet after a node nobody adds
    when: "true"
    effect:
      node: {id: report, step: packet, dependsOn: [scan]}
`,
			want: []string{`rule route.packet (RULES/route.yaml:4:5) makes node "report" depend on "scan", which no rule adds`},
		},
		{
			name: "cycle",
			route: `apiVersion: rehearsal.dev/v1
kind: route
rules:
  - id: route.a
    description: a after b
    when: "true"
    effect:
      node: {id: a, step: packet, dependsOn: [b]}
  - id: route.b
    description: b after a
    when: "true"
    effect:
      node: {id: b, step: packet, dependsOn: [a]}
`,
			want: []string{`rules route.a (RULES/route.yaml:4:5), route.b (RULES/route.yaml:9:5) make a cycle: a → b → a`},
		},
		{
			name:  "all problems at once",
			route: "apiVersion: rehearsal.dev/v1\nkind: route\nrules:\n  - id: route.chaos\n    description: chaos\n    when: \"true\"\n    effect:\n      node: {id: chaos, step: chaos, dependsOn: [load]}\n",
			gates: "apiVersion: rehearsal.dev/v1\nkind: gates\nrules:\n  - id: gate.qa\n    description: qa\n    when: \"true\"\n    effect:\n      gate: {name: qa, tier: high, groups: [qa-team]}\n",
			want: []string{
				`rule route.chaos (RULES/route.yaml:4:5) adds node "chaos" with step "chaos", which has no WorkflowTemplate`,
				`rule route.chaos (RULES/route.yaml:4:5) makes node "chaos" depend on "load", which no rule adds`,
				`rule gate.qa (RULES/gates.yaml:4:5) requires gate "qa" approved by group "qa-team", which is not in the catalog`,
			},
		},
		{
			name:  "parameter the template does not take",
			route: "apiVersion: rehearsal.dev/v1\nkind: route\nrules:\n  - id: route.packet\n    description: packet\n    when: \"true\"\n    effect:\n      node: {id: report, step: packet, parameters: {format: pdf}}\n",
			want:  []string{`rule route.packet (RULES/route.yaml:4:5) gives node "report" parameter "format", which template rehearsal-packet does not take`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"route.yaml": tc.route}
			if tc.gates != "" {
				files["gates.yaml"] = tc.gates
			}
			rulesDir := writeRules(t, files)
			dir := workspaceWith(t, "testdata/migration/change.json")
			code, stdout, stderr := runArgs(t, "--workspace", dir, "--rules", rulesDir, "--catalog", "testdata/catalog.yaml")
			if code != 2 {
				t.Fatalf("run = %d, want 2; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "RULES", rulesDir)
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain\n  %s\nstderr:\n%s", w, stderr)
				}
			}
			for _, f := range []string{workspace.GraphFile, workspace.WorkflowFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was written for an invalid graph", f)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args func(ws string) []string
		want string
	}{
		{"no change.json", func(ws string) []string {
			os.Remove(filepath.Join(ws, workspace.ChangeFile))
			return []string{"--workspace", ws, "--rules", defaultRules, "--catalog", "testdata/catalog.yaml"}
		}, "change.json"},
		{"no catalog", func(ws string) []string {
			return []string{"--workspace", ws, "--rules", defaultRules}
		}, "no --catalog given"},
		{"templates not a dir", func(ws string) []string {
			return []string{"--workspace", ws, "--rules", defaultRules, "--catalog", "testdata/catalog.yaml", "--templates", "testdata/catalog.yaml"}
		}, "--templates"},
		{"unknown flag", func(ws string) []string { return []string{"--nope"} }, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := workspaceWith(t, "testdata/migration/change.json")
			code, _, stderr := runArgs(t, tc.args(ws)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("run(%s) = %d, stderr %q; want 2 mentioning %q", tc.name, code, stderr, tc.want)
			}
		})
	}
}

// TestCatalogFromWorkspace: without --catalog, the workspace's catalog.json
// (written by classify) is used.
func TestCatalogFromWorkspace(t *testing.T) {
	ws := workspaceWith(t, "testdata/migration/change.json")
	data, err := os.ReadFile("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, workspace.CatalogFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runArgs(t, "--workspace", ws, "--rules", defaultRules); code != 0 {
		t.Fatalf("run = %d, want 0; stderr:\n%s", code, stderr)
	}
}
