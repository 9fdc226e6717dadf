package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/trivyscan"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Rules of the scan's own findings.
const (
	RuleUnparseable = "scan.unparseable"  // a manifest, Terraform file or Dockerfile that does not parse
	RuleHelmRender  = "scan.helm-render"  // a chart that does not render with its values
	RuleTrivyFailed = "scan.trivy-failed" // Trivy could not check a file
)

// candidate is a finding before the policy decides it.
type candidate struct {
	f workspace.Finding
	// in is what finding rules see.
	in rules.PolicyFinding
	// by is the resource rule that made it (nil for Trivy and scan findings).
	by *rules.Rule
	// obj is the Kubernetes object it is about, when known.
	obj *object
}

func resourceName(o *object) string {
	r := o.res
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

func withObject(c *candidate, o *object) {
	if o == nil {
		return
	}
	c.obj = o
	c.f.Resource = resourceName(o)
	c.f.Object = &workspace.Resource{Kind: o.res.Kind, Name: o.res.Name, Namespace: o.res.Namespace}
	c.in.ResourceKind, c.in.ResourceName, c.in.Namespace = o.res.Kind, o.res.Name, o.res.Namespace
}

// policyCandidate is a finding made by a resource rule.
func policyCandidate(r *rules.Rule, o *object) *candidate {
	e := r.Effect.Policy
	c := &candidate{by: r, in: rules.PolicyFindingOf(r, &o.res)}
	c.f = workspace.Finding{
		Rule: r.ID, Source: workspace.SourcePolicy, Severity: e.Severity, Title: oneLine(r.Description),
		File: o.res.File, Line: o.res.Line, EndLine: o.res.EndLine,
		Message: r.Effect.Message, Why: oneLine(e.Why), Fix: oneLine(e.Fix),
	}
	withObject(c, o)
	return c
}

// misconfigCandidate is a finding of a Trivy check.
func misconfigCandidate(m trivyscan.Misconfig, o *object) *candidate {
	c := &candidate{}
	c.f = workspace.Finding{
		Rule: m.CheckID, Source: workspace.SourceMisconfig, Severity: m.Severity, Title: m.Title,
		File: m.File, Line: m.StartLine, EndLine: max(m.EndLine, m.StartLine), Resource: m.Resource,
		Message: m.Message, Why: oneLine(m.Why), Fix: oneLine(m.Fix), References: m.References,
	}
	c.in = rules.PolicyFinding{Source: workspace.SourceMisconfig, Rule: m.CheckID, Aliases: m.Aliases, Severity: m.Severity,
		Title: m.Title, Type: string(m.Type), Category: m.Service, File: m.File}
	withObject(c, o)
	return c
}

// secretCandidate is a finding of a Trivy secret rule. Its message never
// holds the secret.
func secretCandidate(s trivyscan.Secret) *candidate {
	c := &candidate{}
	c.f = workspace.Finding{
		Rule: s.RuleID, Source: workspace.SourceSecret, Severity: s.Severity, Title: s.Title,
		File: s.File, Line: s.StartLine, EndLine: max(s.EndLine, s.StartLine),
		Message: fmt.Sprintf("%s in plain text (value redacted)", s.Title),
		Why:     "A secret committed to the repository is readable by everyone with access to it, its history, its forks and its CI logs.",
		Fix:     "Remove it from the file and from history, rotate it, and load it at run time from a Secret or secret manager.",
	}
	c.in = rules.PolicyFinding{Source: workspace.SourceSecret, Rule: s.RuleID, Severity: s.Severity, Title: s.Title,
		Type: "secret", Category: s.Category, File: s.File}
	return c
}

// vulnCandidate is a known vulnerability of a pinned package.
func vulnCandidate(v trivyscan.Vulnerability) *candidate {
	c := &candidate{}
	title := v.Title
	if title == "" {
		title = v.ID
	}
	fix := fmt.Sprintf("Upgrade %s to %s or later.", v.Package, v.FixedVersion)
	if v.FixedVersion == "" {
		fix = fmt.Sprintf("No fixed version of %s is known: replace or remove it, or accept it with an exception until a fix ships.", v.Package)
	}
	why := oneLine(v.Description)
	if why == "" {
		why = "A known vulnerability in a dependency the release ships."
	}
	c.f = workspace.Finding{
		Rule: v.ID, Source: workspace.SourceVulnerability, Severity: v.Severity, Title: title,
		File: v.File, Line: v.StartLine, EndLine: v.EndLine, Resource: v.Package + "@" + v.InstalledVersion,
		Message: fmt.Sprintf("%s %s has %s: %s", v.Package, v.InstalledVersion, v.ID, title), Why: why, Fix: fix,
	}
	if v.PrimaryURL != "" {
		c.f.References = []string{v.PrimaryURL}
	}
	c.in = rules.PolicyFinding{Source: workspace.SourceVulnerability, Rule: v.ID, Severity: v.Severity, Title: title,
		Type: "lockfile", Category: v.Package, File: v.File}
	return c
}

// scanCandidate is one of the scan's own findings (an input it cannot read).
func scanCandidate(rule string, e *syntaxError, why, fix string) *candidate {
	c := &candidate{}
	c.f = workspace.Finding{
		Rule: rule, Source: workspace.SourceScan, Severity: "HIGH", Title: e.Msg,
		File: e.File, Line: e.Line, EndLine: e.Line, Message: e.Msg, Why: why, Fix: fix,
	}
	c.in = rules.PolicyFinding{Source: workspace.SourceScan, Rule: rule, Severity: "HIGH", Title: e.Msg, Type: "scan", File: e.File}
	return c
}

// findingID identifies a finding by what it is and where: source, rule,
// file, resource and message; the line only when there is no resource (a
// secret). Edits elsewhere in the file keep the id.
func findingID(f *workspace.Finding, ordinal int) string {
	key := strings.Join([]string{f.Source, f.Rule, f.File, f.Resource, f.Message}, "\x00")
	if f.Resource == "" {
		key += fmt.Sprintf("\x00%d", f.Line)
	}
	if ordinal > 0 {
		key += fmt.Sprintf("\x00#%d", ordinal)
	}
	sum := sha256.Sum256([]byte(key))
	return "F-" + hex.EncodeToString(sum[:])[:12]
}

// assignIDs gives every finding its id; identical findings are numbered in
// their (sorted) order.
func assignIDs(fs []workspace.Finding) {
	seen := map[string]int{}
	for i := range fs {
		base := findingID(&fs[i], 0)
		n := seen[base]
		seen[base] = n + 1
		if n == 0 {
			fs[i].ID = base
		} else {
			fs[i].ID = findingID(&fs[i], n)
		}
	}
}

// sortFindings orders findings by file, line, end line, rule, resource and
// message, so the same input always lists them the same way.
func sortFindings(fs []workspace.Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return lessFinding(&fs[i], &fs[j]) })
}

func lessFinding(a, b *workspace.Finding) bool {
	switch {
	case a.File != b.File:
		return a.File < b.File
	case a.Line != b.Line:
		return a.Line < b.Line
	case a.EndLine != b.EndLine:
		return a.EndLine < b.EndLine
	case a.Rule != b.Rule:
		return a.Rule < b.Rule
	case a.Resource != b.Resource:
		return a.Resource < b.Resource
	case a.Message != b.Message:
		return a.Message < b.Message
	}
	return a.ID < b.ID
}

// whyHere says what about this deployment made the decision.
func whyHere(t *rules.PolicyTarget, v rules.PolicyVerdict) workspace.WhyHere {
	w := workspace.WhyHere{Service: t.Service, Tier: t.Tier, Environment: t.Environment}
	var ctx string
	switch {
	case t.Service != "" && t.Tier != "":
		ctx = fmt.Sprintf("%s is a %s-tier service going to %s", t.Service, t.Tier, t.Environment)
	case t.Service != "":
		ctx = fmt.Sprintf("%s goes to %s", t.Service, t.Environment)
	default:
		ctx = fmt.Sprintf("this goes to %s (no catalog service owns the file)", t.Environment)
	}
	reason := ""
	if v.By != nil && v.By.Effect.Policy != nil {
		reason = v.By.Effect.Policy.Why
		if v.By.Scope != rules.PolicyFindingScope {
			reason = "" // the resource rule's why is the finding's why already
		}
	}
	verdict := "an advisory"
	if v.Blocker {
		verdict = "a blocker"
	}
	w.Reason = fmt.Sprintf("%s; %s", ctx, verdict)
	if reason != "" {
		w.Reason += ": " + oneLine(reason)
	}
	return w
}

// oneLine folds whitespace, so multi-line YAML text reads as one sentence.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
