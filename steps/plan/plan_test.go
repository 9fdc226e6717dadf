package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	shopCatalog = "testdata/shop/services.yaml"
	shopChange  = "testdata/shop/change.json"
	shopRepo    = "testdata/shop/repo"
	shopGolden  = "testdata/shop/golden"
	shippedDir  = "../../rules"
	// digestPlaceholder stands for the shipped rules' digest in golden files.
	digestPlaceholder = "sha256:<rules-digest>"
)

func load(t testing.TB, rulesDir, cat string) (*rules.Set, *catalog.Catalog) {
	t.Helper()
	set, err := rules.Load(rulesDir)
	if err != nil {
		t.Fatalf("rules.Load(%s) = %v", rulesDir, err)
	}
	c, err := catalog.Load(cat)
	if err != nil {
		t.Fatalf("catalog.Load(%s) = %v", cat, err)
	}
	return set, c
}

// workspaceWith returns a fresh workspace holding the given change.json.
func workspaceWith(t testing.TB, change string) string {
	t.Helper()
	ws := t.TempDir()
	b, err := os.ReadFile(change)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, workspace.ChangeFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

// tree returns every file under dir by slash path.
func tree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	for rel, b := range tree(t, from) {
		p := filepath.Join(to, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runShop(t testing.TB) (string, Output) {
	t.Helper()
	set, cat := load(t, shippedDir, shopCatalog)
	ws := workspaceWith(t, shopChange)
	out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: cat, Manifests: shopRepo})
	if err != nil {
		t.Fatalf("Run(shop) = %v", err)
	}
	return ws, out
}

// TestGolden plans the four-service shop (a destructive migration, a
// feature-flagged change of a critical service, a critical high-traffic
// service and a StatefulSet) with the shipped rules and compares plan.json,
// runbook.md and rollouts/ with the golden files (-update rewrites them).
func TestGolden(t *testing.T) {
	ws, _ := runShop(t)
	got := tree(t, ws)
	delete(got, workspace.ChangeFile)
	// The rules digest changes with any rule file; the golden files hold a
	// placeholder and the digest itself is checked here.
	set, _ := load(t, shippedDir, shopCatalog)
	if !bytes.Contains(got[workspace.PlanFile], []byte(`"rulesDigest": "`+set.Digest+`"`)) {
		t.Errorf("plan.json does not carry the rules digest %s", set.Digest)
	}
	for rel, b := range got {
		got[rel] = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(set.Digest), []byte(digestPlaceholder)), []byte(set.Digest[:19]), []byte(digestPlaceholder))
	}
	if *update {
		os.RemoveAll(shopGolden)
		for rel, b := range got {
			p := filepath.Join(shopGolden, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := tree(t, shopGolden)
	for rel, w := range want {
		if g, ok := got[rel]; !ok {
			t.Errorf("Run(shop) did not write %s", rel)
		} else if !bytes.Equal(g, w) {
			t.Errorf("Run(shop) %s differs from %s/%s (go test ./steps/plan -run Golden -update):\n%s", rel, shopGolden, rel, g)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("Run(shop) wrote %s, which has no golden file", rel)
		}
	}
}

// TestPlanContract checks the fixed interface on the shop plan: actions,
// order, expand/contract around the deploy, the critical services' strategy,
// flag states, rollback in reverse, and a rule id on every decision.
func TestPlanContract(t *testing.T) {
	ws, out := runShop(t)
	var p workspace.Plan
	if err := workspace.ReadJSON(ws, workspace.PlanFile, &p); err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, s := range p.Steps {
		index[s.ID] = i
		if !slices.Contains([]string{"migrate", "deploy", "flag", "verify", "contract"}, s.Action) {
			t.Errorf("step %s: action %q is not one of migrate|deploy|flag|verify|contract", s.ID, s.Action)
		}
		if len(s.Rules) == 0 || slices.Contains(s.Rules, "") {
			t.Errorf("step %s carries no rule id: %q", s.ID, s.Rules)
		}
		for _, a := range s.After {
			if j, ok := index[a]; !ok || j >= i {
				t.Errorf("step %s waits for %s, which does not come before it", s.ID, a)
			}
		}
	}
	before := func(a, b string) {
		t.Helper()
		ia, oka := index[a]
		ib, okb := index[b]
		if !oka || !okb || ia >= ib {
			t.Errorf("Plan(shop): %s (at %d, present %v) should come before %s (at %d, present %v)", a, ia, oka, b, ib, okb)
		}
	}
	// topology: ledger ← orders ← api ← web (catalog plus manifest edges)
	before("verify-ledger", "deploy-orders")
	before("verify-orders", "deploy-api")
	before("verify-api", "deploy-web")
	// the destructive migration is split around the deploy
	before("migrate-orders", "deploy-orders")
	before("verify-orders", "contract-orders")
	before("verify-api", "flag-api-new-checkout")
	if c := p.Steps[index["contract-orders"]]; !c.Gated || c.Action != "contract" || !strings.Contains(strings.Join(c.Statements, "\n"), "DROP COLUMN status_text") {
		t.Errorf("contract-orders = %+v, want a gated contract step with the DROP COLUMN", c)
	}
	if m := p.Steps[index["migrate-orders"]]; strings.Contains(strings.Join(m.Statements, "\n"), "DROP") {
		t.Errorf("migrate-orders (expand) runs a destructive statement: %q", m.Statements)
	}
	if !slices.Equal(out.Gated, []string{"contract-orders"}) {
		t.Errorf("Output.Gated = %q, want [contract-orders]", out.Gated)
	}
	for _, s := range p.Services {
		if s.StrategyRule == "" {
			t.Errorf("service %s: strategy %s carries no rule id", s.Name, s.Strategy)
		}
		if s.Tier == "critical" && s.Strategy != "canary" && s.Strategy != "blueGreen" {
			t.Errorf("critical service %s gets %s, want canary or blueGreen", s.Name, s.Strategy)
		}
		for _, a := range s.Alerts {
			if a.Rule == "" || a.Query == "" {
				t.Errorf("service %s: alert %+v lacks its rule or query", s.Name, a)
			}
		}
	}
	flags := p.Services[slices.IndexFunc(p.Services, func(s workspace.PlannedService) bool { return s.Name == "api" })].Flags
	if len(flags) != 1 || flags[0] != (workspace.FlagPlan{Name: "new-checkout", During: "off", After: "on", Fallback: "off", Rule: "plan.flags.dark-launch"}) {
		t.Errorf("api flags = %+v, want new-checkout off during, on after, fallback off", flags)
	}
	// rollback: reverse order, each forward deploy/flag/migrate undone once
	var reverted []string
	for _, r := range p.Rollback {
		reverted = append(reverted, r.Reverts)
	}
	var want []string
	for i := len(p.Steps) - 1; i >= 0; i-- {
		if a := p.Steps[i].Action; a == "deploy" || a == "flag" || a == "migrate" {
			want = append(want, p.Steps[i].ID)
		}
	}
	if !slices.Equal(reverted, want) {
		t.Errorf("rollback reverts %q, want %q (forward order reversed)", reverted, want)
	}
}

// TestDeterministic: the same inputs give byte-identical files, in a fresh
// workspace and when planning again in the same one.
func TestDeterministic(t *testing.T) {
	ws1, _ := runShop(t)
	ws2, _ := runShop(t)
	a, b := tree(t, ws1), tree(t, ws2)
	if len(a) != len(b) {
		t.Fatalf("Run(shop) wrote %d and %d files", len(a), len(b))
	}
	for rel := range a {
		if !bytes.Equal(a[rel], b[rel]) {
			t.Errorf("Run(shop) %s differs between two runs", rel)
		}
	}
	set, cat := load(t, shippedDir, shopCatalog)
	if _, err := Run(context.Background(), Input{Workspace: ws1, Rules: set, Catalog: cat, Manifests: shopRepo}); err != nil {
		t.Fatal(err)
	}
	for rel, c := range tree(t, ws1) {
		if !bytes.Equal(c, b[rel]) {
			t.Errorf("Run(shop) again in the same workspace changed %s", rel)
		}
	}
}

// TestMissingProbeIsAdvisory: a container without a readinessProbe does not
// stop the plan; the plan states it, located at the container.
func TestMissingProbeIsAdvisory(t *testing.T) {
	ws, out := runShop(t)
	var p workspace.Plan
	if err := workspace.ReadJSON(ws, workspace.PlanFile, &p); err != nil {
		t.Fatal(err)
	}
	want := workspace.Advisory{Service: "orders", Source: "deploy/orders/deployment.yaml:14:11"}
	found := false
	for _, a := range p.Advisories {
		if a.Service == want.Service && a.Source == want.Source && strings.Contains(a.Message, "no readinessProbe") {
			found = true
		}
	}
	if !found || out.Advisories != len(p.Advisories) {
		t.Errorf("Plan(shop).Advisories = %+v (output says %d), want the missing readinessProbe of orders at %s", p.Advisories, out.Advisories, want.Source)
	}
	rb, _ := os.ReadFile(filepath.Join(ws, workspace.RunbookFile))
	if !strings.Contains(string(rb), "## Advisories") || !strings.Contains(string(rb), "no readinessProbe") {
		t.Errorf("runbook.md does not state the missing probe:\n%s", rb)
	}
}

// TestBadInput: each bad input is exit 2 with a clear, located message, and
// nothing is written to the workspace.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, repo, cat, rulesDir string) // change copies of the fixture
		want []string
	}{
		{
			name: "dependency cycle",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, cat, "    manifests: [\"deploy/ledger/**\"]\n", "    manifests: [\"deploy/ledger/**\"]\n    dependsOn: [api]\n")
			},
			want: []string{"dependency cycle api → orders → ledger → api", "orders → ledger (deploy/orders/deployment.yaml:25:15)", "ledger → api (catalog)"},
		},
		{
			name: "manifest referencing an unknown service",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, filepath.Join(repo, "deploy/orders/deployment.yaml"), "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  PAYMENTS_ADDR: payments:7000\n")
			},
			want: []string{"deploy/orders/deployment.yaml:27:18: ConfigMap orders-config key PAYMENTS_ADDR of service \"orders\" refers to \"payments\", which is neither a catalog service nor a Kubernetes Service"},
		},
		{
			name: "blue-green for a StatefulSet",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, filepath.Join(rulesDir, "plan.yaml"), "  - id: plan.strategy.stateful-rolling\n", "  - id: plan.strategy.all-blue-green\n    description: everything blue-green\n    when: \"true\"\n    effect: {strategy: blueGreen}\n  - id: plan.strategy.stateful-rolling\n")
			},
			want: []string{"rule plan.strategy.all-blue-green (", "plan.yaml:12:5) chooses blueGreen for service ledger, but its workload is a StatefulSet (deploy/ledger/statefulset.yaml:1): Argo Rollouts manages Deployments only"},
		},
		{
			name: "unparseable manifest",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, filepath.Join(repo, "deploy/api/service.yaml"), "  selector: {app: api}\n", "  selector: {app: api\n")
			},
			want: []string{"deploy/api/service.yaml:5:1: not a Kubernetes manifest: did not find expected ',' or '}'"},
		},
		{
			name: "manifest of the wrong shape",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, filepath.Join(repo, "deploy/api/deployment.yaml"), "  replicas: 3\n", "  replicas: three\n")
			},
			want: []string{"deploy/api/deployment.yaml:6:13: Deployment: json: cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32"},
		},
		{
			name: "change names a service the catalog does not have",
			edit: func(t *testing.T, repo, cat, rulesDir string) {
				replace(t, cat, "  - name: ledger\n", "  - name: journal\n")
			},
			want: []string{`change.json names service "ledger", which is not in the catalog`},
		},
		{
			name: "manifests directory missing",
			edit: func(t *testing.T, repo, cat, rulesDir string) { os.RemoveAll(repo) },
			want: []string{"manifests ", ": not a directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			repo, cat, rulesDir := filepath.Join(dir, "repo"), filepath.Join(dir, "services.yaml"), filepath.Join(dir, "rules")
			copyTree(t, shopRepo, repo)
			copyTree(t, shippedDir, rulesDir)
			os.RemoveAll(filepath.Join(rulesDir, "schema"))
			b, _ := os.ReadFile(shopCatalog)
			os.WriteFile(cat, b, 0o644)
			tt.edit(t, repo, cat, rulesDir)
			set, c := load(t, rulesDir, cat)
			ws := workspaceWith(t, shopChange)
			_, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: c, Manifests: repo})
			if code := exitcode.Code(err); code != exitcode.BadInput {
				t.Fatalf("Run(%s) = %v (exit %d), want exit 2", tt.name, err, code)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run(%s) error =\n%v\nwant it to contain\n%s", tt.name, err, w)
				}
			}
			if files := tree(t, ws); len(files) != 1 {
				t.Errorf("Run(%s) left %d files in the workspace, want only change.json", tt.name, len(files))
			}
		})
	}
}

func replace(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDocsOnlyPlansNothing: a change that deploys nothing gets an empty plan
// and no rollouts, and a stale rollout from an earlier plan is removed.
func TestDocsOnlyPlansNothing(t *testing.T) {
	set, cat := load(t, shippedDir, shopCatalog)
	ws := t.TempDir()
	c := workspace.Change{Classes: []string{"docs"}, Risk: "low", Services: []workspace.Service{{Name: "api", Owners: []string{"team-api"}, Tier: "critical"}}}
	if err := workspace.WriteJSON(ws, workspace.ChangeFile, c); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(ws, "rollouts", "api.yaml")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("old"), 0o644)
	out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: cat, Manifests: shopRepo})
	if err != nil {
		t.Fatal(err)
	}
	if out.Steps != 0 || out.Services != 0 || len(out.Rollouts) != 0 {
		t.Errorf("Run(docs) = %+v, want no steps, services or rollouts", out)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("Run(docs) kept the stale %s", stale)
	}
	rb, _ := os.ReadFile(filepath.Join(ws, workspace.RunbookFile))
	if !strings.Contains(string(rb), "Nothing to deploy") {
		t.Errorf("runbook.md = %s, want it to say there is nothing to deploy", rb)
	}
}

// TestWithoutManifests plans from the catalog alone: each service is assumed
// to be a Deployment, and the plan says so.
func TestWithoutManifests(t *testing.T) {
	set, cat := load(t, shippedDir, shopCatalog)
	ws := workspaceWith(t, shopChange)
	out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: cat})
	if err != nil {
		t.Fatalf("Run(no manifests) = %v", err)
	}
	if out.Advisories != 4 {
		t.Errorf("Run(no manifests).Advisories = %d, want 4 (one per service: no workload found)", out.Advisories)
	}
}

func TestClusterHost(t *testing.T) {
	tests := []struct {
		key, value string
		want       []string
	}{
		{"API_URL", "http://api:8080", []string{"api"}},
		{"API_URL", "http://api.shop.svc.cluster.local:8080/v1", []string{"api"}},
		{"ORDERS", "grpc://orders.shop.svc:9000", []string{"orders"}},
		{"ORDERS_HOST", "orders:9000", []string{"orders"}},
		{"LEDGER_ADDR", "ledger", []string{"ledger"}},
		{"CDN_URL", "https://cdn.example.com/x", nil},
		{"DB_URL", "mysql://user@10.0.0.7:3306/db", nil},
		{"LOG_LEVEL", "info", nil},
		{"CALLBACK_URL", "http://localhost:8080", nil},
		{"PEERS", "http://a:1,http://b:2", []string{"a", "b"}},
	}
	for _, tt := range tests {
		m := &Manifests{}
		m.scan("f.yaml", "svc", "env "+tt.key, tt.key, scalarNode(tt.value))
		var got []string
		for _, r := range m.refs {
			got = append(got, r.Host)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("scan(%s=%s) = %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
}

func scalarNode(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Line: 1, Column: 1}
}

// TestYAMLToJSON: the direct conversion gives what decoding into any and
// marshalling gives, and falls back to that for what it does not convert.
func TestYAMLToJSON(t *testing.T) {
	for _, src := range []string{
		"a: 1\nb: [true, null, 2.5, -3]\nc: {d: \"x\\ty\", e: 'q\"z'}\nf: ~\ng: 0x1F\nh: 1e3\n",
		"base: &b {x: 1}\nuse: *b\n",
		"m: &m {x: 1}\nn:\n  <<: *m\n  y: 2\n",
		"t: 2024-01-02\nu: yes\nv: \"\\u0001\"\n",
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		got, err := yamlToJSON(&doc)
		if err != nil {
			t.Fatalf("yamlToJSON(%q) = %v", src, err)
		}
		var v any
		doc.Decode(&v)
		want, _ := json.Marshal(v)
		var g, w any
		json.Unmarshal(got, &g)
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("yamlToJSON(%q) = %s, want %s", src, got, want)
		}
	}
}

func TestJSONToTree(t *testing.T) {
	for _, src := range []string{
		`{"a":1,"b":[true,false,null,-2.5e3],"c":{"d":"x\"y\\u0001é"},"e":{},"f":[]}`,
		`"s"`, `[]`, `{"k":{"k":{"k":[{"z":0}]}}}`,
	} {
		got, err := jsonToTree([]byte(src))
		if err != nil {
			t.Fatalf("jsonToTree(%s) = %v", src, err)
		}
		dec := json.NewDecoder(strings.NewReader(src))
		dec.UseNumber()
		var want any
		dec.Decode(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("jsonToTree(%s) = %#v, want %#v", src, got, want)
		}
	}
	for _, bad := range []string{`{"a":}`, `[1,`, `{"a" 1}`, `tru`, `"open`, `{} x`} {
		if _, err := jsonToTree([]byte(bad)); err == nil {
			t.Errorf("jsonToTree(%s) = nil error, want one", bad)
		}
	}
}

// TestMarshalIndentedMatchesWorkspace: plan.json has the bytes
// workspace.Marshal would give, for the shop plan and odd values.
func TestMarshalIndentedMatchesWorkspace(t *testing.T) {
	ws, _ := runShop(t)
	var p workspace.Plan
	if err := workspace.ReadJSON(ws, workspace.PlanFile, &p); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{p, map[string]any{"a": []any{}, "b": map[string]any{}, "c": `x"y{}[],:<>&`, "d": []any{1, "2", nil, true}}, []string{}} {
		got, err := marshalIndented(v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := workspace.Marshal(v)
		if !bytes.Equal(got, want) {
			t.Errorf("marshalIndented(%T) =\n%s\nwant\n%s", v, got, want)
		}
	}
}
