package scan

import (
	"context"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestDogfood: Rehearsal's own WorkflowTemplates and deploy/ — as files, and
// as kustomize builds them for the cluster — hold no blocker in preprod
// beyond the two the ledger deploy/security-exceptions.yaml accepts (the env
// step's per-environment RoleBinding and Secrets), and every entry of that
// ledger is needed.
func TestDogfood(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	built, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatalf("kustomize build deploy: %v", err)
	}
	yaml, err := built.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	rendered := t.TempDir()
	writeFile(t, filepath.Join(rendered, "deploy.yaml"), string(yaml))
	for _, dir := range []string{filepath.Join(root, "workflowtemplates"), filepath.Join(root, "deploy"), rendered} {
		name := filepath.Base(dir)
		if dir == rendered {
			name = "kustomize build deploy"
		}
		t.Run(name, func(t *testing.T) {
			in := Input{Path: dir, Workspace: t.TempDir(), Rules: loadRules(t), Now: asOf,
				Exceptions: filepath.Join(root, "deploy", "security-exceptions.yaml")}
			out, err := Run(context.Background(), in)
			if err != nil {
				t.Fatalf("Run(%s) = %v", name, err)
			}
			fs := readFindings(t, in.Workspace)
			used := map[string]bool{}
			for _, f := range fs.Findings {
				if f.Excepted {
					used[f.Exception.ID] = true
				}
				if f.Unexcepted() {
					t.Errorf("%s:%d: blocker %s on %s: %s", f.File, f.Line, f.Rule, f.Resource, f.Message)
				}
			}
			if dir != filepath.Join(root, "workflowtemplates") && !(used["env-binds-in-own-namespaces"] && used["env-workload-secrets"]) {
				t.Errorf("exceptions used %v: every entry of deploy/security-exceptions.yaml must cover a finding, or it goes", used)
			}
			if out.Files == 0 || fs.Scanned["objects"] == 0 {
				t.Errorf("Run(%s) scanned %v: want the manifests read", name, fs.Scanned)
			}
		})
	}
}
