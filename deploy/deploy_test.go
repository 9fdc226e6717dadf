package deploy

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
)

const namespace = "rehearsal"

// ruleFiles lists what the rule loader reads from rules/: every *.yaml or *.yml
// at the top (rule files and their tests), not hidden files, not kustomization.yaml.
func ruleFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../rules")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || n == "kustomization.yaml" || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type kustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources,omitempty"`
	ConfigMapGenerator []struct {
		Name    string   `json:"name"`
		Files   []string `json:"files"`
		Options struct {
			DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
		} `json:"options"`
	} `json:"configMapGenerator,omitempty"`
}

// TestRulesConfigMapListsEveryRuleFile: a rule file missing from the generator
// would silently not reach the cluster.
func TestRulesConfigMapListsEveryRuleFile(t *testing.T) {
	data, err := os.ReadFile("../rules/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("rules/kustomization.yaml: %v", err)
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != argo.RulesConfigMap {
		t.Fatalf("rules/kustomization.yaml: want one configMapGenerator named %s", argo.RulesConfigMap)
	}
	g := k.ConfigMapGenerator[0]
	if !g.Options.DisableNameSuffixHash {
		t.Error("rules/kustomization.yaml: disableNameSuffixHash must be true (templates mount the ConfigMap by name)")
	}
	listed := slices.Sorted(slices.Values(g.Files))
	if want := ruleFiles(t); !slices.Equal(listed, want) {
		t.Errorf("rules/kustomization.yaml lists %q, want every rule file %q", listed, want)
	}
}

// TestBuild builds deploy/ with kustomize and checks every object strictly with
// its Kubernetes or Argo type.
func TestBuild(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatalf("kustomize build deploy: %v", err)
	}
	templates := map[string][]byte{}
	var crons [][]byte
	serviceAccounts := map[string]bool{}
	var roles []rbacv1.Role
	var bindings []rbacv1.RoleBinding
	var rulesCM *corev1.ConfigMap
	var accounts []corev1.ServiceAccount
	var clusterRoles []rbacv1.ClusterRole
	var clusterBindings []rbacv1.ClusterRoleBinding
	var policies []admissionv1.ValidatingAdmissionPolicy
	var policyBindings []admissionv1.ValidatingAdmissionPolicyBinding
	for _, r := range resources.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		id := r.GetKind() + "/" + r.GetName()
		clusterScoped := slices.Contains([]string{"Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}, r.GetKind())
		if !clusterScoped && r.GetNamespace() != namespace {
			t.Errorf("%s: namespace %q, want %q", id, r.GetNamespace(), namespace)
		}
		strict := func(v any) {
			if err := yaml.UnmarshalStrict(data, v); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		switch r.GetKind() {
		case "Namespace":
			strict(&corev1.Namespace{})
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			strict(&sa)
			serviceAccounts[r.GetName()] = true
			accounts = append(accounts, sa)
		case "Secret":
			var sec corev1.Secret
			strict(&sec)
			if sec.Type != corev1.SecretTypeServiceAccountToken || len(sec.Data) > 0 || len(sec.StringData) > 0 {
				t.Errorf("%s: deploy/ ships no secret values, only service-account token requests", id)
			}
		case "Role":
			var role rbacv1.Role
			strict(&role)
			roles = append(roles, role)
		case "RoleBinding":
			var b rbacv1.RoleBinding
			strict(&b)
			bindings = append(bindings, b)
		case "ConfigMap":
			var cm corev1.ConfigMap
			strict(&cm)
			if cm.Name == argo.RulesConfigMap {
				rulesCM = &cm
			}
		case "WorkflowTemplate":
			templates[r.GetName()+".yaml"] = data
		case "CronWorkflow":
			crons = append(crons, data)
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			strict(&cr)
			clusterRoles = append(clusterRoles, cr)
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			strict(&b)
			clusterBindings = append(clusterBindings, b)
		case "ValidatingAdmissionPolicy":
			var p admissionv1.ValidatingAdmissionPolicy
			strict(&p)
			policies = append(policies, p)
		case "ValidatingAdmissionPolicyBinding":
			var b admissionv1.ValidatingAdmissionPolicyBinding
			strict(&b)
			policyBindings = append(policyBindings, b)
		default:
			t.Errorf("%s: unexpected kind", id)
		}
	}

	// The rules ConfigMap carries each rule file byte for byte.
	if rulesCM == nil {
		t.Fatalf("no ConfigMap %s", argo.RulesConfigMap)
	}
	for _, f := range ruleFiles(t) {
		want, err := os.ReadFile(filepath.Join(root, "rules", f))
		if err != nil {
			t.Fatal(err)
		}
		if rulesCM.Data[f] != string(want) {
			t.Errorf("ConfigMap %s: key %s differs from rules/%s", argo.RulesConfigMap, f, f)
		}
	}

	// The WorkflowTemplates as deployed load and pass Argo's validator.
	ts := loadTemplates(t, templates)
	for _, name := range []string{"rehearsal-classify", "rehearsal-coordinate", "rehearsal-env", "rehearsal-env-reap", "rehearsal-gate", "rehearsal-mask", "rehearsal-packet", "rehearsal-plan", "rehearsal-release", "rehearsal-scan"} {
		if _, err := ts.Get(name); err != nil {
			t.Errorf("deploy/ does not install WorkflowTemplate %s", name)
		}
	}

	// Every service account a template runs as exists, and every one of them
	// may report results to Argo.
	executors := map[string]bool{}
	for _, b := range bindings {
		if b.RoleRef.Name != "rehearsal-executor" {
			continue
		}
		for _, s := range b.Subjects {
			executors[s.Name] = true
		}
	}
	for _, name := range ts.Names() {
		wt, _ := ts.Get(name)
		for _, tmpl := range wt.Spec.Templates {
			sa := tmpl.ServiceAccountName
			if tmpl.Suspend != nil || tmpl.Steps != nil || tmpl.DAG != nil {
				continue
			}
			if sa == "" || !serviceAccounts[sa] {
				t.Errorf("WorkflowTemplate %s: template %s runs as %q, which deploy/ does not create", name, tmpl.Name, sa)
			}
			if !executors[sa] {
				t.Errorf("ServiceAccount %q is not bound to rehearsal-executor", sa)
			}
		}
	}

	// Least privilege: the exact rules of each role.
	want := map[string][]string{
		"rehearsal-executor": {"argoproj.io workflowtaskresults create,patch"},
		"rehearsal-gate":     {"argoproj.io workflows get,list"},
		"rehearsal-release":  {"argoproj.io workflows create,get,watch"},
		"rehearsal-approver": {"argoproj.io workflows get,list,watch,update,patch", "argoproj.io workflowtemplates,cronworkflows get,list,watch", " pods,pods/log,events get,list,watch"},
		"rehearsal-viewer":   {"argoproj.io workflows,workflowtemplates,cronworkflows get,list,watch", " pods,pods/log,events get,list,watch"},
	}
	for _, r := range roles {
		var got []string
		for _, pr := range r.Rules {
			got = append(got, strings.Join(pr.APIGroups, ",")+" "+strings.Join(pr.Resources, ",")+" "+strings.Join(pr.Verbs, ","))
		}
		if !slices.Equal(got, want[r.Name]) {
			t.Errorf("Role %s rules = %q, want %q", r.Name, got, want[r.Name])
		}
		delete(want, r.Name)
	}
	for name := range want {
		t.Errorf("deploy/ has no Role %s", name)
	}
	approvalIntegrity(t, roles, bindings, accounts)
	envPrivileges(t, clusterRoles, clusterBindings, policies, policyBindings)

	// The CronWorkflow passes Argo's CronWorkflow validation against the templates.
	if len(crons) == 0 {
		t.Error("deploy/ has no CronWorkflow")
	}
	for _, data := range crons {
		var cw wfv1.CronWorkflow
		if err := yaml.UnmarshalStrict(data, &cw); err != nil {
			t.Errorf("CronWorkflow: %v", err)
			continue
		}
		if err := validate.ValidateCronWorkflow(context.Background(), ts, &templateresolution.NullClusterWorkflowTemplateGetter{}, &cw, nil); err != nil {
			t.Errorf("CronWorkflow %s: %v", cw.Name, err)
		}
	}
}

// approvalIntegrity checks what makes a gate's "Resumed by" record
// trustworthy: no person or group is bound to anything (people reach Argo
// through argo-server's SSO RBAC only), only rehearsal-approver may update
// Workflows, and argo-server maps only the release managers to it.
func approvalIntegrity(t *testing.T, roles []rbacv1.Role, bindings []rbacv1.RoleBinding, accounts []corev1.ServiceAccount) {
	t.Helper()
	writers := map[string]bool{}
	for _, r := range roles {
		for _, pr := range r.Rules {
			if slices.Contains(pr.APIGroups, "argoproj.io") && slices.Contains(pr.Resources, "workflows") &&
				(slices.Contains(pr.Verbs, "update") || slices.Contains(pr.Verbs, "patch") || slices.Contains(pr.Verbs, "*")) {
				writers[r.Name] = true
			}
		}
	}
	if !maps.Equal(writers, map[string]bool{"rehearsal-approver": true}) {
		t.Errorf("Roles that may update or patch Workflows = %v, want only rehearsal-approver", writers)
	}
	for _, b := range bindings {
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind {
				t.Errorf("RoleBinding %s binds %s %q: people must reach Argo through argo-server only", b.Name, s.Kind, s.Name)
			}
			if writers[b.RoleRef.Name] && s.Name != "rehearsal-approver" {
				t.Errorf("RoleBinding %s lets %s update Workflows", b.Name, s.Name)
			}
		}
	}
	rules := map[string]string{}
	for _, sa := range accounts {
		if r, ok := sa.Annotations["workflows.argoproj.io/rbac-rule"]; ok {
			rules[sa.Name] = r
		}
	}
	want := map[string]string{"rehearsal-approver": "'release-managers' in groups", "rehearsal-viewer": "true"}
	if !maps.Equal(rules, want) {
		t.Errorf("SSO RBAC rules = %v, want %v", rules, want)
	}
}

func loadTemplates(t *testing.T, files map[string][]byte) *argo.Templates {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := argo.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Validate(); err != nil {
		t.Fatalf("deployed WorkflowTemplates: %v", err)
	}
	return ts
}

// TestFilesParse: every YAML file in deploy/ is well-formed, document by document.
func TestFilesParse(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var v map[string]any
			if err := yaml.Unmarshal(doc, &v); err != nil || v["kind"] == nil {
				t.Errorf("%s: document %d: %v (kind %v)", f, i+1, err, v["kind"])
			}
		}
	}
}

// TestCatalogConfigMapSource checks the catalog the kustomization ships as the
// rehearsal-catalog ConfigMap is a valid catalog.
func TestCatalogConfigMapSource(t *testing.T) {
	if _, err := catalog.Load("catalog/services.yaml"); err != nil {
		t.Fatalf("deploy/catalog/services.yaml: %v", err)
	}
}

// envPrivileges checks the only cluster-wide rights Rehearsal has: the env
// step's and the reaper's, exactly; the workload role bound by no
// ClusterRoleBinding (the env step binds it inside its environments); and the
// admission policy that keeps both accounts to namespaces labelled as theirs,
// enforced (Deny).
func envPrivileges(t *testing.T, roles []rbacv1.ClusterRole, bindings []rbacv1.ClusterRoleBinding, policies []admissionv1.ValidatingAdmissionPolicy, pbs []admissionv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	want := map[string][]string{
		"rehearsal-env":          {" namespaces get,create,patch ", "rbac.authorization.k8s.io rolebindings get,create,patch ", "rbac.authorization.k8s.io clusterroles bind rehearsal-env-workload"},
		"rehearsal-env-reaper":   {" namespaces get,list,update,delete "},
		"rehearsal-env-workload": nil, // checked below: namespaced resources only, nothing about RBAC
	}
	for _, r := range roles {
		var got []string
		for _, pr := range r.Rules {
			got = append(got, strings.Join(pr.APIGroups, ",")+" "+strings.Join(pr.Resources, ",")+" "+strings.Join(pr.Verbs, ",")+" "+strings.Join(pr.ResourceNames, ","))
			if r.Name == "rehearsal-env-workload" {
				if slices.Contains(pr.APIGroups, "rbac.authorization.k8s.io") || slices.Contains(pr.Resources, "namespaces") || slices.Contains(pr.Verbs, "*") || slices.Contains(pr.Resources, "*") {
					t.Errorf("ClusterRole rehearsal-env-workload grants %v: environments' workloads only", pr)
				}
				if slices.Contains(pr.Resources, "pods") && !slices.Equal(pr.Verbs, []string{"get", "list", "watch"}) {
					t.Errorf("ClusterRole rehearsal-env-workload may %v pods: pods come from the workloads", pr.Verbs)
				}
			}
		}
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected ClusterRole %s", r.Name)
			continue
		}
		if w != nil && !slices.Equal(got, w) {
			t.Errorf("ClusterRole %s rules = %q, want %q", r.Name, got, w)
		}
		delete(want, r.Name)
	}
	for name := range want {
		t.Errorf("deploy/ has no ClusterRole %s", name)
	}
	bound := map[string]string{}
	for _, b := range bindings {
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != rbacv1.ServiceAccountKind || b.Subjects[0].Namespace != namespace {
			t.Errorf("ClusterRoleBinding %s subjects %v, want one ServiceAccount of %s", b.Name, b.Subjects, namespace)
			continue
		}
		bound[b.RoleRef.Name] = b.Subjects[0].Name
	}
	if !maps.Equal(bound, map[string]string{"rehearsal-env": "rehearsal-env", "rehearsal-env-reaper": "rehearsal-env-reaper"}) {
		t.Errorf("cluster-wide bindings = %v, want only rehearsal-env and rehearsal-env-reaper to their own accounts", bound)
	}
	if len(policies) != 1 || len(pbs) != 1 {
		t.Fatalf("%d admission policies and %d bindings, want 1 and 1", len(policies), len(pbs))
	}
	p, pb := policies[0], pbs[0]
	if pb.Spec.PolicyName != p.Name || !slices.Equal(pb.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}) {
		t.Errorf("policy binding %+v does not enforce %s", pb.Spec, p.Name)
	}
	if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionv1.Fail {
		t.Errorf("policy %s does not fail closed", p.Name)
	}
	var conds string
	for _, c := range p.Spec.MatchConditions {
		conds += c.Expression
	}
	for _, sa := range []string{"'rehearsal-env'", "'rehearsal-env-reaper'"} {
		if !strings.Contains(conds, sa) {
			t.Errorf("policy %s does not apply to %s", p.Name, sa)
		}
	}
	if len(p.Spec.Validations) != 2 {
		t.Errorf("policy %s has %d validations, want namespaces and namespaced objects", p.Name, len(p.Spec.Validations))
	}
}
