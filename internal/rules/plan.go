package rules

import (
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// Strategies are the rollout strategies plan rules may choose.
var Strategies = []string{workspace.StrategyRolling, workspace.StrategyCanary, workspace.StrategyBlueGreen}

// MigrationOrders are the migration orders plan rules may choose.
var MigrationOrders = []string{workspace.MigrationBefore, workspace.MigrationExpandContract}

// FlagStates are the states a feature flag can be set to.
var FlagStates = []string{"on", "off"}

// PlanEffect is what a plan rule decides for one service. Each decision
// (strategy with its steps, migration, thresholds, flags) is taken by the
// first rule, in file order, that makes it.
type PlanEffect struct {
	Strategy   string                 `yaml:"strategy" json:"strategy,omitempty"`
	Steps      []workspace.CanaryStep `yaml:"steps" json:"steps,omitempty"`
	Migration  string                 `yaml:"migration" json:"migration,omitempty"`
	Thresholds *Thresholds            `yaml:"thresholds" json:"thresholds,omitempty"`
	Flags      *FlagEffect            `yaml:"flags" json:"flags,omitempty"`
}

// Thresholds are the alert thresholds that decide promotion: the highest
// error ratio (0..1) and 95th percentile latency the new version may show.
type Thresholds struct {
	ErrorRate  float64 `yaml:"errorRate" json:"errorRate"`
	LatencyP95 string  `yaml:"latencyP95" json:"latencyP95"`
}

// FlagEffect sets the state of the feature flags a change ships behind:
// during the rollout, after it is verified, and on rollback.
type FlagEffect struct {
	During   string `yaml:"during" json:"during"`
	After    string `yaml:"after" json:"after"`
	Fallback string `yaml:"fallback" json:"fallback"`
}

// The decisions a plan rule can make.
const (
	DecideStrategy   = "strategy"
	DecideMigration  = "migration"
	DecideThresholds = "thresholds"
	DecideFlags      = "flags"
)

// decisions returns the decisions an effect makes.
func (e *PlanEffect) decisions() []string {
	var out []string
	if e.Strategy != "" {
		out = append(out, DecideStrategy)
	}
	if e.Migration != "" {
		out = append(out, DecideMigration)
	}
	if e.Thresholds != nil {
		out = append(out, DecideThresholds)
	}
	if e.Flags != nil {
		out = append(out, DecideFlags)
	}
	return out
}

func decodePlan(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	if !allowedKeys(file, n, at, l, "plan rules", "strategy", "steps", "migration", "thresholds", "flags", "message") {
		return e
	}
	p := &PlanEffect{}
	e.Plan = p
	decodeInto(file, n, &struct {
		Strategy   *string                 `yaml:"strategy"`
		Steps      *[]workspace.CanaryStep `yaml:"steps"`
		Migration  *string                 `yaml:"migration"`
		Thresholds **Thresholds            `yaml:"thresholds"`
		Flags      **FlagEffect            `yaml:"flags"`
		Message    *string                 `yaml:"message"`
	}{&p.Strategy, &p.Steps, &p.Migration, &p.Thresholds, &p.Flags, &e.Message}, at, l)
	add := func(key string, format string, args ...any) {
		pos := at(yamlsrc.Get(n, key))
		l.Add(file, pos.Line, pos.Col, format, args...)
	}
	if p.Strategy != "" && !contains(Strategies, p.Strategy) {
		add("strategy", "strategy %q is not one of %q", p.Strategy, Strategies)
	}
	if len(p.Steps) > 0 && p.Strategy != workspace.StrategyCanary {
		add("steps", "steps are canary steps: give them with strategy: canary")
	}
	last := 0
	for i, s := range p.Steps {
		sn := yamlsrc.Items(yamlsrc.Get(n, "steps"))
		pos := at(n)
		if i < len(sn) {
			pos = at(sn[i])
		}
		if s.Weight <= last || s.Weight > 100 {
			l.Add(file, pos.Line, pos.Col, "canary step %d: weight %d must rise above %d and be at most 100", i+1, s.Weight, last)
		}
		last = s.Weight
		if s.Pause != "" {
			if d, err := time.ParseDuration(s.Pause); err != nil || d <= 0 {
				l.Add(file, pos.Line, pos.Col, "canary step %d: pause %q is not a positive duration such as 5m", i+1, s.Pause)
			}
		}
	}
	if p.Migration != "" && !contains(MigrationOrders, p.Migration) {
		add("migration", "migration %q is not one of %q", p.Migration, MigrationOrders)
	}
	if t := p.Thresholds; t != nil {
		if t.ErrorRate <= 0 || t.ErrorRate >= 1 {
			add("thresholds", "thresholds.errorRate %v must be a ratio between 0 and 1 (e.g. 0.01 for 1%%)", t.ErrorRate)
		}
		if d, err := time.ParseDuration(t.LatencyP95); err != nil || d <= 0 {
			add("thresholds", "thresholds.latencyP95 %q is not a positive duration such as 500ms", t.LatencyP95)
		}
	}
	if f := p.Flags; f != nil {
		for _, s := range []struct{ name, v string }{{"during", f.During}, {"after", f.After}, {"fallback", f.Fallback}} {
			if !contains(FlagStates, s.v) {
				add("flags", "flags.%s %q is not one of %q", s.name, s.v, FlagStates)
			}
		}
	}
	if len(p.decisions()) == 0 {
		pos := at(n)
		l.Add(file, pos.Line, pos.Col, "effect decides nothing: give strategy, migration, thresholds or flags")
	}
	return e
}

// PlanDecision is what the plan rules decided for one service: each decision
// with the rule that made it.
type PlanDecision struct {
	Strategy   string
	Steps      []workspace.CanaryStep
	Migration  string
	Thresholds *Thresholds
	Flags      *FlagEffect
	// By maps each decision (DecideStrategy, …) to the rule that made it.
	By map[string]*Rule
}

// ApplyPlan evaluates the plan rules for one service of change. Rules run in
// order; a rule fires when its `when` holds and it makes a decision no rule
// before it made (a rule whose decisions are all taken is not evaluated).
func (s *Set) ApplyPlan(c *workspace.Change, svc *workspace.PlanService) (*PlanDecision, []workspace.Fired, error) {
	d := &PlanDecision{By: map[string]*Rule{}}
	var fired []workspace.Fired
	vars := map[string]any{"change": c, "service": svc}
	for _, r := range s.Rules(Plan, "") {
		e := r.Effect.Plan
		open := slices.DeleteFunc(e.decisions(), func(k string) bool { return d.By[k] != nil })
		if len(open) == 0 {
			continue
		}
		ok, err := r.Eval(vars)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		for _, k := range open {
			d.By[k] = r
			switch k {
			case DecideStrategy:
				d.Strategy, d.Steps = e.Strategy, e.Steps
			case DecideMigration:
				d.Migration = e.Migration
			case DecideThresholds:
				d.Thresholds = e.Thresholds
			case DecideFlags:
				d.Flags = e.Flags
			}
		}
		fired = append(fired, workspace.Fired{ID: r.ID, Message: message(r)})
	}
	return d, fired, nil
}
