package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// TestFile is a `<rules>_test.yaml` file: cases that run the rule set on an
// input and state what must come out.
type TestFile struct {
	Path  string
	Cases []*TestCase
}

// TestCase is one case.
type TestCase struct {
	Name   string
	Line   int
	Change workspace.Change
	// Service is the service a plan case plans (plan rule files only).
	Service workspace.PlanService
	// Vars holds the case's other inputs, by variable name, for kinds that
	// declare more variables (pointers to their Types).
	Vars   map[string]any
	Expect Expect
}

// Expect is what a case must produce. Fired is compared exactly against the
// fired rules of the file under test; the other fields only when given.
type Expect struct {
	Fired   []string          `yaml:"fired" json:"fired"`
	Classes []string          `yaml:"classes" json:"classes,omitempty"`
	Risk    string            `yaml:"risk" json:"risk,omitempty"`
	Kinds   map[string]string `yaml:"kinds" json:"kinds,omitempty"`
	Facts   map[string]string `yaml:"facts" json:"facts,omitempty"`
	Nodes   []string          `yaml:"nodes" json:"nodes,omitempty"`
	Gates   []string          `yaml:"gates" json:"gates,omitempty"`
	// Strategy and Migration are the plan decisions for the case's service.
	Strategy  string `yaml:"strategy" json:"strategy,omitempty"`
	Migration string `yaml:"migration" json:"migration,omitempty"`
	// Values are kind-specific results (what the kind's test runner
	// returns), compared as strings.
	Values map[string]string `yaml:"values" json:"values,omitempty"`
}

type rawTests struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Cases      []rawCase `yaml:"cases"`
}

type rawCase struct {
	Name    string    `yaml:"name"`
	Change  yaml.Node `yaml:"change"`
	Service yaml.Node `yaml:"service"`
	Expect  *Expect   `yaml:"expect"`
	// Inputs are the other keys: the kind's further variables.
	Inputs map[string]yaml.Node `yaml:",inline"`
}

func loadTests(path string, owner *File, ids map[string]*Rule) (*TestFile, diag.List) {
	var raw rawTests
	doc, l := readDoc(path, &raw, func() string { return raw.APIVersion })
	if doc == nil {
		return nil, l
	}
	if raw.Kind != string(owner.Kind) {
		p := yamlsrc.At(yamlsrc.Get(doc.Root, "kind"), doc.Root)
		l.Add(path, p.Line, p.Col, "kind %q does not match %s (kind %s)", raw.Kind, owner.Name, owner.Kind)
	}
	items := yamlsrc.Items(yamlsrc.Get(doc.Root, "cases"))
	if len(raw.Cases) == 0 {
		l.Add(path, 1, 1, "no cases")
	}
	tf := &TestFile{Path: path}
	names := map[string]bool{}
	for i, rc := range raw.Cases {
		node := items[i]
		tc := &TestCase{Name: rc.Name, Line: node.Line}
		if rc.Name == "" {
			l.Add(path, node.Line, node.Column, "case %d has no name", i+1)
		} else if names[rc.Name] {
			l.Add(path, node.Line, node.Column, "case %q is listed twice", rc.Name)
		}
		names[rc.Name] = true
		if rc.Expect == nil {
			l.Add(path, node.Line, node.Column, "case %q has no expect", rc.Name)
		} else {
			tc.Expect = *rc.Expect
			for _, id := range rc.Expect.Fired {
				r, ok := ids[id]
				if !ok || r.File != owner.Path {
					p := yamlsrc.At(yamlsrc.Get(yamlsrc.Get(node, "expect"), "fired"), node)
					l.Add(path, p.Line, p.Col, "case %q expects rule %q, which is not in %s", rc.Name, id, owner.Name)
				}
			}
		}
		if err := decodeChange(&rc.Change, &tc.Change); err != nil {
			cn := yamlsrc.Get(node, "change")
			p := yamlsrc.At(cn, node)
			l.Add(path, p.Line, p.Col, "case %q: change: %v", rc.Name, err)
		}
		if rc.Service.Kind != 0 && owner.Kind != Plan {
			p := yamlsrc.At(yamlsrc.Get(node, "service"), node)
			l.Add(path, p.Line, p.Col, "case %q: service is only for plan rule files", rc.Name)
		}
		if err := decodeStrict(&rc.Service, &tc.Service); err != nil {
			p := yamlsrc.At(yamlsrc.Get(node, "service"), node)
			l.Add(path, p.Line, p.Col, "case %q: service: %v", rc.Name, err)
		}
		l = append(l, decodeCaseVars(path, node, owner.Kind, tc)...)
		tf.Cases = append(tf.Cases, tc)
	}
	return tf, l
}

// decodeCaseVars decodes a case's keys other than name, expect, change and
// service: each must be a variable of the kind with a declared type.
func decodeCaseVars(path string, node *yaml.Node, k Kind, tc *TestCase) diag.List {
	var l diag.List
	spec := kinds[k]
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		switch key.Value {
		case "name", "expect", "change", "service":
			continue
		}
		t := spec.Types[key.Value]
		if t == nil || key.Value == "service" {
			var names []string
			for _, v := range sortedKeys(spec.Types) {
				names = append(names, v)
			}
			p := yamlsrc.At(key, node)
			l.Add(path, p.Line, p.Col, "case %q: %q is not an input of %s rule files (inputs: change%s)", tc.Name, key.Value, k, prefixEach(", ", names))
			continue
		}
		v := reflect.New(t)
		if err := decodeStrict(val, v.Interface()); err != nil {
			p := yamlsrc.At(val, node)
			l.Add(path, p.Line, p.Col, "case %q: %s: %v", tc.Name, key.Value, err)
			continue
		}
		if tc.Vars == nil {
			tc.Vars = map[string]any{}
		}
		tc.Vars[key.Value] = v.Interface()
	}
	return l
}

func prefixEach(sep string, s []string) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteString(sep)
		b.WriteString(x)
	}
	return b.String()
}

// decodeChange converts a YAML change into the workspace type, strictly.
func decodeChange(n *yaml.Node, c *workspace.Change) error { return decodeStrict(n, c) }

// decodeStrict converts a YAML node into a workspace type through its JSON
// form, refusing unknown keys.
func decodeStrict(n *yaml.Node, c any) error {
	if n.Kind == 0 {
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(c)
}

// CaseResult is the outcome of one test case.
type CaseResult struct {
	File     string // the test file
	Case     string
	Line     int
	Failures []string
}

// Passed reports whether the case met every expectation.
func (r CaseResult) Passed() bool { return len(r.Failures) == 0 }

// Test runs every test case of every rule file in the set.
func (s *Set) Test() []CaseResult {
	var out []CaseResult
	for _, f := range s.Files {
		if f.Tests == nil {
			continue
		}
		for _, tc := range f.Tests.Cases {
			res := CaseResult{File: f.Tests.Path, Case: tc.Name, Line: tc.Line}
			res.Failures = s.runCase(f, tc)
			out = append(out, res)
		}
	}
	return out
}

// Untested returns the rule files that have no test file beside them.
func (s *Set) Untested() []string {
	var out []string
	for _, f := range s.Files {
		if f.Tests == nil {
			out = append(out, f.Path)
		}
	}
	return out
}

func (s *Set) runCase(f *File, tc *TestCase) []string {
	c := tc.Change // a copy; slices are re-made by the appliers where changed
	c.Files = append([]workspace.File(nil), tc.Change.Files...)
	c.Facts = map[string]string{}
	for k, v := range tc.Change.Facts {
		c.Facts[k] = v
	}
	var fired []workspace.Fired
	var fails []string
	var nodes, gates []string
	var decision *PlanDecision
	var values map[string]string
	switch f.Kind {
	case Plan:
		svc := tc.Service
		d, fr, err := s.ApplyPlan(&c, &svc)
		if err != nil {
			return []string{err.Error()}
		}
		fired, decision = fr, d
	case Classify:
		if err := s.ApplyClassify(&c); err != nil {
			return []string{err.Error()}
		}
		fired = c.Rules
	case Route:
		routed, fr, err := s.ApplyRoute(&c)
		if err != nil {
			return []string{err.Error()}
		}
		fired = fr
		for _, n := range routed {
			nodes = append(nodes, n.ID)
		}
	case Gates:
		req, fr, err := s.ApplyGates(&c)
		if err != nil {
			return []string{err.Error()}
		}
		fired = fr
		values = map[string]string{}
		for _, g := range req {
			gates = append(gates, g.Name)
			values["policy/"+g.Name] = g.Policy
		}
	default:
		spec := kinds[f.Kind]
		if spec.test == nil {
			return []string{fmt.Sprintf("rule files of kind %s have no test runner", f.Kind)}
		}
		vars := map[string]any{"change": &c}
		for k, v := range tc.Vars {
			vars[k] = v
		}
		for _, v := range spec.Vars[""] {
			if _, ok := vars[v]; !ok {
				if t := spec.varType(v); t != nil {
					vars[v] = reflect.New(t).Interface()
				}
			}
		}
		fr, vals, err := spec.test(s, vars)
		if err != nil {
			return []string{err.Error()}
		}
		fired, values = fr, vals
	}
	var got []string
	for _, fr := range fired {
		if r := s.rule(fr.ID); r != nil && r.File == f.Path {
			got = append(got, fr.ID)
		}
	}
	e := tc.Expect
	if !sameSet(got, e.Fired) {
		fails = append(fails, fmt.Sprintf("fired %s, want %s", list(got), list(e.Fired)))
	}
	if e.Classes != nil && !sameSet(c.Classes, e.Classes) {
		fails = append(fails, fmt.Sprintf("classes %s, want %s", list(c.Classes), list(e.Classes)))
	}
	if e.Risk != "" && c.Risk != e.Risk {
		fails = append(fails, fmt.Sprintf("risk %q, want %q", c.Risk, e.Risk))
	}
	for _, path := range sortedKeys(e.Kinds) {
		got := "(no such file)"
		for _, fl := range c.Files {
			if fl.Path == path {
				got = fl.Kind
			}
		}
		if got != e.Kinds[path] {
			fails = append(fails, fmt.Sprintf("kind of %s %q, want %q", path, got, e.Kinds[path]))
		}
	}
	for _, k := range sortedKeys(e.Facts) {
		if c.Facts[k] != e.Facts[k] {
			fails = append(fails, fmt.Sprintf("fact %s %q, want %q", k, c.Facts[k], e.Facts[k]))
		}
	}
	if e.Nodes != nil && !sameSet(nodes, e.Nodes) {
		fails = append(fails, fmt.Sprintf("nodes %s, want %s", list(nodes), list(e.Nodes)))
	}
	if e.Gates != nil && !sameSet(gates, e.Gates) {
		fails = append(fails, fmt.Sprintf("gates %s, want %s", list(gates), list(e.Gates)))
	}
	if (e.Strategy != "" || e.Migration != "") && decision == nil {
		fails = append(fails, fmt.Sprintf("strategy and migration are expectations of plan rule files, not %s", f.Kind))
	} else if decision != nil {
		if e.Strategy != "" && decision.Strategy != e.Strategy {
			fails = append(fails, fmt.Sprintf("strategy %q, want %q", decision.Strategy, e.Strategy))
		}
		if e.Migration != "" && decision.Migration != e.Migration {
			fails = append(fails, fmt.Sprintf("migration %q, want %q", decision.Migration, e.Migration))
		}
	}
	for _, k := range sortedKeys(e.Values) {
		got, ok := values[k]
		if !ok {
			got = "(not given by " + string(f.Kind) + " rules)"
		}
		if got != e.Values[k] {
			fails = append(fails, fmt.Sprintf("%s %q, want %q", k, got, e.Values[k]))
		}
	}
	return fails
}

func (s *Set) rule(id string) *Rule {
	for _, f := range s.Files {
		for _, r := range f.Rules {
			if r.ID == id {
				return r
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func list(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	x := slices.Clone(s)
	sort.Strings(x)
	return "[" + strings.Join(x, ", ") + "]"
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
