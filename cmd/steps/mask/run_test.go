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

const defaultRules = "../../../rules"

func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestRunDemo: without DSNs the step masks fixtures/shop on the embedded
// server and writes dataset.json, the output parameters and its audit entry.
func TestRunDemo(t *testing.T) {
	ws, outputs := t.TempDir(), t.TempDir()
	code, stdout, stderr := runArgs("--workspace", ws, "--rules", defaultRules, "--outputs", outputs)
	if code != 0 {
		t.Fatalf("mask = exit %d; stderr:\n%s", code, stderr)
	}
	for k, want := range map[string]string{"rows": "448", "tables": "5", "verified": "true"} {
		b, err := os.ReadFile(filepath.Join(outputs, k))
		if err != nil || string(b) != want {
			t.Errorf("output parameter %s = %q (%v), want %q", k, b, err, want)
		}
	}
	var ds workspace.Dataset
	if err := workspace.ReadJSON(ws, workspace.DatasetFile, &ds); err != nil {
		t.Fatal(err)
	}
	if !ds.Verified || ds.Server != "embedded" || len(ds.Tables) != 5 {
		t.Errorf("dataset = verified %v on %q with %d tables", ds.Verified, ds.Server, len(ds.Tables))
	}
	var a workspace.AuditEntry
	if err := workspace.ReadJSON(ws, "audit/mask.json", &a); err != nil || a.Outputs[workspace.DatasetFile] == "" {
		t.Errorf("audit entry = %+v (%v), want the digest of dataset.json", a, err)
	}
	if !strings.Contains(stdout, `"verified": "true"`) || !strings.Contains(stderr, "dataset swapped in") {
		t.Errorf("stdout %q / stderr %q: want the summary and the log line", stdout, stderr)
	}
}

func TestRunBadInput(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("0123456789abcdef0123\n"), 0o600)
	tests := []struct {
		name   string
		args   []string
		code   int
		want   string
		absent string
	}{
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined", ""},
		{"key file missing", []string{"--source-dsn", "u:pw@tcp(127.0.0.1:1)/shop", "--target-dsn", "u:pw@tcp(127.0.0.1:1)/", "--key-file", "/nonexistent/key"}, 2, "key file /nonexistent/key does not exist", ""},
		{"no key for a real server", []string{"--source-dsn", "u:pw@tcp(127.0.0.1:1)/shop", "--target-dsn", "u:pw@tcp(127.0.0.1:1)/"}, 2, "no masking key", ""},
		{"unreachable target, password redacted", []string{"--target-dsn", "app:Sup3rSecret@tcp(127.0.0.1:1)/", "--source-dsn", "app:Sup3rSecret@tcp(127.0.0.1:1)/shop", "--key-file", key}, 3, "app:***@tcp(127.0.0.1:1)", "Sup3rSecret"},
		{"missing rules", []string{"--rules", "/nonexistent"}, 2, "read rules", ""},
		{"gc without a target", []string{"--gc"}, 2, "--gc needs --target-dsn", ""},
		{"branch template without a branch", []string{"--target-schema", "preprod_{{branch}}", "--target-dsn", "app:Sup3rSecret@tcp(127.0.0.1:1)/", "--key-file", key}, 2, "needs a branch: give --branch", "Sup3rSecret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := t.TempDir()
			args := append([]string{"--workspace", ws, "--rules", defaultRules}, tc.args...)
			code, _, stderr := runArgs(args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("mask %s = exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr, tc.code, tc.want)
			}
			if tc.absent != "" && strings.Contains(stderr, tc.absent) {
				t.Errorf("stderr shows %q: %s", tc.absent, stderr)
			}
			if entries, _ := os.ReadDir(ws); len(entries) != 0 {
				t.Errorf("a failed run left %d entries in the workspace", len(entries))
			}
		})
	}
}

// TestDSNFromEnvironment: DSNs come from the environment when the flags are
// empty (the WorkflowTemplate maps a Secret there), and never into logs.
func TestDSNFromEnvironment(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("0123456789abcdef0123"), 0o600)
	t.Setenv(EnvTargetDSN, "svc:EnvSecret99@tcp(127.0.0.1:1)/")
	code, _, stderr := runArgs("--workspace", t.TempDir(), "--rules", defaultRules, "--key-file", key)
	if code != 3 || !strings.Contains(stderr, "svc:***@tcp(127.0.0.1:1)") || strings.Contains(stderr, "EnvSecret99") {
		t.Errorf("mask with $%s = exit %d, stderr %q; want exit 3 naming the redacted DSN", EnvTargetDSN, code, stderr)
	}
}

// TestNoSecretsRunsTheEmbeddedDemo: in Argo without the rehearsal-mask-db and
// rehearsal-mask-key Secrets the key file is absent and no DSN is set; the
// step then runs the embedded demo (recorded as such) instead of failing.
func TestNoSecretsRunsTheEmbeddedDemo(t *testing.T) {
	t.Setenv(EnvSourceDSN, "")
	t.Setenv(EnvTargetDSN, "")
	ws := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--workspace", ws, "--rules", "../../../rules", "--key-file", filepath.Join(t.TempDir(), "absent")}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("run = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var d workspace.Dataset
	if err := workspace.ReadJSON(ws, workspace.DatasetFile, &d); err != nil {
		t.Fatal(err)
	}
	if d.Server != "embedded" || !d.Verified || !strings.Contains(stderr.String(), "embedded server with the demo key") {
		t.Errorf("dataset server %q verified %v, stderr:\n%s\nwant the verified embedded demo and a warning", d.Server, d.Verified, stderr.String())
	}
}
