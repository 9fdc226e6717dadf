// Package coordinate turns a classified change into the run's graph: it
// evaluates the route and gate rules on change.json, places approval gates,
// refuses a graph that cannot run (naming the rules that produced it), and
// renders graph.json and workflow.yaml, the child Argo Workflow, validated with
// Argo's own validator.
package coordinate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// GateStep is the step every gate node runs.
const GateStep = "gate"

// GatePrefix starts every gate node's id: gate "migration" is node "gate-migration".
const GatePrefix = "gate-"

// planned is a node under construction with the rules behind it.
type planned struct {
	node  workspace.Node
	rules []*rules.Rule
}

// Invalid is the error Plan returns for a graph that cannot run: every problem,
// each naming the rules and their file:line:col. Its exit code is 2.
type Invalid struct{ Problems []string }

func (e *Invalid) Error() string { return "invalid graph:\n  " + strings.Join(e.Problems, "\n  ") }

// Plan evaluates the route and gate rules of set on change and returns the
// graph: routed nodes plus one node per required gate, in topological order with
// ties broken by id. steps are the steps that have a WorkflowTemplate. Plan is
// pure: the same arguments always give the same graph.
func Plan(change *workspace.Change, cat *catalog.Catalog, set *rules.Set, steps []string) (*workspace.Graph, error) {
	routed, _, err := set.ApplyRoute(change)
	if err != nil {
		return nil, exitcode.Input(fmt.Errorf("route: %w", err))
	}
	required, _, err := set.ApplyGates(change)
	if err != nil {
		return nil, exitcode.Input(fmt.Errorf("gates: %w", err))
	}
	var problems []string
	var nodes []*planned
	byID := map[string]*planned{}
	add := func(p *planned) {
		if prev, ok := byID[p.node.ID]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s both add node %q", refs(prev.rules), refs(p.rules), p.node.ID))
			return
		}
		byID[p.node.ID] = p
		nodes = append(nodes, p)
	}
	for _, r := range routed {
		n := workspace.Node{
			ID: r.ID, Step: r.Step, Parameters: maps.Clone(r.Parameters),
			DependsOn: sortedUnique(r.DependsOn), Rules: ids(r.Rules),
		}
		add(&planned{node: n, rules: r.Rules})
	}
	var gates []*planned
	var auto []workspace.AutoGate
	for _, rq := range required {
		if rq.Policy == workspace.PolicyAuto {
			auto = append(auto, workspace.AutoGate{Name: rq.Name, Tier: rq.Tier, Rules: ids(rq.Rules)})
			continue
		}
		g := &workspace.Gate{
			Name: rq.Name, Tier: rq.Tier, Policy: rq.Policy, Groups: gateGroups(change, rq),
			Approvers: max(rq.Approvers, 1), NotAuthor: rq.NotAuthor, Timeout: rq.Timeout,
			Remediation: rq.Remediation,
		}
		p := &planned{node: workspace.Node{ID: GatePrefix + rq.Name, Step: GateStep, DependsOn: []string{}, Gate: g, Rules: ids(rq.Rules)}, rules: rq.Rules}
		gates = append(gates, p)
		add(p)
	}
	// Placement: a gate precedes its `before` nodes and follows its `after` nodes
	// (those that were routed); a gate with neither follows every routed node.
	for i, p := range gates {
		rq := required[i]
		if len(rq.Before) == 0 && len(rq.After) == 0 {
			for _, r := range routed {
				p.node.DependsOn = append(p.node.DependsOn, r.ID)
			}
		}
		for _, b := range rq.Before {
			if n, ok := byID[b]; ok && n.node.Gate == nil {
				n.node.DependsOn = sortedUnique(append(n.node.DependsOn, p.node.ID))
			}
		}
		for _, a := range rq.After {
			if n, ok := byID[a]; ok && n.node.Gate == nil {
				p.node.DependsOn = append(p.node.DependsOn, a)
			}
		}
		p.node.DependsOn = sortedUnique(p.node.DependsOn)
	}
	problems = append(problems, check(nodes, byID, change, cat, steps)...)
	if len(problems) == 0 {
		var cycle []string
		nodes, cycle = topo(nodes, byID)
		if cycle != nil {
			var rs []*rules.Rule
			for _, id := range cycle[:len(cycle)-1] {
				rs = append(rs, byID[id].rules...)
			}
			problems = append(problems, fmt.Sprintf("%s make a cycle: %s", refs(uniqueRules(rs)), strings.Join(cycle, " → ")))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, exitcode.Input(&Invalid{Problems: problems})
	}
	g := &workspace.Graph{RulesDigest: set.Digest, ChangeRisk: change.Risk, Nodes: []workspace.Node{}, Auto: auto}
	for _, p := range nodes {
		g.Nodes = append(g.Nodes, p.node)
	}
	return g, nil
}

// check reports every reason the nodes cannot run.
func check(nodes []*planned, byID map[string]*planned, change *workspace.Change, cat *catalog.Catalog, steps []string) []string {
	var problems []string
	tasks := map[string]*planned{}
	for _, p := range nodes {
		n := p.node
		if prev, ok := tasks[argo.TaskName(n.ID)]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s add nodes %q and %q, which both become Argo task %q", refs(prev.rules), refs(p.rules), prev.node.ID, n.ID, argo.TaskName(n.ID)))
		}
		tasks[argo.TaskName(n.ID)] = p
		if !slices.Contains(steps, n.Step) {
			if n.Gate != nil {
				problems = append(problems, fmt.Sprintf("%s requires gate %q, but step %q has no WorkflowTemplate", refs(p.rules), n.Gate.Name, n.Step))
			} else {
				problems = append(problems, fmt.Sprintf("%s adds node %q with step %q, which has no WorkflowTemplate", refs(p.rules), n.ID, n.Step))
			}
		}
		for _, d := range n.DependsOn {
			if _, ok := byID[d]; !ok {
				problems = append(problems, fmt.Sprintf("%s makes node %q depend on %q, which no rule adds", refs(p.rules), n.ID, d))
			} else if d == n.ID {
				problems = append(problems, fmt.Sprintf("%s makes node %q depend on itself", refs(p.rules), n.ID))
			}
		}
		if n.Gate != nil {
			problems = append(problems, checkGate(p, change, cat)...)
		}
	}
	return problems
}

// checkGate reports groups the catalog does not have and a gate nobody may pass.
func checkGate(p *planned, change *workspace.Change, cat *catalog.Catalog) []string {
	g := p.node.Gate
	var problems []string
	if len(g.Groups) == 0 {
		return []string{fmt.Sprintf("%s requires gate %q owned by the affected services' owners, but no affected service has owners", refs(p.rules), g.Name)}
	}
	eligible := map[string]bool{}
	for _, grp := range g.Groups {
		members, ok := cat.Groups[grp]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s requires gate %q approved by group %q, which is not in the catalog", refs(p.rules), g.Name, grp))
			continue
		}
		for _, m := range members {
			if g.NotAuthor && m == change.Author {
				continue
			}
			eligible[m] = true
		}
	}
	if len(problems) == 0 && len(eligible) < g.Approvers {
		who := slices.Sorted(maps.Keys(eligible))
		desc := "nobody"
		if len(who) > 0 {
			desc = "only " + strings.Join(who, ", ")
		}
		problems = append(problems, fmt.Sprintf("%s requires gate %q with %d approver(s) from %s, but %s may approve (author %q excluded: %v)",
			refs(p.rules), g.Name, g.Approvers, strings.Join(g.Groups, ", "), desc, change.Author, g.NotAuthor))
	}
	return problems
}

// gateGroups is the gate's groups: the owner groups of the affected services
// (when the rule asks for owners) and the groups it names, sorted.
func gateGroups(change *workspace.Change, rq *rules.Required) []string {
	groups := append([]string{}, rq.Groups...)
	if rq.Owners {
		for _, s := range change.Services {
			groups = append(groups, s.Owners...)
		}
	}
	return sortedUnique(groups)
}

// topo orders nodes so that each follows its dependencies, ties broken by id.
// On a cycle it returns the cycle's ids, first id repeated at the end.
func topo(nodes []*planned, byID map[string]*planned) ([]*planned, []string) {
	indeg := map[string]int{}
	next := map[string][]string{}
	for _, p := range nodes {
		indeg[p.node.ID] += 0
		for _, d := range p.node.DependsOn {
			indeg[p.node.ID]++
			next[d] = append(next[d], p.node.ID)
		}
	}
	var ready []string
	for id, n := range indeg {
		if n == 0 {
			ready = append(ready, id)
		}
	}
	var out []*planned
	for len(ready) > 0 {
		slices.Sort(ready)
		id := ready[0]
		ready = ready[1:]
		out = append(out, byID[id])
		for _, m := range next[id] {
			if indeg[m]--; indeg[m] == 0 {
				ready = append(ready, m)
			}
		}
	}
	if len(out) == len(nodes) {
		return out, nil
	}
	return nil, findCycle(nodes, byID, indeg)
}

// findCycle walks dependencies from the smallest id left unsorted until an id repeats.
func findCycle(nodes []*planned, byID map[string]*planned, indeg map[string]int) []string {
	var left []string
	for _, p := range nodes {
		if indeg[p.node.ID] > 0 {
			left = append(left, p.node.ID)
		}
	}
	slices.Sort(left)
	seen := map[string]int{}
	var path []string
	id := left[0]
	for {
		if i, ok := seen[id]; ok {
			return append(path[i:], id)
		}
		seen[id] = len(path)
		path = append(path, id)
		var deps []string
		for _, d := range byID[id].node.DependsOn {
			if indeg[d] > 0 {
				deps = append(deps, d)
			}
		}
		slices.Sort(deps)
		id = deps[0]
	}
}

// refs names rules with their places: `rule a (f:1:2)` or `rules a (…), b (…)`.
func refs(rs []*rules.Rule) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s (%s)", r.ID, r.Pos())
	}
	if len(parts) == 1 {
		return "rule " + parts[0]
	}
	return "rules " + strings.Join(parts, ", ")
}

func ids(rs []*rules.Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func uniqueRules(rs []*rules.Rule) []*rules.Rule {
	var out []*rules.Rule
	for _, r := range rs {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *rules.Rule) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func sortedUnique(in []string) []string {
	out := append([]string{}, in...)
	slices.Sort(out)
	return slices.Compact(out)
}
