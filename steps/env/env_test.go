package env

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

func shippedRules(t *testing.T) *rules.Set {
	t.Helper()
	s, err := rules.Load("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestName(t *testing.T) {
	for _, tc := range []struct{ template, branch, want string }{
		{"preview", "feature/Login_Page", "preview-feature-login-page"},
		{"preview", "--x--", "preview-x"},
	} {
		if got := Name(tc.template, tc.branch); got != tc.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tc.template, tc.branch, got, tc.want)
		}
	}
	long := Name("preview", strings.Repeat("very-long-branch-", 8))
	if len(long) > 63 || !validName(long) || long == Name("preview", strings.Repeat("very-long-branch-", 9)) {
		t.Errorf("long names: %q is not a distinct DNS label", long)
	}
}

// TestBuildRefusesBeforeTouchingAnything: bad requests are refused with
// exit 2 and the parameter named, before any cluster or database access
// (the input has no clients: reaching for one would panic).
func TestBuildRefusesBeforeTouchingAnything(t *testing.T) {
	set := shippedRules(t)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.yaml"), []byte("# web\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: kube-system\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: mine\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "b.yaml"), []byte("apiVersion: v1\nkind: Service\nmetadata: {}\n"), 0o644)
	for _, tc := range []struct {
		name string
		in   Input
		want []string
	}{
		{"unknown template", Input{Request: rules.EnvRequest{Template: "prod-copy", Branch: "b", Owner: "alice"}}, []string{`unknown environment template "prod-copy"`, "preview"}},
		{"parameter outside allowed values", Input{Request: rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice", Parameters: map[string]string{"ttl": "720h"}}}, []string{"parameter ttl", `"720h"`, "allowed: 1h, 4h, 8h, 24h", "rules/envs.yaml:"}},
		{"unknown parameter", Input{Request: rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice", Parameters: map[string]string{"replicas": "3"}}}, []string{"parameter replicas is not a parameter of template preview"}},
		{"masked data without a source", Input{Request: rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice"}, Data: Data{TargetDSN: "u@tcp(127.0.0.1:1)/"}}, []string{"data=masked needs a source database"}},
		{"data without a server", Input{Request: rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice", Parameters: map[string]string{"data": "synthetic"}}}, []string{"data=synthetic needs a dataset server"}},
		{"bad manifests, every problem", Input{Request: rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice", Parameters: map[string]string{"data": "none"}}, Manifests: bad},
			[]string{"a.yaml:2:1: ConfigMap a names namespace \"kube-system\"", "a.yaml:8:1: Namespace mine is a Namespace", "b.yaml:1:1: Service  needs metadata.name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Rules = set
			_, err := Build(context.Background(), tc.in)
			if exitcode.Code(err) != exitcode.BadInput {
				t.Fatalf("Build = %v (exit %d), want exit 2", err, exitcode.Code(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func resolve(t *testing.T, p map[string]string) *rules.EnvDecision {
	t.Helper()
	d, err := shippedRules(t).ResolveEnv(nil, &rules.EnvRequest{Template: "preview", Branch: "b", Owner: "alice@example.com", Parameters: p})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTemplateObjects(t *testing.T) {
	d := resolve(t, map[string]string{"size": "medium"})
	m := envMeta{name: "preview-b", owner: "alice@example.com", template: "preview", expires: time.Unix(1800000000, 0)}
	objs, notes, err := templateObjects(m, d, &Binding{ClusterRole: "rehearsal-env-workload", ServiceAccount: "rehearsal-env", Namespace: "rehearsal"}, "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byKind[o.GetKind()+"/"+o.GetName()] = o
		l := o.GetLabels()
		if o.GetNamespace() != "preview-b" || l[LabelManagedBy] != "rehearsal" || l[LabelEnv] != "preview-b" || l[LabelExpiresAt] != "1800000000" || l[LabelOwner] != "alice_example.com" {
			t.Errorf("%s %s: namespace %q labels %v", o.GetKind(), o.GetName(), o.GetNamespace(), l)
		}
	}
	for _, k := range []string{"RoleBinding/rehearsal-env", "ResourceQuota/rehearsal", "LimitRange/rehearsal", "NetworkPolicy/rehearsal-default", "ServiceAccount/app"} {
		if byKind[k] == nil {
			t.Fatalf("no %s among %v", k, keys(byKind))
		}
	}
	if v, _, _ := unstructured.NestedString(byKind["ResourceQuota/rehearsal"].Object, "spec", "hard", "requests.cpu"); v != "4" {
		t.Errorf("medium quota requests.cpu = %q, want 4", v)
	}
	if v, _, _ := unstructured.NestedString(byKind["ResourceQuota/rehearsal"].Object, "spec", "hard", "services.loadbalancers"); v != "0" {
		t.Errorf("quota services.loadbalancers = %q, want 0", v)
	}
	np := byKind["NetworkPolicy/rehearsal-default"].Object
	types, _, _ := unstructured.NestedStringSlice(np, "spec", "policyTypes")
	if strings.Join(types, ",") != "Ingress,Egress" {
		t.Errorf("policyTypes %v: both directions must be denied by default", types)
	}
	egress, _, _ := unstructured.NestedSlice(np, "spec", "egress")
	ingress, _, _ := unstructured.NestedSlice(np, "spec", "ingress")
	if len(egress) != 3 || len(ingress) != 1 {
		t.Fatalf("egress %v ingress %v, want the template's 3 and 1 rules", egress, ingress)
	}
	if s := stringOf(egress); !strings.Contains(s, "10.1.2.3/32") || !strings.Contains(s, "53") || !strings.Contains(s, "kube-system") {
		t.Errorf("egress %s lacks the database /32 or DNS", s)
	}
	if auto, _, _ := unstructured.NestedBool(byKind["ServiceAccount/app"].Object, "automountServiceAccountToken"); auto {
		t.Error("service account mounts its token")
	}
	rb := stringOf(byKind["RoleBinding/rehearsal-env"].Object)
	if !strings.Contains(rb, "rehearsal-env-workload") || !strings.Contains(rb, "ServiceAccount") {
		t.Errorf("role binding %s", rb)
	}

	ns, err := namespaceObject(m, d.Template, namespaceState{state: StateBuilding, branch: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" || ns.GetAnnotations()[AnnotationState] != StateBuilding ||
		ns.GetAnnotations()[AnnotationExpiresAt] != "2027-01-15T08:00:00Z" || ns.GetAnnotations()[AnnotationOwner] != "alice@example.com" {
		t.Errorf("namespace labels %v annotations %v", ns.GetLabels(), ns.GetAnnotations())
	}
	// Without a dataset server the database peer is left out, said in a note.
	_, notes, _ = templateObjects(m, d, nil, "")
	if len(notes) != 1 || !strings.Contains(notes[0], "database egress peer is left out") {
		t.Errorf("notes %q", notes)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func stringOf(v any) string { return strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " ") }

func TestLoadManifestsKustomize(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "base"), 0o755)
	os.WriteFile(filepath.Join(dir, "base", "deploy.yaml"), []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: api, image: registry.example.com/shop/api:1.0.0}]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "base", "kustomization.yaml"), []byte("resources: [deploy.yaml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [base]\nimages:\n- name: registry.example.com/shop/api\n  newName: local/api\n  newTag: dev\n"), 0o644)
	objs, err := loadManifests(dir, "preview-b")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetNamespace() != "preview-b" {
		t.Fatalf("objects %v", objs)
	}
	cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "local/api:dev" {
		t.Errorf("image %v: the kustomization's image override was not applied", img)
	}
}

func TestReady(t *testing.T) {
	obj := func(kind string, spec, status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]any{"name": "x", "generation": int64(2)}, "spec": spec, "status": status}}
		return u
	}
	for _, tc := range []struct {
		name string
		u    *unstructured.Unstructured
		want bool
	}{
		{"deployment rolled out", obj("Deployment", map[string]any{"replicas": int64(2)}, map[string]any{"observedGeneration": int64(2), "readyReplicas": int64(2), "updatedReplicas": int64(2)}), true},
		{"deployment of an old generation", obj("Deployment", map[string]any{"replicas": int64(2)}, map[string]any{"observedGeneration": int64(1), "readyReplicas": int64(2), "updatedReplicas": int64(2)}), false},
		{"deployment half ready", obj("Deployment", map[string]any{"replicas": int64(2)}, map[string]any{"observedGeneration": int64(2), "readyReplicas": int64(1), "updatedReplicas": int64(2)}), false},
		{"deployment default one replica", obj("Deployment", map[string]any{}, map[string]any{"observedGeneration": int64(2), "readyReplicas": int64(1), "updatedReplicas": int64(1)}), true},
		{"job running", obj("Job", map[string]any{}, map[string]any{"active": int64(1)}), false},
		{"job done", obj("Job", map[string]any{}, map[string]any{"succeeded": int64(1)}), true},
		{"daemonset", obj("DaemonSet", map[string]any{}, map[string]any{"observedGeneration": int64(2), "desiredNumberScheduled": int64(1), "numberReady": int64(0)}), false},
		{"configmap", obj("ConfigMap", nil, nil), true},
	} {
		if got, msg := ready(tc.u); got != tc.want {
			t.Errorf("%s: ready = %v (%s), want %v", tc.name, got, msg, tc.want)
		}
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }
