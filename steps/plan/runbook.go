package plan

import (
	"fmt"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Runbook renders plan.json for the operator who carries it out: the order
// and why, the strategy and checks per service, the gated contract steps, the
// rollback triggers and the rollback steps in reverse order. Every decision
// names its rule.
func Runbook(p *workspace.Plan) []byte {
	var b strings.Builder
	b.Grow(512 * (len(p.Steps) + len(p.Rollback) + 1)) // about what a step's lines take
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Release runbook\n\n")
	w("Risk **%s**, classes %s. Rules `%s`, catalog `%s`.\n\n", p.Risk, orNone(p.Classes), short(p.RulesDigest), short(p.CatalogDigest))
	if len(p.Steps) == 0 {
		w("Nothing to deploy: the change deploys no service.\n")
		return []byte(b.String())
	}
	if len(p.Edges) > 0 {
		w("## Topology\n\n")
		for _, e := range p.Edges {
			w("- %s depends on %s (%s)\n", e.From, e.To, e.Source)
		}
		w("\n")
	}
	w("## Steps\n\n")
	w("Run in this order; a step starts only when the steps it waits for are done.\n\n")
	for i, s := range p.Steps {
		gate := ""
		if s.Gated {
			gate = " — **separate approval required**"
		}
		w("%d. **%s** (%s %s)%s  \n", i+1, s.ID, s.Action, s.Service, gate)
		w("   %s.  \n", capital(s.Why))
		if len(s.After) > 0 {
			w("   Waits for: %s.  \n", strings.Join(s.After, ", "))
		}
		if s.Rollout != "" {
			w("   Apply: `kubectl apply -f %s`.  \n", s.Rollout)
		}
		w("   Rule(s): %s.\n", code(s.Rules))
		for _, st := range s.Statements {
			w("   - `%s`\n", st)
		}
	}
	w("\n## Services\n\n")
	for _, s := range p.Services {
		w("### %s\n\n", s.Name)
		w("- Tier %s, %s", s.Tier, s.Workload)
		if s.Manifest != "" {
			w(" (%s)", s.Manifest)
		}
		w(".\n")
		w("- Strategy: **%s** — %s (rule `%s`).\n", s.Strategy, strategyText(s), s.StrategyRule)
		if s.Migration != "" {
			w("- Migration: **%s** (rule `%s`).\n", s.Migration, s.MigrationRule)
		}
		if len(s.HealthChecks) > 0 {
			w("- Health checks:\n")
			for _, h := range s.HealthChecks {
				w("  - %s: %s (%s)\n", h.Kind, h.Detail, h.Source)
			}
		} else {
			w("- Health checks: none found in the manifests.\n")
		}
		w("- Alert thresholds (Prometheus):\n")
		for _, a := range s.Alerts {
			w("  - %s: `%s` must satisfy `%s` (rule `%s`)\n", a.Name, a.Query, a.Condition, a.Rule)
		}
		if len(s.Flags) > 0 {
			w("- Feature flags:\n")
			for _, f := range s.Flags {
				w("  - %s: %s during the rollout, %s after verification, fallback %s (rule `%s`)\n", f.Name, f.During, f.After, f.Fallback, f.Rule)
			}
		}
		w("- Roll back when:\n")
		for _, t := range s.RollbackTriggers {
			if t.Rule != "" {
				w("  - %s (rule `%s`)\n", t.When, t.Rule)
			} else {
				w("  - %s\n", t.When)
			}
		}
		w("\n")
	}
	w("## Rollback\n\n")
	w("Undo only the steps that ran, in this order.")
	hasContract := false
	for _, s := range p.Steps {
		hasContract = hasContract || s.Action == workspace.ActionContract
	}
	if hasContract {
		w(" Contract steps cannot be rolled back: once one ran, going back means restoring the backup taken in its migrate step.")
	}
	w("\n\n")
	for i, r := range p.Rollback {
		w("%d. **%s** (%s %s): %s", i+1, r.ID, r.Action, r.Service, r.How)
		if len(r.After) > 0 {
			w(" — after %s", strings.Join(r.After, ", "))
		}
		w(".\n")
	}
	if len(p.Advisories) > 0 {
		w("\n## Advisories\n\n")
		for _, a := range p.Advisories {
			if a.Source != "" {
				w("- %s (%s): %s.\n", a.Service, a.Source, a.Message)
			} else {
				w("- %s: %s.\n", a.Service, a.Message)
			}
		}
	}
	w("\n## Rules\n\n")
	for _, r := range p.Rules {
		w("- `%s`: %s\n", r.ID, r.Message)
	}
	return []byte(b.String())
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func code(s []string) string {
	var out []string
	for _, x := range s {
		out = append(out, "`"+x+"`")
	}
	return strings.Join(out, ", ")
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
