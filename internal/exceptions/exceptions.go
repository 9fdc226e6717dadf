// Package exceptions reads the exceptions ledger (exceptions.yaml): accepted
// findings, each with an owner, a reason and an expiry date, scoped to a
// rule or finding and to resources or paths. Status is the one place an
// entry's expiry is judged — the scan step, the CLI and the packet replay all
// go through it, with "now" passed in, so that the same inputs always decide
// the same way. An expired entry never applies.
package exceptions

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// APIVersion and Kind head every ledger.
const (
	APIVersion = "rehearsal.dev/v1"
	Kind       = "exceptions"
)

// DateLayout is how expiry dates are written.
const DateLayout = "2006-01-02"

// WarnWithin is how close to its expiry an entry is reported as expiring.
const WarnWithin = 14 // days

// Ledger is a loaded exceptions file.
type Ledger struct {
	File    string
	Entries []*Entry
}

// Entry is one accepted finding.
type Entry struct {
	ID string `yaml:"id"`
	// Rule is the canonical id of the rule the entry accepts findings of
	// (aliases are resolved when the ledger is loaded); Finding, the id of
	// one finding. One of the two is given.
	Rule    string `yaml:"rule"`
	Finding string `yaml:"finding"`
	// Resource (Kind/namespace/name) and Path (the finding's file) are
	// globs; at least one scopes a rule-wide entry.
	Resource string `yaml:"resource"`
	Path     string `yaml:"path"`
	Owner    string `yaml:"owner"`
	Reason   string `yaml:"reason"`
	Expires  string `yaml:"expires"`

	expires time.Time
	Line    int `yaml:"-"`
}

// At is the entry's place in the ledger.
func (e *Entry) At(file string) string { return fmt.Sprintf("%s:%d", file, e.Line) }

// State is where an entry stands on a given day.
type State int

// The states.
const (
	Active   State = iota // applies
	Expiring              // applies, and expires within WarnWithin days
	Expired               // never applies
)

func (s State) String() string {
	return [...]string{"active", "expiring", "expired"}[s]
}

// Status judges an entry's expiry on the day of now (UTC). The expiry date
// is inclusive: an entry expiring 2026-03-01 applies through that day. It
// returns the state and the days left (negative once expired).
func Status(e *Entry, now time.Time) (State, int) {
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	left := int(e.expires.Sub(today).Hours() / 24)
	switch {
	case left < 0:
		return Expired, left
	case left <= WarnWithin:
		return Expiring, left
	}
	return Active, left
}

// Known resolves a rule id (or alias) to its canonical id, reporting whether
// any scanner knows it.
type Known func(id string) (canonical string, ok bool)

var (
	idRe      = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	findingRe = regexp.MustCompile(`^F-[0-9a-f]{12}$`)
)

type rawLedger struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Exceptions []Entry `yaml:"exceptions"`
}

// Load reads and validates a ledger. Every problem — unknown keys, missing
// owner or reason, a date that is not YYYY-MM-DD, a rule no scanner knows, a
// bad glob, a duplicate id — is reported at its file:line:col, all at once.
func Load(path string, known Known) (*Ledger, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exceptions: %w", err)
	}
	return Parse(path, data, known)
}

// Parse validates ledger source read from file.
func Parse(file string, data []byte, known Known) (*Ledger, error) {
	doc, err := yamlsrc.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var raw rawLedger
	if err := doc.Decode(&raw); err != nil {
		return nil, err
	}
	var l diag.List
	add := func(n, fb *yaml.Node, format string, args ...any) {
		p := yamlsrc.At(n, fb)
		l.Add(file, p.Line, p.Col, format, args...)
	}
	if raw.APIVersion != APIVersion {
		add(yamlsrc.Get(doc.Root, "apiVersion"), doc.Root, "apiVersion must be %q, got %q", APIVersion, raw.APIVersion)
	}
	if raw.Kind != Kind {
		add(yamlsrc.Get(doc.Root, "kind"), doc.Root, "kind must be %q, got %q", Kind, raw.Kind)
	}
	if yamlsrc.Get(doc.Root, "exceptions") == nil {
		add(doc.Root, nil, "no exceptions key (use `exceptions: []` for an empty ledger)")
	}
	items := yamlsrc.Items(yamlsrc.Get(doc.Root, "exceptions"))
	ledger := &Ledger{File: file}
	ids := map[string]int{}
	for i := range raw.Exceptions {
		e := &raw.Exceptions[i]
		node := items[i]
		e.Line = node.Line
		field := func(k string) *yaml.Node { return yamlsrc.Get(node, k) }
		name := e.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case e.ID == "":
			add(node, nil, "exception %s has no id", name)
		case !idRe.MatchString(e.ID):
			add(field("id"), node, "exception id %q: use lower-case letters, digits, '.' and '-'", e.ID)
		case ids[e.ID] > 0:
			add(field("id"), node, "exception %q is listed twice (first at line %d)", e.ID, ids[e.ID])
		}
		ids[e.ID] = node.Line
		switch {
		case e.Rule == "" && e.Finding == "":
			add(node, nil, "exception %s names neither a rule nor a finding", name)
		case e.Rule != "" && e.Finding != "":
			add(field("finding"), node, "exception %s names both a rule and a finding: give one", name)
		case e.Finding != "" && !findingRe.MatchString(e.Finding):
			add(field("finding"), node, "exception %s: finding %q is not a finding id (F- and 12 hex digits, from findings.json)", name, e.Finding)
		case e.Rule != "":
			canon, ok := known(e.Rule)
			if !ok {
				add(field("rule"), node, "exception %s: unknown rule %q (not a policy rule, a Trivy check or a secret rule)", name, e.Rule)
			} else {
				e.Rule = canon
			}
		}
		if e.Rule != "" && e.Resource == "" && e.Path == "" {
			add(field("rule"), node, "exception %s accepts rule %s everywhere: scope it with resource or path (path: \"**\" if you mean it)", name, e.Rule)
		}
		for _, g := range []struct{ key, v string }{{"resource", e.Resource}, {"path", e.Path}} {
			if g.v != "" && !doublestar.ValidatePattern(g.v) {
				add(field(g.key), node, "exception %s: %s %q is not a valid glob", name, g.key, g.v)
			}
		}
		if strings.TrimSpace(e.Owner) == "" {
			add(node, nil, "exception %s has no owner", name)
		}
		if strings.TrimSpace(e.Reason) == "" {
			add(node, nil, "exception %s has no reason", name)
		}
		if e.Expires == "" {
			add(node, nil, "exception %s has no expires date (YYYY-MM-DD)", name)
		} else if t, err := time.Parse(DateLayout, e.Expires); err != nil {
			add(field("expires"), node, "exception %s: expires %q is not a date (YYYY-MM-DD)", name, e.Expires)
		} else {
			e.expires = t
		}
		ledger.Entries = append(ledger.Entries, e)
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return ledger, nil
}

// Matches reports whether e covers f (expiry aside).
func (e *Entry) Matches(f *workspace.Finding) bool {
	if e.Finding != "" && e.Finding != f.ID {
		return false
	}
	if e.Rule != "" && e.Rule != f.Rule {
		return false
	}
	if e.Resource != "" {
		if ok, _ := doublestar.Match(e.Resource, f.Resource); !ok {
			return false
		}
	}
	if e.Path != "" {
		if ok, _ := doublestar.Match(e.Path, f.File); !ok {
			return false
		}
	}
	return true
}

// Outcome is what the ledger did on one scan.
type Outcome struct {
	// Applied maps an entry id to the number of findings it covers.
	Applied map[string]int
	// Findings are the scan's own findings about the ledger: entries that
	// expire soon, entries that expired (both advisories, at the entry's line).
	Findings []workspace.Finding
	// Notes name the active entries that covered nothing.
	Notes []workspace.ScanNote
}

// Rules the ledger's own findings carry.
const (
	RuleExpiring = "scan.exception-expiring"
	RuleExpired  = "scan.exception-expired"
)

// Apply marks every finding an active or expiring entry covers (the first
// such entry in ledger order) and reports on the ledger itself. An expired
// entry never applies. A nil ledger does nothing.
func (l *Ledger) Apply(findings []workspace.Finding, now time.Time) Outcome {
	out := Outcome{Applied: map[string]int{}}
	if l == nil {
		return out
	}
	states := make([]State, len(l.Entries))
	for i, e := range l.Entries {
		st, left := Status(e, now)
		states[i] = st
		switch st {
		case Expiring:
			out.Findings = append(out.Findings, l.ledgerFinding(e, RuleExpiring,
				fmt.Sprintf("exception %s expires on %s (%s)", e.ID, e.Expires, inDays(left)),
				"When it expires the findings it covers count again, and blockers among them fail the release.",
				"Fix what it covers, or have "+e.Owner+" renew it with a new reason and date."))
		case Expired:
			out.Findings = append(out.Findings, l.ledgerFinding(e, RuleExpired,
				fmt.Sprintf("exception %s expired on %s and no longer applies", e.ID, e.Expires),
				"An expired exception is ignored: the findings it covered count again.",
				"Fix what it covered, or have "+e.Owner+" renew it with a new reason and date; remove it otherwise."))
		}
	}
	for i := range findings {
		f := &findings[i]
		for j, e := range l.Entries {
			if states[j] == Expired || !e.Matches(f) {
				continue
			}
			f.Excepted = true
			f.Exception = &workspace.AppliedException{ID: e.ID, Owner: e.Owner, Reason: e.Reason, Expires: e.Expires, At: e.At(l.File)}
			out.Applied[e.ID]++
			break
		}
	}
	for j, e := range l.Entries {
		if states[j] != Expired && out.Applied[e.ID] == 0 {
			out.Notes = append(out.Notes, workspace.ScanNote{File: l.File, Line: e.Line,
				Message: fmt.Sprintf("exception %s covers no finding: remove it if what it accepted is gone", e.ID)})
		}
	}
	return out
}

func (l *Ledger) ledgerFinding(e *Entry, rule, msg, why, fix string) workspace.Finding {
	return workspace.Finding{
		Rule: rule, Source: workspace.SourceScan, Severity: "LOW", Title: msg, Message: msg,
		File: l.File, Line: e.Line, EndLine: e.Line, Resource: "exception/" + e.ID, Why: why, Fix: fix,
	}
}

func inDays(n int) string {
	switch n {
	case 0:
		return "today is its last day"
	case 1:
		return "in 1 day"
	}
	return fmt.Sprintf("in %d days", n)
}
