package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const (
	defaultRules = "../../../rules"
	shop         = "../../../steps/plan/testdata/shop"
)

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

func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRun(t *testing.T) {
	ws := workspaceWith(t, shop+"/change.json")
	outputs := t.TempDir()
	code, stdout, stderr := runArgs("--workspace", ws, "--rules", defaultRules, "--catalog", shop+"/services.yaml",
		"--manifests", shop+"/repo", "--outputs", outputs)
	if code != 0 {
		t.Fatalf("plan = exit %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, f := range []string{workspace.PlanFile, workspace.RunbookFile, "rollouts/api.yaml", "rollouts/orders.yaml", "rollouts/web.yaml", "audit/plan.json"} {
		if _, err := os.Stat(filepath.Join(ws, f)); err != nil {
			t.Errorf("plan did not write %s: %v", f, err)
		}
	}
	want := map[string]string{
		"services": "4", "steps": "11", "gated": "contract-orders", "advisories": "1",
		"strategies": "ledger=rolling,orders=canary,api=canary,web=blueGreen",
	}
	for k, v := range want {
		b, err := os.ReadFile(filepath.Join(outputs, k))
		if err != nil || string(b) != v {
			t.Errorf("output parameter %s = %q (%v), want %q", k, b, err, v)
		}
	}
	if !strings.Contains(stdout, `"gated": [`) {
		t.Errorf("stdout = %s, want the JSON summary", stdout)
	}
	var a workspace.AuditEntry
	if err := workspace.ReadJSON(ws, "audit/plan.json", &a); err != nil {
		t.Fatal(err)
	}
	if a.Outputs["plan.json"] == "" || a.Outputs["rollouts/web.yaml"] == "" || a.Inputs["change.json"] == "" {
		t.Errorf("audit entry = %+v, want the digests of change.json, plan.json and the rollouts", a)
	}
}

// TestRunDefaults: without --catalog the workspace's catalog.json is used,
// and without --manifests the workspace's manifests/ snapshot.
func TestRunDefaults(t *testing.T) {
	ws := workspaceWith(t, shop+"/change.json")
	cat, _ := os.ReadFile(shop + "/services.yaml")
	os.WriteFile(filepath.Join(ws, workspace.CatalogFile), cat, 0o644)
	code, _, stderr := runArgs("--workspace", ws, "--rules", defaultRules)
	if code != 0 {
		t.Fatalf("plan (defaults, no manifests) = exit %d; stderr:\n%s", code, stderr)
	}
	var p workspace.Plan
	workspace.ReadJSON(ws, workspace.PlanFile, &p)
	if len(p.Advisories) != 4 {
		t.Errorf("without manifests: %d advisories, want 4 (no workload found for each service)", len(p.Advisories))
	}
	copyDir(t, shop+"/repo/deploy", filepath.Join(ws, "manifests", "deploy"))
	if code, _, stderr := runArgs("--workspace", ws, "--rules", defaultRules); code != 0 {
		t.Fatalf("plan (manifests snapshot) = exit %d; stderr:\n%s", code, stderr)
	}
	workspace.ReadJSON(ws, workspace.PlanFile, &p)
	if len(p.Advisories) != 1 {
		t.Errorf("with the manifests snapshot: advisories %+v, want only the missing probe", p.Advisories)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755)
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunBadInput(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "broken.json"), []byte(`{"classes": [`), 0o644)
	tests := []struct {
		name   string
		change string
		args   []string
		want   string
	}{
		{"unknown flag", shop + "/change.json", []string{"--nope"}, "flag provided but not defined"},
		{"no catalog", shop + "/change.json", []string{"--rules", defaultRules}, "no --catalog given and"},
		{"missing rules", shop + "/change.json", []string{"--rules", bad + "/none", "--catalog", shop + "/services.yaml"}, "read rules"},
		{"malformed change", bad + "/broken.json", []string{"--rules", defaultRules, "--catalog", shop + "/services.yaml"}, "read change: "},
		{"manifests not a directory", shop + "/change.json", []string{"--rules", defaultRules, "--catalog", shop + "/services.yaml", "--manifests", shop + "/services.yaml"}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := workspaceWith(t, tt.change)
			code, _, stderr := runArgs(append([]string{"--workspace", ws}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("plan %s = exit %d, stderr %q; want exit 2 and %q", tt.name, code, stderr, tt.want)
			}
			entries, _ := os.ReadDir(ws)
			if len(entries) != 1 {
				t.Errorf("plan %s left %d entries in the workspace, want only change.json", tt.name, len(entries))
			}
		})
	}
}
