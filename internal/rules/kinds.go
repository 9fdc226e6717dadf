package rules

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// Kind names what a rule file decides.
type Kind string

// The rule kinds.
const (
	Classify Kind = "classify" // file kinds, classes, facts, risk
	Route    Kind = "route"    // which nodes the emitted DAG has
	Gates    Kind = "gates"    // which approval gates guard them
	Plan     Kind = "plan"     // how each deployed service is rolled out
	Mask     Kind = "mask"     // how each database column is transformed
	Policy   Kind = "policy"   // which preprod resources break policy, and how badly
	Envs     Kind = "envs"     // which environment templates are approved, for which requests
)

// kindSpec declares, for one kind, the scopes its rules may have, the variables
// each scope sees, how an effect is decoded and how a test case runs.
type kindSpec struct {
	Scopes []string
	Vars   map[string][]string // scope → variable names
	// Types gives the Go struct type of each variable (named in CEL by its
	// JSON keys); "change" is workspace.Change unless a kind says otherwise.
	Types  map[string]reflect.Type
	decode func(scope string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect
	// test runs the kind's rules of set on a case's variables and returns the
	// rules that fired and the values the case's expect.values are compared
	// with. Nil for the kinds whose expectations are the built-in fields.
	test func(set *Set, vars map[string]any) (fired []workspace.Fired, values map[string]string, err error)
}

// kinds is the explicit registry of rule kinds.
var kinds = map[Kind]kindSpec{
	Classify: {Scopes: []string{"", "file"}, Vars: map[string][]string{"": {"change"}, "file": {"change", "file"}},
		Types: map[string]reflect.Type{"file": reflect.TypeOf(workspace.File{})}, decode: decodeClassify},
	Route: {Scopes: []string{""}, Vars: map[string][]string{"": {"change"}}, decode: decodeRoute},
	Gates: {Scopes: []string{""}, Vars: map[string][]string{"": {"change"}}, decode: decodeGate},
	Plan: {Scopes: []string{""}, Vars: map[string][]string{"": {"change", "service"}},
		Types: map[string]reflect.Type{"service": reflect.TypeOf(workspace.PlanService{})}, decode: decodePlan},
	Mask:   maskKind,
	Policy: policyKind,
	Envs:   envsKind,
}

func kindNames() []string {
	var out []string
	for k := range kinds {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// varType is the Go type of a kind's variable.
func (s kindSpec) varType(v string) reflect.Type {
	if t, ok := s.Types[v]; ok {
		return t
	}
	if v == "change" {
		return reflect.TypeOf(workspace.Change{})
	}
	return nil
}

// nativeTypes lists every struct type any kind's variables use, in a fixed
// order, so one CEL type provider knows them all.
func nativeTypes() []any {
	seen := map[reflect.Type]bool{}
	var ts []reflect.Type
	add := func(t reflect.Type) {
		if t != nil && !seen[t] {
			seen[t] = true
			ts = append(ts, t)
		}
	}
	add(reflect.TypeOf(workspace.Change{}))
	for _, k := range kindNames() {
		spec := kinds[Kind(k)]
		for _, v := range sortedKeys(spec.Types) {
			add(spec.Types[v])
		}
	}
	var out []any
	for _, t := range ts {
		out = append(out, reflect.PointerTo(t))
	}
	return append(out, types.ParseStructTag("json"))
}

var (
	envMu    sync.Mutex
	envCache = map[string]*cel.Env{}
)

// env returns the CEL environment for a scope of a kind (built once).
func (s kindSpec) env(scope string) (*cel.Env, error) {
	vars := s.Vars[scope]
	var typed []string
	for _, v := range vars {
		typed = append(typed, v+":"+celTypeName(s.varType(v)))
	}
	key := fmt.Sprint(typed)
	envMu.Lock()
	defer envMu.Unlock()
	if e, ok := envCache[key]; ok {
		return e, nil
	}
	opts := []cel.EnvOption{
		ext.NativeTypes(nativeTypes()...),
		ext.Strings(), ext.Lists(), ext.Sets(),
	}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v, cel.ObjectType(celTypeName(s.varType(v)))))
	}
	e, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	envCache[key] = e
	return e, nil
}

func celTypeName(t reflect.Type) string {
	return t.String() // e.g. "workspace.Change", as cel-go's native types name them
}

// Effect is what a firing rule does. Which fields are allowed depends on the kind.
type Effect struct {
	// classify, scope file
	FileKind string `json:"kind,omitempty"`
	// classify, scope change
	AddClass  string            `json:"addClass,omitempty"`
	RaiseRisk string            `json:"raiseRisk,omitempty"`
	SetFacts  map[string]string `json:"setFacts,omitempty"`
	// route
	Node *NodeEffect `json:"node,omitempty"`
	// gates
	Gate *GateEffect `json:"gate,omitempty"`
	// plan
	Plan *PlanEffect `json:"plan,omitempty"`
	// mask
	Mask *MaskEffect `json:"mask,omitempty"`
	// policy
	Policy *PolicyEffect `json:"policy,omitempty"`
	// envs
	Env *EnvTemplate `json:"env,omitempty"`
	// every kind: what the rule says when it fires
	Message string `json:"message,omitempty"`
}

// NodeEffect adds a node to the emitted DAG.
type NodeEffect struct {
	ID         string            `yaml:"id" json:"id"`
	Step       string            `yaml:"step" json:"step"`
	Parameters map[string]string `yaml:"parameters" json:"parameters,omitempty"`
	DependsOn  []string          `yaml:"dependsOn" json:"dependsOn,omitempty"`
}

// GateEffect requires an approval gate.
type GateEffect struct {
	Name string `yaml:"name" json:"name"`
	Tier string `yaml:"tier" json:"tier"`
	// Policy is who must pass the gate (GatePolicies); given, it sets
	// Approvers and NotAuthor, which may then only repeat it.
	Policy string `yaml:"policy" json:"policy,omitempty"`
	// Owners adds the owner groups of every affected service to Groups.
	Owners    bool     `yaml:"owners" json:"owners,omitempty"`
	Groups    []string `yaml:"groups" json:"groups,omitempty"`
	Approvers int      `yaml:"approvers" json:"approvers,omitempty"`
	NotAuthor bool     `yaml:"notAuthor" json:"notAuthor,omitempty"`
	// Before lists node ids the gate must precede; After, nodes it must follow.
	// With neither, the gate follows every routed node (a promotion gate).
	Before  []string `yaml:"before" json:"before,omitempty"`
	After   []string `yaml:"after" json:"after,omitempty"`
	Timeout string   `yaml:"timeout" json:"timeout,omitempty"`
	// Remediation lists the tasks the coordinator opens when the gate is
	// rejected; the packet of a rejected run names them.
	Remediation []workspace.Remediation `yaml:"remediation" json:"remediation,omitempty"`
}

// allowedKeys checks an effect mapping's keys against the kind's keys.
func allowedKeys(file string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, what string, keys ...string) bool {
	if n.Kind != yaml.MappingNode {
		p := at(n)
		l.Add(file, p.Line, p.Col, "effect must be a mapping")
		return false
	}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !contains(keys, k.Value) {
			p := at(k)
			l.Add(file, p.Line, p.Col, "effect key %q is not valid for %s (want one of %q)", k.Value, what, keys)
			ok = false
		}
	}
	return ok
}

func decodeClassify(scope string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	if scope == "file" {
		if !allowedKeys(file, n, at, l, "classify file rules", "kind", "message") {
			return e
		}
		decodeInto(file, n, &struct {
			Kind    *string `yaml:"kind"`
			Message *string `yaml:"message"`
		}{&e.FileKind, &e.Message}, at, l)
		if e.FileKind == "" {
			p := at(n)
			l.Add(file, p.Line, p.Col, "file rule effect needs kind")
		}
		return e
	}
	if n.Kind != yaml.MappingNode {
		allowedKeys(file, n, at, l, "classify rules")
		return e
	}
	allowedKeys(file, n, at, l, "classify rules", "addClass", "raiseRisk", "setFacts", "message")
	decodeInto(file, n, &struct {
		AddClass  *string            `yaml:"addClass"`
		RaiseRisk *string            `yaml:"raiseRisk"`
		SetFacts  *map[string]string `yaml:"setFacts"`
		Message   *string            `yaml:"message"`
	}{&e.AddClass, &e.RaiseRisk, &e.SetFacts, &e.Message}, at, l)
	if e.RaiseRisk != "" && workspace.RiskRank(e.RaiseRisk) < 0 {
		p := at(yamlsrc.Get(n, "raiseRisk"))
		l.Add(file, p.Line, p.Col, "raiseRisk %q is not one of %q", e.RaiseRisk, workspace.RiskTiers)
	}
	if e.AddClass != "" && !contains(Classes, e.AddClass) {
		p := at(yamlsrc.Get(n, "addClass"))
		l.Add(file, p.Line, p.Col, "addClass %q is not one of %q", e.AddClass, Classes)
	}
	if e.AddClass == "" && e.RaiseRisk == "" && len(e.SetFacts) == 0 {
		p := at(n)
		l.Add(file, p.Line, p.Col, "effect does nothing: give addClass, raiseRisk or setFacts")
	}
	return e
}

// MaxApprovers is how many distinct approvers a gate can require: the gate
// WorkflowTemplate has that many approval rounds.
const MaxApprovers = 2

// Classes are the change classes classify rules may add.
var Classes = []string{"docs", "config", "app", "db-migration", "infra", "dependency", "mixed"}

func decodeRoute(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	if !allowedKeys(file, n, at, l, "route rules", "node", "message") {
		return e
	}
	e.Node = &NodeEffect{}
	decodeInto(file, n, &struct {
		Node    *NodeEffect `yaml:"node"`
		Message *string     `yaml:"message"`
	}{e.Node, &e.Message}, at, l)
	nn := yamlsrc.Get(n, "node")
	p := at(nn)
	if nn == nil {
		p = at(n)
		l.Add(file, p.Line, p.Col, "route effect needs node")
		return e
	}
	if !idRe.MatchString(e.Node.ID) {
		l.Add(file, p.Line, p.Col, "node id %q: use lower-case letters, digits, '.' and '-'", e.Node.ID)
	}
	if e.Node.Step == "" {
		l.Add(file, p.Line, p.Col, "node %q needs step", e.Node.ID)
	}
	return e
}

func decodeGate(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	if !allowedKeys(file, n, at, l, "gate rules", "gate", "message") {
		return e
	}
	e.Gate = &GateEffect{}
	decodeInto(file, n, &struct {
		Gate    *GateEffect `yaml:"gate"`
		Message *string     `yaml:"message"`
	}{e.Gate, &e.Message}, at, l)
	gn := yamlsrc.Get(n, "gate")
	if gn == nil {
		p := at(n)
		l.Add(file, p.Line, p.Col, "gate effect needs gate")
		return e
	}
	p := at(gn)
	g := e.Gate
	field := func(key string) yamlsrc.Pos {
		if k := yamlsrc.Get(gn, key); k != nil {
			return at(k)
		}
		return p
	}
	if !idRe.MatchString(g.Name) {
		l.Add(file, p.Line, p.Col, "gate name %q: use lower-case letters, digits, '.' and '-'", g.Name)
	}
	if g.Policy != "" && !contains(GatePolicies, g.Policy) {
		pp := field("policy")
		l.Add(file, pp.Line, pp.Col, "gate %q: policy %q is not one of %q", g.Name, g.Policy, GatePolicies)
	}
	minTier := 1
	if g.Policy == workspace.PolicyAuto {
		minTier = 0
	}
	if r := workspace.RiskRank(g.Tier); r < minTier {
		pt := field("tier")
		want := "medium, high, critical"
		if minTier == 0 {
			want = "low, " + want
		}
		l.Add(file, pt.Line, pt.Col, "gate tier %q is not one of %s", g.Tier, want)
	}
	if g.Policy != workspace.PolicyAuto && !g.Owners && len(g.Groups) == 0 {
		l.Add(file, p.Line, p.Col, "gate %q names no approvers: set owners: true or groups", g.Name)
	}
	if g.Approvers < 0 || g.Approvers > MaxApprovers {
		pa := field("approvers")
		l.Add(file, pa.Line, pa.Col, "gate %q: approvers must be 1 or %d (the gate template has %d approval rounds)", g.Name, MaxApprovers, MaxApprovers)
	}
	if g.Policy != "" && contains(GatePolicies, g.Policy) {
		approvers, notAuthor := policyNeeds(g.Policy)
		if g.Approvers != 0 && g.Approvers != approvers {
			pa := field("approvers")
			l.Add(file, pa.Line, pa.Col, "gate %q: policy %s needs %d approver(s), not %d (leave approvers out)", g.Name, g.Policy, approvers, g.Approvers)
		}
		if yamlsrc.Get(gn, "notAuthor") != nil && g.NotAuthor != notAuthor {
			pn := field("notAuthor")
			l.Add(file, pn.Line, pn.Col, "gate %q: policy %s has notAuthor %v (leave notAuthor out)", g.Name, g.Policy, notAuthor)
		}
		g.Approvers, g.NotAuthor = approvers, notAuthor
	}
	if g.Policy == "" {
		if g.Approvers == 0 {
			g.Approvers = 1
			if g.Tier == "critical" {
				g.Approvers = MaxApprovers
			}
		}
		g.Policy = PolicyFor(g.Approvers, g.NotAuthor)
	}
	if g.Timeout != "" {
		if d, err := time.ParseDuration(g.Timeout); err != nil || d <= 0 {
			pt := field("timeout")
			l.Add(file, pt.Line, pt.Col, "gate %q: timeout %q is not a positive duration such as 24h", g.Name, g.Timeout)
		}
	}
	for i, r := range g.Remediation {
		if !idRe.MatchString(r.ID) || r.Task == "" {
			pr := field("remediation")
			if items := yamlsrc.Items(yamlsrc.Get(gn, "remediation")); i < len(items) {
				pr = at(items[i])
			}
			l.Add(file, pr.Line, pr.Col, "gate %q: remediation %d needs an id (lower-case letters, digits, '.' and '-') and a task", g.Name, i+1)
		}
	}
	return e
}

// GatePolicies are the gate policies, weakest first: auto records the gate
// without stopping, ack needs any owner (the author included), approve one
// approver who is not the author, two-person two distinct approvers, neither
// the author.
var GatePolicies = []string{workspace.PolicyAuto, workspace.PolicyAck, workspace.PolicyApprove, workspace.PolicyTwoPerson}

// policyNeeds gives the approvers and author rule of a policy.
func policyNeeds(policy string) (approvers int, notAuthor bool) {
	switch policy {
	case workspace.PolicyAuto:
		return 0, false
	case workspace.PolicyAck:
		return 1, false
	case workspace.PolicyApprove:
		return 1, true
	}
	return 2, true
}

// PolicyFor names the policy of a gate given as approvers and notAuthor.
func PolicyFor(approvers int, notAuthor bool) string {
	switch {
	case approvers >= 2:
		return workspace.PolicyTwoPerson
	case notAuthor:
		return workspace.PolicyApprove
	}
	return workspace.PolicyAck
}

// decodeInto decodes a node into v. Unknown keys were reported by allowedKeys;
// type errors come back with the line yaml found them on.
func decodeInto(file string, n *yaml.Node, v any, at func(*yaml.Node) yamlsrc.Pos, l *diag.List) {
	if err := n.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				l.Add(file, n.Line, n.Column, "effect: %s", strings.TrimPrefix(m, "yaml: "))
			}
			return
		}
		p := at(n)
		l.Add(file, p.Line, p.Col, "effect: %v", err)
	}
}

func decodeEffect(file string, k Kind, scope string, n *yaml.Node) (Effect, diag.List) {
	var l diag.List
	at := func(x *yaml.Node) yamlsrc.Pos { return yamlsrc.At(x, n) }
	e := kinds[k].decode(scope, n, at, &l, file)
	return e, l
}

// Eval evaluates the rule against variables (e.g. {"change": *workspace.Change}).
func (r *Rule) Eval(vars map[string]any) (bool, error) {
	out, _, err := r.prg.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("rule %s (%s): %w", r.ID, r.Pos(), err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("rule %s (%s): when gave %v, not a bool", r.ID, r.Pos(), out)
	}
	return b, nil
}

// Rules returns the rules of one kind and scope, in canonical order: files by
// name, rules in the order they are written.
func (s *Set) Rules(k Kind, scope string) []*Rule {
	var out []*Rule
	for _, f := range s.Files {
		if f.Kind != k {
			continue
		}
		for _, r := range f.Rules {
			if r.Scope == scope {
				out = append(out, r)
			}
		}
	}
	return out
}
