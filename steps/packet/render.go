package packet

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/explain"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

// Render writes packet.md for people: the verdict first, then the change, the
// rules that fired, the graph, each gate's decisions, findings, the audit trail
// and the file digests. files are the digests of the other covered files.
func Render(p Packet, cat *catalog.Catalog, findings *Findings, files map[string]string) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Release packet: %s\n\n", strings.ToUpper(p.Verdict))
	w("**Verdict: %s** — %s\n\n", p.Verdict, p.Reason)
	if e := p.Explanations; e != nil && e.Summary.Text != "" {
		w("%s\n\n_(%s)_\n\n", e.Summary.Text, explainedBy(e.Summary))
	}
	w("- Signed with ed25519 key `%s`; check it with `rehearsal packet verify <dir>`.\n", p.KeyID)
	w("- Rules: `%s`\n- Catalog: `%s`\n- Tool version: `%s`\n\n", p.RulesDigest, p.CatalogDigest, p.ToolVersion)

	c := p.Change
	w("## Change\n\n")
	w("- Author: %s\n", cell(c.Author))
	switch c.Source.Kind {
	case "event":
		w("- Source: %s event, %s..%s %s\n", cell(c.Source.Event), short(c.Source.Base), short(c.Source.Head), cell(c.Source.Ref))
	default:
		w("- Source: %s..%s\n", short(c.Source.Base), short(c.Source.Head))
	}
	if c.Request != "" {
		w("- Request: %s\n", cell(c.Request))
	}
	w("- Classes: %s\n", list(c.Classes))
	w("- Risk: **%s**\n\n", c.Risk)

	if len(c.Services) > 0 {
		w("### Services\n\n| Service | Tier | Owners |\n|---|---|---|\n")
		for _, s := range c.Services {
			var owners []string
			for _, o := range s.Owners {
				owners = append(owners, fmt.Sprintf("%s (%s)", o, strings.Join(members(cat, o), ", ")))
			}
			w("| %s | %s | %s |\n", cell(s.Name), cell(s.Tier), cell(strings.Join(owners, "; ")))
		}
		w("\n")
	}

	w("### Files changed (%d)\n\n", len(c.Files))
	if len(c.Files) > 0 {
		w("| Path | Status | Kind | + | − | Destructive |\n|---|---|---|---|---|---|\n")
		for _, f := range c.Files {
			path := f.Path
			if f.OldPath != "" {
				path = f.OldPath + " → " + f.Path
			}
			w("| %s | %s | %s | %d | %d | %s |\n", cell(path), f.Status, cell(f.Kind), f.Added, f.Removed, yes(f.Destructive))
		}
		w("\n")
	}

	w("### Rules that fired (%d)\n\n", len(c.Rules))
	for _, r := range c.Rules {
		w("- `%s` — %s\n", r.ID, cell(r.Message))
	}
	if len(c.Rules) == 0 {
		w("None.\n")
	}
	w("\n")

	w("## Graph\n\n| Node | Step | After | Gate | Rules |\n|---|---|---|---|---|\n")
	for _, n := range p.Graph.Nodes {
		g := ""
		if n.Gate != nil {
			g = n.Gate.Name + " (" + n.Gate.Tier + ")"
		}
		w("| %s | %s | %s | %s | %s |\n", cell(n.ID), cell(n.Step), cell(strings.Join(n.DependsOn, ", ")), cell(g), cell(strings.Join(n.Rules, ", ")))
	}
	w("\n")

	w("## Gates\n\n")
	byGate := map[string]workspace.Approval{}
	for _, a := range p.Approvals {
		byGate[a.Gate] = a
	}
	gates := 0
	for _, n := range p.Graph.Nodes {
		if n.Gate == nil {
			continue
		}
		gates++
		g := n.Gate
		w("### %s\n\n", g.Name)
		policy := g.Policy
		if policy == "" {
			policy = g.Tier
		}
		w("Policy: %s (tier %s) — %d distinct approver(s) from %s", policy, g.Tier, gate.Needed(*g), list(g.Groups))
		if g.NotAuthor {
			w(", not the change's author")
		}
		if g.Timeout != "" {
			w("; rejects after %s", g.Timeout)
		}
		w(".\n\n")
		if e := explanation(p, "gate", g.Name); e != nil {
			w("%s _(%s)_\n\n", e.Text, explainedBy(*e))
		}
		a, ok := byGate[g.Name]
		if !ok {
			w("Decision: **pending** — no decision recorded yet.\n\n")
			continue
		}
		verified := "not verified"
		if a.Verified {
			verified = "verified"
		}
		w("Decision: **%s** (%s) — %s\n\n", a.Decision, verified, cell(a.Reason))
		if len(a.Records) > 0 {
			w("| Who | Decision | Through | Comment |\n|---|---|---|---|\n")
			for _, r := range a.Records {
				w("| %s | %s | %s | %s |\n", cell(r.User), r.Decision, cell(r.Source), cell(r.Comment))
			}
			w("\n")
		}
	}
	if gates == 0 {
		w("No gate was required.\n\n")
	}
	for _, a := range p.Graph.Auto {
		w("Gate %s (tier %s) passed without a person: policy auto (rules %s).\n\n", a.Name, a.Tier, strings.Join(a.Rules, ", "))
	}
	if len(p.Summary.Remediation) > 0 {
		w("## Remediation\n\nThe rejection opens these tasks:\n\n")
		for _, t := range p.Summary.Remediation {
			w("- **%s** (gate %s): %s\n", t.ID, t.Gate, cell(t.String()))
		}
		w("\n")
	}
	if ps := p.Summary.Plan; ps != nil {
		w("## Deploy plan\n\n%d step(s); %d advisory(ies). See runbook.md.\n\n", ps.Steps, ps.Advisories)
		if len(ps.Services) > 0 {
			w("| Service | Strategy | Chosen by | Migration |\n|---|---|---|---|\n")
			for _, sv := range ps.Services {
				w("| %s | %s | %s | %s |\n", cell(sv.Name), cell(sv.Strategy), cell(sv.Rule), cell(sv.Migration))
			}
			w("\n")
		}
		if len(ps.Rollback) > 0 {
			w("Rollback, in order:\n\n")
			for _, r := range ps.Rollback {
				w("1. %s\n", cell(r))
			}
			w("\n")
		}
	}
	if ds := p.Summary.Dataset; ds != nil {
		w("## Test data\n\n%d table(s), %d source row(s), %d target row(s); verified: %s.\n\n", ds.Tables, ds.SourceRows, ds.TargetRows, yes(ds.Verified))
	}

	if findings != nil {
		blockers := findings.Open()
		w("## Findings\n\n%d finding(s), %d unexcepted blocker(s).\n\n", len(findings.Findings), len(blockers))
		if len(blockers) > 0 {
			w("| Rule | Where | Message |\n|---|---|---|\n")
			for _, f := range blockers {
				where := f.File
				if f.Line > 0 {
					where = fmt.Sprintf("%s:%d", f.File, f.Line)
				}
				w("| %s | %s | %s |\n", cell(f.Rule), cell(where), cell(f.Message))
			}
			w("\n")
			if e := p.Explanations; e != nil {
				for _, x := range e.Findings {
					w("- `%s`: %s _(%s)_\n", x.Subject, x.Text, explainedBy(x))
				}
				if len(e.Findings) > 0 {
					w("\n")
				}
			}
		}
	}

	if len(p.Summary.Evidence) > 0 {
		w("## Evidence\n\n| What | File |\n|---|---|\n")
		for _, e := range p.Summary.Evidence {
			w("| %s | %s |\n", cell(e.What), cell(e.File))
		}
		w("\n")
	}

	if len(p.ModelCalls) > 0 {
		w("## Model calls\n\n| Purpose | Subject | Model | Prompt | Used | Tokens | Latency |\n|---|---|---|---|---|---|---|\n")
		for _, c := range p.ModelCalls {
			w("| %s | %s | %s | %s | %s | %d | %d ms |\n", cell(c.Purpose), cell(c.Subject), cell(c.Model), cell(c.Prompt), yes(c.Used), c.PromptTokens+c.ResponseTokens, c.LatencyMS)
		}
		w("\n")
	}

	w("## Audit\n\n")
	if len(p.Audit) == 0 {
		w("No audit entries.\n\n")
	} else {
		w("| Node | Step | Image | Start | End | Exit |\n|---|---|---|---|---|---|\n")
		for _, e := range p.Audit {
			w("| %s | %s | %s | %s | %s | %d |\n", cell(e.Node), cell(e.Step), cell(e.Image), e.Start, e.End, e.ExitCode)
		}
		w("\n")
	}

	w("## File digests\n\n| File | SHA-256 |\n|---|---|\n")
	paths := make([]string, 0, len(files))
	for k := range files {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, k := range paths {
		w("| %s | `%s` |\n", cell(k), strings.TrimPrefix(files[k], "sha256:"))
	}
	w("\npacket.md itself is covered by packet.json; packet.json by packet.sig.\n")
	return b.Bytes()
}

// explanation finds the explanation of a kind and subject.
func explanation(p Packet, kind, subject string) *explain.Explanation {
	if p.Explanations == nil {
		return nil
	}
	list := p.Explanations.Findings
	if kind == "gate" {
		list = p.Explanations.Gates
	}
	for i := range list {
		if list[i].Subject == subject {
			return &list[i]
		}
	}
	return nil
}

// explainedBy says who wrote an explanation, so a reader knows what to trust.
func explainedBy(e explain.Explanation) string {
	if e.Source == explain.FromModel {
		return "written by the model; it decides nothing"
	}
	return "from the rules' template"
}

func members(cat *catalog.Catalog, group string) []string {
	if cat == nil {
		return nil
	}
	m := append([]string{}, cat.Members(group)...)
	sort.Strings(m)
	return m
}

// cell makes text safe inside a Markdown table cell or list item.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return cell(strings.Join(xs, ", "))
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
