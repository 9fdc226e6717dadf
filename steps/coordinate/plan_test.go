package coordinate

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const testCatalog = `groups:
  team-api: [alice, bob, carol]
  team-web: [dave]
  release: [frank]
services:
  - {name: api, owners: [team-api], tier: critical, paths: ["services/api/**"]}
  - {name: web, owners: [team-web], tier: standard, paths: ["services/web/**"]}
`

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse("services.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ruleSet writes route and gate rules (each item a rule's YAML body) into a
// temporary rules directory and loads it.
func ruleSet(t *testing.T, route, gates []string) *rules.Set {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, items []string) {
		text := "apiVersion: rehearsal.dev/v1\nkind: " + kind + "\nrules:"
		if len(items) == 0 {
			text += " []"
		}
		for _, it := range items {
			text += "\n  - " + strings.ReplaceAll(strings.TrimSpace(it), "\n", "\n    ")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("route.yaml", "route", route)
	write("gates.yaml", "gates", gates)
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatalf("load rules: %v", err)
	}
	return set
}

func route(id, node string) string {
	return "id: " + id + "\ndescription: d\nwhen: \"true\"\neffect:\n  node: " + node
}

func gate(id, g string) string {
	return "id: " + id + "\ndescription: d\nwhen: \"true\"\neffect:\n  gate: " + g
}

func apiChange(author string) *workspace.Change {
	return &workspace.Change{
		Author: author, Risk: "critical", Classes: []string{"db-migration"},
		Services: []workspace.Service{{Name: "api", Owners: []string{"team-api"}, Tier: "critical"}},
		Facts:    map[string]string{},
	}
}

var allSteps = []string{"gate", "mask", "packet", "plan", "scan"}

type node struct {
	ID, Step  string
	DependsOn []string
	Rules     []string
}

func summary(g *workspace.Graph) []node {
	var out []node
	for _, n := range g.Nodes {
		out = append(out, node{n.ID, n.Step, n.DependsOn, n.Rules})
	}
	return out
}

func TestPlanPlacement(t *testing.T) {
	tests := []struct {
		name  string
		route []string
		gates []string
		want  []node
	}{
		{
			name: "no rules fire: no nodes",
		},
		{
			name:  "gate before routed nodes, promotion gate after all",
			route: []string{route("route.mask", "{id: mask, step: mask}"), route("route.plan", "{id: plan, step: plan, dependsOn: [mask]}"), route("route.scan", "{id: scan, step: scan}")},
			gates: []string{
				gate("gate.migration", "{name: migration, tier: critical, owners: true, before: [mask, plan, absent]}"),
				gate("gate.promote", "{name: promote, tier: high, owners: true}"),
			},
			want: []node{
				{"gate-migration", "gate", []string{}, []string{"gate.migration"}},
				{"mask", "mask", []string{"gate-migration"}, []string{"route.mask"}},
				{"plan", "plan", []string{"gate-migration", "mask"}, []string{"route.plan"}},
				{"scan", "scan", []string{}, []string{"route.scan"}},
				{"gate-promote", "gate", []string{"mask", "plan", "scan"}, []string{"gate.promote"}},
			},
		},
		{
			name:  "gate after a node; two rules on one node",
			route: []string{route("route.scan", "{id: scan, step: scan}"), route("route.scan-again", "{id: scan, step: scan}"), route("route.plan", "{id: plan, step: plan}")},
			gates: []string{gate("gate.sec", "{name: sec, tier: high, owners: true, after: [scan], before: [plan]}")},
			want: []node{
				{"scan", "scan", []string{}, []string{"route.scan", "route.scan-again"}},
				{"gate-sec", "gate", []string{"scan"}, []string{"gate.sec"}},
				{"plan", "plan", []string{"gate-sec"}, []string{"route.plan"}},
			},
		},
		{
			name:  "a gate whose before nodes are not routed has no dependencies",
			gates: []string{gate("gate.migration", "{name: migration, tier: critical, owners: true, before: [mask]}")},
			want:  []node{{"gate-migration", "gate", []string{}, []string{"gate.migration"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Plan(apiChange("alice"), loadCatalog(t), ruleSet(t, tc.route, tc.gates), allSteps)
			if err != nil {
				t.Fatalf("Plan(%q) = %v", tc.name, err)
			}
			if got := summary(g); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan(%q) = %+v, want %+v", tc.name, got, tc.want)
			}
		})
	}
}

func TestPlanGatePolicy(t *testing.T) {
	tests := []struct {
		name string
		gate string
		want workspace.Gate
	}{
		{"critical defaults to two approvers", "{name: g, tier: critical, owners: true, notAuthor: true, timeout: 1h}",
			workspace.Gate{Name: "g", Tier: "critical", Policy: "two-person", Groups: []string{"team-api"}, Approvers: 2, NotAuthor: true, Timeout: "1h"}},
		{"high defaults to one approver", "{name: g, tier: high, owners: true}",
			workspace.Gate{Name: "g", Tier: "high", Policy: "ack", Groups: []string{"team-api"}, Approvers: 1}},
		{"owners and explicit groups, sorted", "{name: g, tier: medium, owners: true, groups: [release], approvers: 2}",
			workspace.Gate{Name: "g", Tier: "medium", Policy: "two-person", Groups: []string{"release", "team-api"}, Approvers: 2}},
		{"explicit groups only", "{name: g, tier: high, groups: [team-web]}",
			workspace.Gate{Name: "g", Tier: "high", Policy: "ack", Groups: []string{"team-web"}, Approvers: 1}},
		{"policy approve: one approver, not the author", "{name: g, tier: high, policy: approve, owners: true}",
			workspace.Gate{Name: "g", Tier: "high", Policy: "approve", Groups: []string{"team-api"}, Approvers: 1, NotAuthor: true}},
		{"policy two-person with remediation", "{name: g, tier: critical, policy: two-person, owners: true, remediation: [{id: fix, task: fix it, owners: true}]}",
			workspace.Gate{Name: "g", Tier: "critical", Policy: "two-person", Groups: []string{"team-api"}, Approvers: 2, NotAuthor: true,
				Remediation: []workspace.Remediation{{ID: "fix", Task: "fix it", Owners: true}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Plan(apiChange("alice"), loadCatalog(t), ruleSet(t, nil, []string{gate("gate.g", tc.gate)}), allSteps)
			if err != nil {
				t.Fatalf("Plan = %v", err)
			}
			if len(g.Nodes) != 1 || g.Nodes[0].Gate == nil {
				t.Fatalf("Plan = %+v, want one gate node", g.Nodes)
			}
			if got := *g.Nodes[0].Gate; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan(%q) gate = %+v, want %+v", tc.gate, got, tc.want)
			}
		})
	}
}

func TestPlanInvalid(t *testing.T) {
	tests := []struct {
		name   string
		author string
		route  []string
		gates  []string
		steps  []string
		want   []string // each a whole problem line; POS(id) stands for the rule's file:line:col
	}{
		{
			name: "too few eligible approvers", author: "alice",
			gates: []string{gate("gate.g", "{name: g, tier: high, groups: [release], approvers: 2, notAuthor: true}")},
			want:  []string{`rule gate.g (POS(gate.g)) requires gate "g" with 2 approver(s) from release, but only frank may approve (author "alice" excluded: true)`},
		},
		{
			name: "the author is the only member", author: "frank",
			gates: []string{gate("gate.g", "{name: g, tier: high, groups: [release], notAuthor: true}")},
			want:  []string{`rule gate.g (POS(gate.g)) requires gate "g" with 1 approver(s) from release, but nobody may approve (author "frank" excluded: true)`},
		},
		{
			name: "gate step without a template", author: "alice",
			gates: []string{gate("gate.g", "{name: g, tier: high, owners: true}")},
			steps: []string{"scan"},
			want:  []string{`rule gate.g (POS(gate.g)) requires gate "g", but step "gate" has no WorkflowTemplate`},
		},
		{
			name: "a routed node takes a gate's id", author: "alice",
			route: []string{route("route.x", "{id: gate-g, step: scan}")},
			gates: []string{gate("gate.g", "{name: g, tier: high, owners: true}")},
			want:  []string{`rule route.x (POS(route.x)) and rule gate.g (POS(gate.g)) both add node "gate-g"`},
		},
		{
			name: "ids that become the same task", author: "alice",
			route: []string{route("route.a", "{id: a.b, step: scan}"), route("route.b", "{id: a-b, step: scan}")},
			want:  []string{`rule route.a (POS(route.a)) and rule route.b (POS(route.b)) add nodes "a.b" and "a-b", which both become Argo task "a-b"`},
		},
		{
			name: "self dependency", author: "alice",
			route: []string{route("route.a", "{id: a, step: scan, dependsOn: [a]}")},
			want:  []string{`rule route.a (POS(route.a)) makes node "a" depend on itself`},
		},
		{
			name: "three-node cycle", author: "alice",
			route: []string{route("route.a", "{id: a, step: scan, dependsOn: [c]}"), route("route.b", "{id: b, step: scan, dependsOn: [a]}"), route("route.c", "{id: c, step: scan, dependsOn: [b]}"), route("route.d", "{id: d, step: scan}")},
			want:  []string{`rules route.a (POS(route.a)), route.b (POS(route.b)), route.c (POS(route.c)) make a cycle: a → c → b → a`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := ruleSet(t, tc.route, tc.gates)
			steps := tc.steps
			if steps == nil {
				steps = allSteps
			}
			g, err := Plan(apiChange(tc.author), loadCatalog(t), set, steps)
			if err == nil {
				t.Fatalf("Plan(%q) = %+v, want an error", tc.name, g)
			}
			if exitcode.Code(err) != exitcode.BadInput {
				t.Errorf("Plan(%q) exit code = %d, want 2", tc.name, exitcode.Code(err))
			}
			for _, w := range tc.want {
				for _, f := range set.Files {
					for _, r := range f.Rules {
						w = strings.ReplaceAll(w, "POS("+r.ID+")", r.Pos())
					}
				}
				if !strings.Contains(err.Error(), "\n  "+w) {
					t.Errorf("Plan(%q) = %v\nwant the problem\n  %s", tc.name, err, w)
				}
			}
		})
	}
}

func TestRunRefusesInvalidWorkflowAndWritesNothing(t *testing.T) {
	// A gate node whose template needs an input nobody gives: Run refuses it.
	ws := t.TempDir()
	if err := workspace.WriteJSON(ws, workspace.ChangeFile, apiChange("alice")); err != nil {
		t.Fatal(err)
	}
	set := ruleSet(t, []string{route("route.classify", "{id: again, step: classify}")}, nil)
	_, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: loadCatalog(t)})
	if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), `adds node "again" without parameter "base", which template rehearsal-classify requires`) {
		t.Fatalf("Run = %v, want exit 2 naming the missing parameter", err)
	}
	for _, f := range []string{workspace.GraphFile, workspace.WorkflowFile} {
		if _, err := os.Stat(filepath.Join(ws, f)); err == nil {
			t.Errorf("%s written for a refused graph", f)
		}
	}
}

func TestOutputParams(t *testing.T) {
	got := Output{Nodes: 3, Gates: []string{"migration", "promote"}, Risk: "high"}.Params()
	want := map[string]string{"nodes": "3", "gates": "migration,promote", "risk": "high"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Params() = %v, want %v", got, want)
	}
}

func TestAutoGateIsRecordedWithoutANode(t *testing.T) {
	g, err := Plan(apiChange("alice"), loadCatalog(t), ruleSet(t, nil, []string{gate("gate.g", "{name: promote, tier: low, policy: auto}")}), allSteps)
	if err != nil {
		t.Fatalf("Plan = %v", err)
	}
	if len(g.Nodes) != 0 {
		t.Errorf("Plan nodes = %+v, want none: an auto gate stops nobody", g.Nodes)
	}
	want := []workspace.AutoGate{{Name: "promote", Tier: "low", Rules: []string{"gate.g"}}}
	if !reflect.DeepEqual(g.Auto, want) {
		t.Errorf("Plan auto = %+v, want %+v", g.Auto, want)
	}
}
