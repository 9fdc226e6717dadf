package explain

import (
	"slices"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// What the model sees: structured facts, every string redacted, no request
// text, no approver names, no data samples.

type serviceFact struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

type intentFact struct {
	Environment string   `json:"environment,omitempty"`
	Goals       []string `json:"goals"`
}

type findingFact struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Blocker  bool   `json:"blocker"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Resource string `json:"resource,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

type findingInputs struct {
	Verdict  string        `json:"verdict"`
	Risk     string        `json:"risk"`
	Intent   *intentFact   `json:"intent,omitempty"`
	Services []serviceFact `json:"services"`
	Finding  findingFact   `json:"finding"`
}

type gateFact struct {
	Name      string   `json:"name"`
	Tier      string   `json:"tier"`
	Approvals int      `json:"approvalsNeeded"`
	Groups    []string `json:"groups"`
	NotAuthor bool     `json:"authorExcluded"`
	Timeout   string   `json:"timeout,omitempty"`
	Decision  string   `json:"decision"`
	Approved  int      `json:"approvalsSoFar"`
}

type ruleFact struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

type gateInputs struct {
	Verdict string      `json:"verdict"`
	Risk    string      `json:"risk"`
	Intent  *intentFact `json:"intent,omitempty"`
	Gate    gateFact    `json:"gate"`
	Rules   []ruleFact  `json:"rules"`
}

type gateState struct {
	Name     string `json:"name"`
	Tier     string `json:"tier"`
	Decision string `json:"decision"`
}

type blockerFact struct {
	Rule string `json:"rule"`
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

type planFact struct {
	Steps      int               `json:"steps"`
	Rollback   int               `json:"rollbackSteps"`
	Strategies map[string]string `json:"strategies"`
}

type summaryInputs struct {
	Verdict  string        `json:"verdict"`
	Reason   string        `json:"reason"`
	Risk     string        `json:"risk"`
	Classes  []string      `json:"classes"`
	Services []serviceFact `json:"services"`
	Intent   *intentFact   `json:"intent,omitempty"`
	Gates    []gateState   `json:"gates"`
	Blockers []blockerFact `json:"blockers"`
	Plan     *planFact     `json:"plan,omitempty"`
}

var r = llm.Redact

func intentOf(c workspace.Change) *intentFact {
	if c.Intent == nil {
		return nil
	}
	return &intentFact{Environment: c.Intent.Environment, Goals: slices.Clone(c.Intent.Goals)}
}

func servicesOf(c workspace.Change) []serviceFact {
	out := []serviceFact{}
	for _, s := range c.Services {
		out = append(out, serviceFact{Name: r(s.Name), Tier: s.Tier})
	}
	return out
}

func findingInput(in Input, f Finding) findingInputs {
	return findingInputs{Verdict: in.Verdict, Risk: in.Change.Risk, Intent: intentOf(in.Change), Services: servicesOf(in.Change),
		Finding: findingFact{Rule: r(f.Rule), Severity: f.Severity, Blocker: f.Blocker, File: r(f.File), Line: f.Line,
			Resource: r(f.Resource), Message: r(f.Message), Fix: r(f.Fix)}}
}

// decision says where a gate stands: its recorded decision, or pending.
func decision(in Input, name string) (string, int) {
	for _, a := range in.Approvals {
		if a.Gate == name {
			return a.Decision, len(a.Approvers)
		}
	}
	return "pending", 0
}

func gateInput(in Input, n workspace.Node) gateInputs {
	g := n.Gate
	d, k := decision(in, g.Name)
	out := gateInputs{Verdict: in.Verdict, Risk: in.Change.Risk, Intent: intentOf(in.Change),
		Gate: gateFact{Name: r(g.Name), Tier: g.Tier, Approvals: needed(*g), Groups: redactAll(g.Groups),
			NotAuthor: g.NotAuthor, Timeout: g.Timeout, Decision: d, Approved: k},
		Rules: []ruleFact{}}
	for _, id := range n.Rules {
		out.Rules = append(out.Rules, ruleFact{ID: r(id), Message: r(ruleMessage(in, id))})
	}
	return out
}

func summaryInput(in Input) summaryInputs {
	out := summaryInputs{Verdict: in.Verdict, Reason: r(in.Reason), Risk: in.Change.Risk, Classes: slices.Clone(in.Change.Classes),
		Services: servicesOf(in.Change), Intent: intentOf(in.Change), Gates: []gateState{}, Blockers: []blockerFact{}}
	for _, n := range gateNodes(in.Graph) {
		d, _ := decision(in, n.Gate.Name)
		out.Gates = append(out.Gates, gateState{Name: r(n.Gate.Name), Tier: n.Gate.Tier, Decision: d})
	}
	for _, f := range blocking(in.Findings) {
		out.Blockers = append(out.Blockers, blockerFact{Rule: r(f.Rule), File: r(f.File), Line: f.Line})
	}
	if p := in.Plan; p != nil {
		pf := &planFact{Steps: len(p.Steps), Rollback: len(p.Rollback), Strategies: map[string]string{}}
		for _, s := range p.Services {
			pf.Strategies[r(s.Name)] = s.Strategy
		}
		out.Plan = pf
	}
	return out
}

func redactAll(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, r(x))
	}
	return out
}

// needed is how many approvals a gate needs.
func needed(g workspace.Gate) int {
	if g.Approvers > 0 {
		return g.Approvers
	}
	return 1
}

// ruleMessage is a rule's message: from RuleMessages, else from the rules
// that fired in classify, else "".
func ruleMessage(in Input, id string) string {
	if m, ok := in.RuleMessages[id]; ok {
		return m
	}
	for _, f := range in.Change.Rules {
		if f.ID == id {
			return f.Message
		}
	}
	return ""
}
