package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const (
	defaultRules = "../../../rules"
	fixtures     = "../../../fixtures/scan"
)

// Fake credentials, assembled so that no secret-shaped string is committed.
var (
	fakeKeyID  = "AKIA" + "Q3EGRL2VXJ7WN5PA"
	fakeSecret = "Zq8bXk2vR9mT4nW7" + "pY1sL6dF3gH0jK5aC8eB2uV9"
)

func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func copyTree(t *testing.T, from, to string) {
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
		writeFile(t, filepath.Join(to, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func planted(t *testing.T) string {
	dir := t.TempDir()
	copyTree(t, filepath.Join(fixtures, "planted"), dir)
	writeFile(t, filepath.Join(dir, "config/app.env"), "AWS_ACCESS_KEY_ID="+fakeKeyID+"\nAWS_SECRET_ACCESS_KEY="+fakeSecret+"\n")
	return dir
}

func readParam(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("output parameter %s: %v", name, err)
	}
	return string(b)
}

func TestRunBlocked(t *testing.T) {
	ws, outputs := t.TempDir(), t.TempDir()
	code, stdout, stderr := runArgs("--path", planted(t), "--rules", defaultRules, "--workspace", ws, "--outputs", outputs,
		"--catalog", fixtures+"/services.yaml", "--exceptions", fixtures+"/exceptions.yaml", "--baseline", fixtures+"/baseline",
		"--as-of", "2026-01-15")
	if code != 1 {
		t.Fatalf("scan = exit %d, want 1 (blockers); stderr:\n%s", code, stderr)
	}
	if b, a := readParam(t, outputs, "blockers"), readParam(t, outputs, "advisories"); b != "19" || a == "0" {
		t.Errorf("output parameters blockers=%s advisories=%s, want 19 and some", b, a)
	}
	if !strings.Contains(stdout, `"blockers": 19`) || !strings.Contains(stderr, "scan: 19 blocker(s) no exception covers") {
		t.Errorf("stdout %s / stderr %s: want the summary and the reason", stdout, stderr)
	}
	for _, out := range []string{stdout, stderr, string(mustRead(t, filepath.Join(ws, workspace.FindingsFile))), string(mustRead(t, filepath.Join(ws, workspace.SARIFFile)))} {
		if strings.Contains(out, fakeKeyID) || strings.Contains(out, fakeSecret) || strings.Contains(out, "planted-not-a-real-credential") {
			t.Errorf("a planted secret was printed or written")
		}
	}
	var a workspace.AuditEntry
	if err := workspace.ReadJSON(ws, "audit/scan.json", &a); err != nil {
		t.Fatal(err)
	}
	if a.ExitCode != 1 || a.Outputs["findings.json"] == "" || a.Outputs["findings.sarif"] == "" || a.RulesDigest == "" {
		t.Errorf("audit entry = %+v, want exit 1 and the digests of both outputs", a)
	}
}

func TestRunClean(t *testing.T) {
	ws, outputs := t.TempDir(), t.TempDir()
	// The catalog comes from the workspace's catalog.json by default.
	cat, _ := os.ReadFile(fixtures + "/services.yaml")
	writeFile(t, filepath.Join(ws, workspace.CatalogFile), string(cat))
	code, _, stderr := runArgs("--path", fixtures+"/clean", "--rules", defaultRules, "--workspace", ws, "--outputs", outputs)
	if code != 0 {
		t.Fatalf("scan clean = exit %d; stderr:\n%s", code, stderr)
	}
	if b := readParam(t, outputs, "blockers"); b != "0" {
		t.Errorf("blockers = %s, want 0", b)
	}
	var a workspace.AuditEntry
	workspace.ReadJSON(ws, "audit/scan.json", &a)
	if a.ExitCode != 0 || a.Inputs["catalog.json"] == "" {
		t.Errorf("audit entry = %+v, want exit 0 and the catalog read", a)
	}
}

// TestRunAsOfDefault: without --as-of, exceptions are judged today.
func TestRunAsOfDefault(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC) }
	ws := t.TempDir()
	runArgs("--path", fixtures+"/clean", "--rules", defaultRules, "--workspace", ws)
	var f workspace.Findings
	if err := workspace.ReadJSON(ws, workspace.FindingsFile, &f); err != nil || f.AsOf != "2026-03-02" {
		t.Errorf("asOf = %q (%v), want today", f.AsOf, err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rulesWith copies the shipped rules and replaces text in policy.yaml.
func rulesWith(t *testing.T, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	entries, _ := os.ReadDir(defaultRules)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(defaultRules, e.Name()))
		s := string(b)
		if e.Name() == "policy.yaml" {
			if !strings.Contains(s, old) {
				t.Fatalf("policy.yaml has no %q", old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		writeFile(t, filepath.Join(dir, e.Name()), s)
	}
	return dir
}

func TestRunBadInput(t *testing.T) {
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "exceptions.yaml"), "apiVersion: rehearsal.dev/v1\nkind: exceptions\nexceptions:\n  - {id: a, rule: policy.privileged, path: '**', owner: o, reason: r, expires: 2026-31-12}\n")
	writeFile(t, filepath.Join(bad, "unknown.yaml"), "apiVersion: rehearsal.dev/v1\nkind: exceptions\nexceptions:\n  - {id: a, rule: KSV-0000, path: '**', owner: o, reason: r, expires: 2026-12-31}\n")
	writeFile(t, filepath.Join(bad, "services.yaml"), "services:\n  - name: x\n    tier: platinum\n")
	celErr := rulesWith(t, "when: resource.containers.exists(c, c.privileged)", "when: resource.containers.exists(c, c.privileged_mode)")
	tests := []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"unknown flag", []string{"--nope"}, regexp.MustCompile("flag provided but not defined")},
		{"no path", []string{"--rules", defaultRules}, regexp.MustCompile("--path is required")},
		{"missing rules", []string{"--path", fixtures + "/clean", "--rules", bad + "/none"}, regexp.MustCompile("read rules")},
		{"policy rule with a CEL error", []string{"--path", fixtures + "/clean", "--rules", celErr},
			regexp.MustCompile(`policy\.yaml:\d+:\d+: rule "policy\.privileged": .*privileged_mode`)},
		{"exceptions with a bad date", []string{"--path", fixtures + "/clean", "--rules", defaultRules, "--exceptions", bad + "/exceptions.yaml"},
			regexp.MustCompile(`exceptions\.yaml:4:\d+: exception a: expires "2026-31-12" is not a date`)},
		{"exceptions with an unknown rule", []string{"--path", fixtures + "/clean", "--rules", defaultRules, "--exceptions", bad + "/unknown.yaml"},
			regexp.MustCompile(`unknown\.yaml:4:\d+: exception a: unknown rule "KSV-0000"`)},
		{"bad as-of", []string{"--path", fixtures + "/clean", "--rules", defaultRules, "--as-of", "15/01/2026"}, regexp.MustCompile(`--as-of "15/01/2026" is not a date`)},
		{"bad catalog", []string{"--path", fixtures + "/clean", "--rules", defaultRules, "--catalog", bad + "/services.yaml"}, regexp.MustCompile(`services\.yaml:3:11: service "x": tier "platinum"`)},
		{"path missing", []string{"--path", bad + "/none", "--rules", defaultRules}, regexp.MustCompile("no such file or directory")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			code, _, stderr := runArgs(append([]string{"--workspace", ws}, tt.args...)...)
			if code != 2 || !tt.want.MatchString(stderr) {
				t.Errorf("scan %s = exit %d, stderr %q; want exit 2 and %s", tt.name, code, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(ws); len(entries) != 0 {
				t.Errorf("scan %s wrote %d entries into the workspace, want none", tt.name, len(entries))
			}
		})
	}
}

// TestRunInfrastructure: a workspace that cannot be written is exit 3.
func TestRunInfrastructure(t *testing.T) {
	ws := t.TempDir()
	// findings.sarif is a directory with something in it: it cannot be replaced.
	writeFile(t, filepath.Join(ws, workspace.SARIFFile, "x"), "x")
	code, _, stderr := runArgs("--path", fixtures+"/clean", "--rules", defaultRules, "--workspace", ws)
	if code != 3 {
		t.Errorf("scan into a file = exit %d, want 3; stderr %s", code, stderr)
	}
}
