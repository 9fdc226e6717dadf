package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", wantCode: 2, wantStderr: "usage:"},
		{name: "unknown command", args: []string{"push"}, wantCode: 2, wantStderr: `unknown command "push"`},
		{
			name:       "resolve stdin",
			args:       []string{"resolve", "--prefix", "p.local", "--tag", "t"},
			stdin:      "image: ko://github.com/rehearsal-dev/rehearsal/cmd/steps/gate # gate\n",
			wantStdout: "image: p.local/gate:t # gate\n",
		},
		{
			name:       "resolve rejects a foreign module",
			args:       []string{"resolve"},
			stdin:      "image: ko://example.com/x/cmd/y\n",
			wantCode:   1,
			wantStderr: "<stdin>:1:8:",
		},
		{name: "pack needs --out", args: []string{"pack", "a/b:c=" + bin + ":/pause"}, wantCode: 2, wantStderr: "--out"},
		{name: "pack bad spec", args: []string{"pack", "--out", filepath.Join(dir, "x.tar"), "a/b:c"}, wantCode: 2, wantStderr: "want REF=BINARY:PATH[:USER]"},
		{name: "pack", args: []string{"pack", "--out", filepath.Join(dir, "p.tar"), "a.local/pause:e2e=" + bin + ":/pause:65535"}},
		{name: "build needs a package", args: []string{"build", "--out", filepath.Join(dir, "b.tar")}, wantCode: 2, wantStderr: "at least one package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Errorf("run(%q) stdout = %q, want %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "p.tar")); err != nil {
		t.Errorf("pack wrote no tarball: %v", err)
	}
}
