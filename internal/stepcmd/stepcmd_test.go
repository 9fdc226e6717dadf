package stepcmd

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func TestFailMapsCodesAndWritesTheTerminationLog(t *testing.T) {
	dir := t.TempDir()
	TerminationLog = filepath.Join(dir, "termination-log")
	os.WriteFile(TerminationLog, nil, 0o644)
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitcode.OK},
		{exitcode.Inputf("bad %s", "flag"), exitcode.BadInput},
		{exitcode.Verdict(errors.New("rejected")), exitcode.Negative},
		{errors.New("disk on fire"), exitcode.Infra},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if got := Fail(&stderr, "step", tt.err); got != tt.want {
			t.Errorf("Fail(%v) = %d, want %d", tt.err, got, tt.want)
		}
		if tt.err != nil && !strings.Contains(stderr.String(), "step: "+tt.err.Error()) {
			t.Errorf("Fail(%v) wrote %q to stderr", tt.err, stderr.String())
		}
	}
	b, _ := os.ReadFile(TerminationLog)
	if string(b) != "disk on fire" {
		t.Errorf("termination log = %q, want the last failure", b)
	}
}

func TestParseUsageIsBadInput(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("workspace", ".", "")
	var stderr bytes.Buffer
	if code := exitcode.Code(Parse(fs, []string{"--nope"}, &stderr)); code != exitcode.BadInput {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := exitcode.Code(Parse(fs, []string{"stray"}, &stderr)); code != exitcode.BadInput {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
}

func TestOutputsWritesOneFileAParameter(t *testing.T) {
	dir := t.TempDir()
	if err := Outputs(dir, map[string]string{"risk": "high", "nodes": "2"}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"risk": "high", "nodes": "2"} {
		if b, _ := os.ReadFile(filepath.Join(dir, k)); string(b) != want {
			t.Errorf("output %s = %q, want %q", k, b, want)
		}
	}
	if err := Outputs("", map[string]string{"x": "y"}); err != nil {
		t.Errorf("Outputs with no dir = %v, want nil", err)
	}
}

func TestAuditNamesImageTemplateAndNode(t *testing.T) {
	ws := t.TempDir()
	t.Setenv(EnvImage, "kind.local/plan@sha256:0123")
	t.Setenv(EnvTemplate, "rehearsal-plan")
	t.Setenv(EnvArgoNode, "release-x-123")
	if err := os.WriteFile(filepath.Join(ws, "in.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Audit(ws, "plan", "plan", time.Unix(0, 0), "sha256:r", []string{"in.json"}, nil); err != nil {
		t.Fatal(err)
	}
	var e workspace.AuditEntry
	if err := workspace.ReadJSON(ws, workspace.AuditFile("plan"), &e); err != nil {
		t.Fatal(err)
	}
	if e.Image != "kind.local/plan@sha256:0123" || e.Template != "rehearsal-plan" || e.ArgoNode != "release-x-123" || e.Inputs["in.json"] == "" {
		t.Errorf("audit entry = %+v, want the image, template, node and input digest from the environment", e)
	}
}
