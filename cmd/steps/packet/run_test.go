package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
)

// newWorkspace copies the packet step's test workspace and records decisions
// ("user:gate:decision") through the gate step.
func newWorkspace(t *testing.T, decisions ...string) string {
	t.Helper()
	src := filepath.Join("..", "..", "..", "steps", "packet", "testdata", "ws")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range decisions {
		p := strings.Split(d, ":")
		if _, err := gate.Run(context.Background(), gate.Input{Workspace: dir, User: p[0], Gate: p[1], Decision: p[2], Source: gate.SourceLocal}); err != nil {
			t.Fatalf("gate.Run(%s) = %v", d, err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	approved := []string{"bob:migration:approve", "carol:migration:approve", "alice:notify:approve"}
	tests := []struct {
		name        string
		decisions   []string
		args        []string
		wantCode    int
		wantVerdict string // "" = nothing written
		wantStderr  string
	}{
		{"approved", approved, nil, 0, "approved", "a local key proves the packet's integrity, not who produced it"},
		{"pending", []string{"bob:migration:approve"}, nil, 4, "pending", `gate "migration" needs 2 distinct approvers`},
		{"rejected", []string{"carol:migration:reject"}, nil, 1, "rejected", `gate "migration" is rejected: rejected by carol`},
		{"missing key file", approved, []string{"--key-file", "nope.pem"}, 2, "", "key file nope.pem"},
		{"unknown flag", approved, []string{"--sign"}, 2, "", "flag provided but not defined: -sign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkspace(t, tt.decisions...)
			outputs := filepath.Join(t.TempDir(), "outputs")
			args := append([]string{"--workspace", dir, "--outputs", outputs}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr =\n%s\nwant it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			param, _ := os.ReadFile(filepath.Join(outputs, "verdict"))
			if string(param) != tt.wantVerdict {
				t.Errorf("run(%q) output parameter verdict = %q, want %q", tt.args, param, tt.wantVerdict)
			}
			if tt.wantVerdict == "" {
				if _, err := os.Stat(filepath.Join(dir, workspace.PacketFile)); err == nil {
					t.Errorf("run(%q) wrote packet.json, want nothing", tt.args)
				}
				return
			}
			var out packet.Output
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Verdict != tt.wantVerdict {
				t.Errorf("run(%q) stdout = %q (%v), want the output with verdict %q", tt.args, stdout.String(), err, tt.wantVerdict)
			}
			rep, err := packet.Verify(dir, nil)
			if err != nil || rep.Verdict != tt.wantVerdict {
				t.Errorf("packet.Verify after run(%q) = %+v, %v, want a valid packet", tt.args, rep, err)
			}
		})
	}
}
