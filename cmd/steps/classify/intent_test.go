package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// TestMain keeps the model settings of whoever runs the tests from reaching
// a real model.
func TestMain(m *testing.M) {
	for _, k := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GEMINI_BASE_URL"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

func TestRunRecordsTheIntent(t *testing.T) {
	repo, _ := sampleRepo(t)
	for _, tc := range []struct {
		name   string
		args   []string
		model  bool
		source string
	}{
		{"flags", []string{"--env", "staging", "--service", "api", "--goal", "prepare,verify", "--goal", "promote"}, false, workspace.IntentFromFlags},
		{"request", []string{"--request", "prepare staging for the api release and verify it is safe to promote"}, false, workspace.IntentFromDeterministic},
		{"request read by a model", []string{"--request", "prepare staging for the api release and verify it is safe to promote", "--model", "gemini-test"}, true, workspace.IntentFromModel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.model {
				srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}`}))
				t.Setenv("GEMINI_API_KEY", "test-key")
				t.Setenv("GOOGLE_GEMINI_BASE_URL", srv.URL)
			}
			ws := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"--workspace", ws, "--repo", repo, "--base", "app", "--head", "migration", "--catalog", catalogFile, "--rules", rulesDir}, tc.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("run = %d; stderr:\n%s", code, stderr.String())
			}
			c, err := workspace.ReadChange(ws)
			if err != nil {
				t.Fatal(err)
			}
			if c.Intent == nil || c.Intent.Environment != "staging" || strings.Join(c.Intent.Goals, ",") != "prepare,verify,promote" || strings.Join(c.Intent.Services, ",") != "api" {
				t.Errorf("change.json intent = %+v", c.Intent)
			}
			var rec workspace.IntentRecord
			if err := workspace.ReadJSON(ws, workspace.IntentFile, &rec); err != nil || rec.Source != tc.source {
				t.Errorf("intent.json source = %q (%v), want %s", rec.Source, err, tc.source)
			}
			var a workspace.AuditEntry
			if err := workspace.ReadJSON(ws, "audit/classify.json", &a); err != nil || a.Outputs[workspace.IntentFile] == "" {
				t.Errorf("the audit entry does not cover intent.json: %v", err)
			}
		})
	}
}

func TestRunRefusesBadIntentFlags(t *testing.T) {
	repo, _ := sampleRepo(t)
	ws := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--workspace", ws, "--repo", repo, "--base", "app", "--head", "migration",
		"--catalog", catalogFile, "--rules", rulesDir, "--service", "billing", "--goal", "scan-only,promote"}, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("run = %d, want 2; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{`--service "billing": not a service in the catalog ` + catalogFile + ` (services: api, orders)`, "--goal scan-only excludes every other goal"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(ws + "/" + workspace.ChangeFile); err == nil {
		t.Errorf("change.json was written despite bad input")
	}
}
