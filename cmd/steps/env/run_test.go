package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const defaultRules = "../../../rules"

func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestRunRefusesBadRequests: a request outside the approved templates is
// refused with exit 2 and the template or parameter named, before any
// cluster is contacted (the kubeconfig named here does not exist).
func TestRunRefusesBadRequests(t *testing.T) {
	noCluster := filepath.Join(t.TempDir(), "absent-kubeconfig")
	base := []string{"--rules", defaultRules, "--workspace", t.TempDir(), "--kubeconfig", noCluster, "--branch", "feature-x", "--owner", "alice"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown template", []string{"--template", "prod-clone"}, `unknown environment template "prod-clone" (approved templates: nightly, preview)`},
		{"ttl outside the allowed values", []string{"--template", "preview", "-p", "ttl=720h"}, `parameter ttl: "720h" is not allowed by template preview (allowed: 1h, 4h, 8h, 24h; rule env.preview at`},
		{"size outside the allowed values", []string{"--template", "preview", "-p", "size=xlarge"}, "parameter size"},
		{"undeclared parameter", []string{"--template", "preview", "-p", "replicas=3"}, "parameter replicas is not a parameter of template preview"},
		{"malformed parameter", []string{"--template", "preview", "-p", "ttl"}, `parameter "ttl" is not key=value`},
		{"parameter twice", []string{"--template", "preview", "-p", "ttl=1h", "-p", "ttl=4h"}, "parameter ttl given twice"},
		{"template not offered", []string{"--template", "nightly"}, "template nightly is not offered for this request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(append(append([]string{}, base...), tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %q", code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q: a refused request reports nothing", stdout)
			}
		})
	}
}

// TestRunNeedsACluster: an accepted request with no reachable cluster is an
// infrastructure failure (exit 3), not bad input.
func TestRunNeedsACluster(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n"), 0o600)
	code, _, stderr := runArgs("--rules", defaultRules, "--workspace", t.TempDir(), "--kubeconfig", kc, "--template", "preview",
		"--branch", "feature-x", "--owner", "alice", "-p", "data=none")
	if code != 3 || !strings.Contains(stderr, "namespace preview-feature-x") {
		t.Errorf("exit %d, stderr %q; want exit 3 reading the namespace", code, stderr)
	}
}
