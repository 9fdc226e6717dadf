package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Templates writes every explanation of in from deterministic templates:
// the same input always gives the same text. Secret-looking values in the
// facts are redacted.
func Templates(in Input) Result {
	res := Result{Findings: []Explanation{}, Gates: []Explanation{}}
	for _, f := range blocking(in.Findings) {
		res.Findings = append(res.Findings, Explanation{Kind: KindFinding, Subject: findingSubject(f), Text: r(findingText(f)), Source: FromTemplate})
	}
	for _, n := range gateNodes(in.Graph) {
		res.Gates = append(res.Gates, Explanation{Kind: KindGate, Subject: n.Gate.Name, Text: r(gateText(in, n)), Source: FromTemplate})
	}
	res.Summary = Explanation{Kind: KindSummary, Subject: "packet", Text: llm.Redact(summaryText(in)), Source: FromTemplate}
	return res
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

func findingText(f Finding) string {
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Resource != "" {
		where += " (" + f.Resource + ")"
	}
	sev := ""
	if f.Severity != "" {
		sev = ", severity " + f.Severity
	}
	t := fmt.Sprintf("%s%s at %s blocks the release: %s", f.Rule, sev, where, sentence(f.Message))
	if f.Fix != "" {
		t += " Fix: " + sentence(f.Fix)
	}
	return t + " The verdict stays blocked until the finding is fixed or its owner records an exception in the exceptions ledger."
}

func list(xs []string) string {
	switch len(xs) {
	case 0:
		return "none"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func gateText(in Input, n workspace.Node) string {
	g := n.Gate
	k := needed(*g)
	who := "approval"
	if k > 1 {
		who = fmt.Sprintf("%d approvals from different people", k)
	}
	groups := "the approver groups"
	if len(g.Groups) > 0 {
		groups = "members of " + list(g.Groups)
	}
	t := fmt.Sprintf("Gate %s (tier %s) needs %s, by %s", g.Name, g.Tier, who, groups)
	if g.NotAuthor {
		if in.Change.Author != "" {
			t += fmt.Sprintf("; the change's author, %s, may not approve", in.Change.Author)
		} else {
			t += "; the change's author may not approve"
		}
	}
	t += "."
	var why []string
	for _, id := range n.Rules {
		if m := ruleMessage(in, id); m != "" {
			why = append(why, fmt.Sprintf("rule %s: %s", id, strings.TrimSuffix(m, ".")))
		} else {
			why = append(why, "rule "+id)
		}
	}
	if len(why) > 0 {
		t += " Required by " + strings.Join(why, "; ") + "."
	}
	if g.Timeout != "" {
		t += fmt.Sprintf(" Without a decision within %s the gate rejects.", g.Timeout)
	}
	d, got := decision(in, g.Name)
	switch d {
	case "pending":
		t += fmt.Sprintf(" It is waiting: %d of %d approval(s) so far.", got, k)
	default:
		t += fmt.Sprintf(" Recorded decision: %s (%d of %d approval(s)).", d, got, k)
	}
	return t
}

func summaryText(in Input) string {
	c := in.Change
	var b strings.Builder
	fmt.Fprintf(&b, "Verdict: %s (%s).", in.Verdict, strings.TrimSuffix(in.Reason, "."))
	var svc []string
	for _, s := range c.Services {
		svc = append(svc, fmt.Sprintf("%s (%s)", s.Name, s.Tier))
	}
	classes := list(c.Classes)
	fmt.Fprintf(&b, " The change (%s) touches %s; the rules rate it %s risk.", classes, map[bool]string{true: list(svc), false: "no catalog service"}[len(svc) > 0], c.Risk)
	if it := c.Intent; it != nil && (len(it.Goals) > 0 || it.Environment != "") {
		env := it.Environment
		if env == "" {
			env = "no named environment"
		}
		fmt.Fprintf(&b, " Requested: %s in %s.", list(it.Goals), env)
	}
	var gates []string
	for _, n := range gateNodes(in.Graph) {
		d, _ := decision(in, n.Gate.Name)
		gates = append(gates, fmt.Sprintf("%s (tier %s) %s", n.Gate.Name, n.Gate.Tier, d))
	}
	if len(gates) > 0 {
		fmt.Fprintf(&b, " Gates: %s.", strings.Join(gates, "; "))
	} else {
		b.WriteString(" No gate was required.")
	}
	bl := blocking(in.Findings)
	switch len(bl) {
	case 0:
		b.WriteString(" No blocking finding.")
	default:
		fmt.Fprintf(&b, " Blocking findings: %d, first %s.", len(bl), findingSubject(bl[0]))
	}
	if p := in.Plan; p != nil {
		var st []string
		for _, s := range p.Services {
			st = append(st, s.Name+" "+s.Strategy)
		}
		sort.Strings(st)
		if len(p.Steps) == 0 {
			b.WriteString(" The plan deploys nothing.")
		} else {
			fmt.Fprintf(&b, " The plan has %d step(s) and %d rollback step(s): %s.", len(p.Steps), len(p.Rollback), list(st))
		}
	}
	return b.String()
}
