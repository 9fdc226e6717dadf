package rules

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// digest is the SHA-256 of the set's canonical JSON: files by name, rules in
// order, each with id, description, scope, expression and effect. Comments and
// formatting do not change it; any change to what a rule decides does.
func digest(s *Set) string {
	b, err := workspace.Marshal(s.Files)
	if err != nil {
		panic(err) // rule files always encode
	}
	return workspace.Digest(b)
}

// ApplyClassify runs the classify rules on c: file rules set each file's kind
// (the first matching rule wins; "other" when none does), then change rules, in
// order, add classes, set facts and raise the risk. Each rule sees the effects of
// the rules before it. Fired rules are recorded on c with their messages.
func (s *Set) ApplyClassify(c *workspace.Change) error {
	fileRules := s.Rules(Classify, "file")
	counts := make([]int, len(fileRules))
	vars := map[string]any{"change": c}
	for i := range c.Files {
		f := &c.Files[i]
		f.Kind = "other"
		vars["file"] = f
		for j, r := range fileRules {
			ok, err := r.Eval(vars)
			if err != nil {
				return err
			}
			if ok {
				f.Kind = r.Effect.FileKind
				counts[j]++
				break
			}
		}
	}
	delete(vars, "file")
	c.Rules = nil
	for j, r := range fileRules {
		if counts[j] > 0 {
			c.Rules = append(c.Rules, workspace.Fired{ID: r.ID, Message: fmt.Sprintf("%s (%d file%s)", message(r), counts[j], plural(counts[j]))})
		}
	}
	c.Classes = []string{}
	c.Risk = workspace.RiskTiers[0]
	if c.Facts == nil {
		c.Facts = map[string]string{}
	}
	for _, r := range s.Rules(Classify, "") {
		ok, err := r.Eval(vars)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		e := r.Effect
		if e.AddClass != "" && !slices.Contains(c.Classes, e.AddClass) {
			c.Classes = append(c.Classes, e.AddClass)
			sort.Strings(c.Classes)
		}
		if e.RaiseRisk != "" && workspace.RiskRank(e.RaiseRisk) > workspace.RiskRank(c.Risk) {
			c.Risk = e.RaiseRisk
		}
		for k, v := range e.SetFacts {
			c.Facts[k] = v
		}
		c.Rules = append(c.Rules, workspace.Fired{ID: r.ID, Message: message(r)})
	}
	return nil
}

func message(r *Rule) string {
	if r.Effect.Message != "" {
		return r.Effect.Message
	}
	return r.Description
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Routed is a node some route rules asked for.
type Routed struct {
	NodeEffect
	Rules []*Rule
}

// ApplyRoute evaluates the route rules on c and returns the nodes they add, in
// rule order. Two rules may add the same node only with the same definition.
func (s *Set) ApplyRoute(c *workspace.Change) ([]*Routed, []workspace.Fired, error) {
	var out []*Routed
	byID := map[string]*Routed{}
	fired, err := s.fire(Route, c, func(r *Rule) error {
		n := r.Effect.Node
		if prev, ok := byID[n.ID]; ok {
			if !reflect.DeepEqual(prev.NodeEffect, *n) {
				return fmt.Errorf("rule %s (%s) adds node %q differently from rule %s (%s)", r.ID, r.Pos(), n.ID, prev.Rules[0].ID, prev.Rules[0].Pos())
			}
			prev.Rules = append(prev.Rules, r)
			return nil
		}
		rt := &Routed{NodeEffect: *n, Rules: []*Rule{r}}
		byID[n.ID] = rt
		out = append(out, rt)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, fired, nil
}

// fire evaluates the change-scope rules of kind k on c in order, calls apply
// for each that fires, and returns the fired rules with their messages.
func (s *Set) fire(k Kind, c *workspace.Change, apply func(*Rule) error) ([]workspace.Fired, error) {
	var fired []workspace.Fired
	vars := map[string]any{"change": c}
	for _, r := range s.Rules(k, "") {
		ok, err := r.Eval(vars)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		fired = append(fired, workspace.Fired{ID: r.ID, Message: message(r)})
		if err := apply(r); err != nil {
			return nil, err
		}
	}
	return fired, nil
}

// Required is a gate some gate rules asked for, merged across rules by name: the
// strictest tier, the most approvers, every group and placement.
type Required struct {
	GateEffect
	Rules []*Rule
}

// ApplyGates evaluates the gate rules on c and returns the gates they require.
func (s *Set) ApplyGates(c *workspace.Change) ([]*Required, []workspace.Fired, error) {
	var out []*Required
	byName := map[string]*Required{}
	fired, err := s.fire(Gates, c, func(r *Rule) error {
		g := *r.Effect.Gate
		prev, ok := byName[g.Name]
		if !ok {
			rq := &Required{GateEffect: g, Rules: []*Rule{r}}
			rq.Groups = append([]string{}, g.Groups...)
			byName[g.Name] = rq
			out = append(out, rq)
			return nil
		}
		prev.Rules = append(prev.Rules, r)
		if workspace.RiskRank(g.Tier) > workspace.RiskRank(prev.Tier) {
			prev.Tier = g.Tier
		}
		if slices.Index(GatePolicies, g.Policy) > slices.Index(GatePolicies, prev.Policy) {
			prev.Policy = g.Policy
		}
		prev.Approvers = max(prev.Approvers, g.Approvers)
		prev.Owners = prev.Owners || g.Owners
		prev.NotAuthor = prev.NotAuthor || g.NotAuthor
		if prev.Policy != workspace.PolicyAuto {
			prev.Policy = PolicyFor(max(prev.Approvers, 1), prev.NotAuthor)
		}
		prev.Remediation = unionRemediation(prev.Remediation, g.Remediation)
		prev.Groups = union(prev.Groups, g.Groups)
		prev.Before = union(prev.Before, g.Before)
		prev.After = union(prev.After, g.After)
		if g.Timeout != "" && (prev.Timeout == "" || shorter(g.Timeout, prev.Timeout)) {
			prev.Timeout = g.Timeout
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, fired, nil
}

func unionRemediation(a, b []workspace.Remediation) []workspace.Remediation {
	out := append([]workspace.Remediation{}, a...)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y workspace.Remediation) bool { return y.ID == x.ID }) {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := append([]string{}, a...)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// shorter reports whether duration a is shorter than b (both already validated).
func shorter(a, b string) bool {
	da, _ := time.ParseDuration(a)
	db, _ := time.ParseDuration(b)
	return da < db
}
