package plan

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Design is a plan with what rendering its artifacts needs.
type Design struct {
	Plan *workspace.Plan
	// services by name, with the decisions and manifests behind them.
	services map[string]*serviceDesign
	// files holds the change's files by service.
	files map[string][]*workspace.File
	// index is each planned service's position in Plan.Services.
	index map[string]int
}

type serviceDesign struct {
	svc      workspace.PlanService
	decision *rules.PlanDecision
	workload *Workload
	kube     []*KubeService
}

// deploysNothing reports whether the change's classes deploy nothing (none,
// or docs only).
func deploysNothing(c *workspace.Change) bool {
	return len(c.Classes) == 0 || (len(c.Classes) == 1 && c.Classes[0] == "docs")
}

// Build designs the plan for change: the services it deploys in topological
// order, each one's strategy, migrations, checks, alerts and flags as the plan
// rules decide, the forward steps and the rollback steps in reverse order.
// It is pure: the same arguments always give the same plan.
func Build(change *workspace.Change, cat *catalog.Catalog, m *Manifests, set *rules.Set) (*Design, error) {
	topo, err := BuildTopology(cat, m)
	if err != nil {
		return nil, exitcode.Input(err)
	}
	p := &workspace.Plan{
		RulesDigest: set.Digest, CatalogDigest: cat.Digest(), Risk: change.Risk,
		Classes:  slices.Clone(change.Classes),
		Services: []workspace.PlannedService{}, Steps: []workspace.PlanStep{}, Rollback: []workspace.RollbackStep{},
		Edges: []workspace.Edge{}, Advisories: []workspace.Advisory{}, Rules: []workspace.Fired{},
	}
	if p.Classes == nil {
		p.Classes = []string{}
	}
	d := &Design{Plan: p, services: map[string]*serviceDesign{}, files: map[string][]*workspace.File{}, index: map[string]int{}}
	for i := range change.Files {
		f := &change.Files[i]
		for _, s := range f.Services {
			d.files[s] = append(d.files[s], f)
		}
	}
	if deploysNothing(change) {
		return d, nil
	}
	byName := map[string]catalog.Service{}
	for _, s := range cat.Services {
		byName[s.Name] = s
	}
	var names []string
	for _, s := range change.Services {
		if _, ok := byName[s.Name]; !ok {
			return nil, exitcode.Inputf("change.json names service %q, which is not in the catalog", s.Name)
		}
		names = append(names, s.Name)
	}
	order := topo.Order(names)
	p.Edges = topo.edges(order)
	if p.Edges == nil {
		p.Edges = []workspace.Edge{}
	}
	// The rules are evaluated per service, concurrently (compiled CEL programs
	// are safe for that); results are merged in deploy order.
	type evaluated struct {
		sd    *serviceDesign
		fired []workspace.Fired
		err   error
	}
	results := make([]evaluated, len(order))
	var wg sync.WaitGroup
	workers := max(1, runtime.GOMAXPROCS(0))
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(order); i += workers {
				name := order[i]
				sd := &serviceDesign{svc: planService(d.files[name], byName[name], topo, m), workload: m.Workloads[name], kube: m.Services[name]}
				dec, fr, err := set.ApplyPlan(change, &sd.svc)
				sd.decision = dec
				results[i] = evaluated{sd: sd, fired: fr, err: err}
			}
		})
	}
	wg.Wait()
	fired := map[string]bool{}
	var problems []string
	for i, name := range order {
		r := results[i]
		if r.err != nil {
			return nil, exitcode.Input(fmt.Errorf("plan rules for service %s: %w", name, r.err))
		}
		for _, f := range r.fired {
			if !fired[f.ID] {
				fired[f.ID] = true
				p.Rules = append(p.Rules, f)
			}
		}
		problems = append(problems, check(r.sd)...)
		d.services[name] = r.sd
	}
	if len(problems) > 0 {
		return nil, exitcode.Input(&Invalid{Problems: problems})
	}
	slices.SortFunc(p.Rules, func(a, b workspace.Fired) int { return strings.Compare(a.ID, b.ID) })
	for _, name := range order {
		sd := d.services[name]
		ps, adv := d.serviceplan(sd)
		d.index[name] = len(p.Services)
		p.Services = append(p.Services, ps)
		p.Advisories = append(p.Advisories, adv...)
	}
	d.steps(order, topo)
	d.rollback()
	return d, nil
}

// Invalid lists every decision the plan cannot carry out, each naming the
// rule that made it. Its exit code is 2.
type Invalid struct{ Problems []string }

func (e *Invalid) Error() string { return "invalid plan:\n  " + strings.Join(e.Problems, "\n  ") }

// check refuses a strategy the service's workload cannot use and a missing
// decision the plan needs.
func check(sd *serviceDesign) []string {
	var out []string
	name, dec := sd.svc.Name, sd.decision
	if dec.Strategy == "" {
		out = append(out, fmt.Sprintf("service %s: no plan rule chose a strategy (add a default rule such as `when: \"true\"` with `strategy: rolling`)", name))
	} else if sd.svc.Workload == "StatefulSet" && dec.Strategy != workspace.StrategyRolling {
		r := dec.By[rules.DecideStrategy]
		where := ""
		if sd.workload != nil {
			where = fmt.Sprintf(" (%s:%d)", sd.workload.File, sd.workload.Line)
		}
		out = append(out, fmt.Sprintf("rule %s (%s) chooses %s for service %s, but its workload is a StatefulSet%s: Argo Rollouts manages Deployments only; a StatefulSet can only roll", r.ID, r.Pos(), dec.Strategy, name, where))
	}
	if len(sd.svc.Migrations) > 0 && dec.Migration == "" {
		out = append(out, fmt.Sprintf("service %s: the change migrates its database but no plan rule decided the migration order", name))
	}
	if dec.Thresholds == nil {
		out = append(out, fmt.Sprintf("service %s: no plan rule set alert thresholds", name))
	}
	return out
}

// planService is what the plan rules see of one service.
func planService(files []*workspace.File, cs catalog.Service, topo *Topology, m *Manifests) workspace.PlanService {
	s := workspace.PlanService{
		Name: cs.Name, Tier: cs.Tier, Owners: slices.Clone(cs.Owners), Traffic: cs.Traffic,
		Workload: "Deployment", Replicas: 1, Database: cs.Database,
		Migrations: []string{}, Flags: []string{},
		DependsOn: slices.Clone(topo.Deps[cs.Name]), Dependents: topo.Dependents(cs.Name),
	}
	if s.Traffic == "" {
		s.Traffic = "normal"
	}
	if s.DependsOn == nil {
		s.DependsOn = []string{}
	}
	if s.Owners == nil {
		s.Owners = []string{}
	}
	if w := m.Workloads[cs.Name]; w != nil {
		s.Workload, s.Replicas = w.Kind, w.Replicas
		s.Readiness, s.Liveness = len(w.PodSpec.Containers) > 0, len(w.PodSpec.Containers) > 0
		for _, c := range w.PodSpec.Containers {
			s.Readiness = s.Readiness && c.ReadinessProbe != nil
			s.Liveness = s.Liveness && c.LivenessProbe != nil
		}
	}
	for _, f := range files {
		if f.Kind == "migration" && f.Status != "D" {
			s.Migrations = append(s.Migrations, f.Path)
			s.Destructive = s.Destructive || f.Destructive
		}
		for _, fl := range cs.Flags {
			if catalog.MatchAny(fl.Paths, f.Path) && !slices.Contains(s.Flags, fl.Name) {
				s.Flags = append(s.Flags, fl.Name)
			}
		}
	}
	slices.Sort(s.Flags)
	return s
}

// serviceplan fills in one service's strategy, checks, alerts, triggers and
// flags, and the advisories about it.
func (d *Design) serviceplan(sd *serviceDesign) (workspace.PlannedService, []workspace.Advisory) {
	s, dec := sd.svc, sd.decision
	ps := workspace.PlannedService{
		Name: s.Name, Tier: s.Tier, Workload: s.Workload, Strategy: dec.Strategy,
		StrategyRule: dec.By[rules.DecideStrategy].ID, Canary: slices.Clone(dec.Steps),
		HealthChecks: []workspace.HealthCheck{}, Alerts: []workspace.Alert{}, RollbackTriggers: []workspace.Trigger{},
	}
	if r := dec.By[rules.DecideMigration]; r != nil {
		ps.Migration, ps.MigrationRule = dec.Migration, r.ID
	}
	var adv []workspace.Advisory
	w := sd.workload
	if w == nil {
		adv = append(adv, workspace.Advisory{Service: s.Name, Message: fmt.Sprintf("no Deployment or StatefulSet found in the manifests of %s: the plan assumes a Deployment named %s and cannot check its probes", s.Name, s.Name)})
	} else {
		ps.Manifest = w.File
		for i, c := range w.PodSpec.Containers {
			src := w.File
			if i < len(w.Containers) {
				src = fmt.Sprintf("%s:%d:%d", w.File, w.Containers[i].Line, w.Containers[i].Col)
			}
			if c.ReadinessProbe != nil {
				ps.HealthChecks = append(ps.HealthChecks, workspace.HealthCheck{Kind: "readiness", Detail: fmt.Sprintf("container %s: %s", c.Name, probe(c.ReadinessProbe)), Source: src})
			} else {
				adv = append(adv, workspace.Advisory{Service: s.Name, Source: src, Message: fmt.Sprintf("container %s of %s %s has no readinessProbe: new pods take traffic as soon as they start, so a broken version is promoted until the alerts catch it; add a readinessProbe", c.Name, w.Kind, w.Name)})
			}
			if c.LivenessProbe != nil {
				ps.HealthChecks = append(ps.HealthChecks, workspace.HealthCheck{Kind: "liveness", Detail: fmt.Sprintf("container %s: %s", c.Name, probe(c.LivenessProbe)), Source: src})
			}
		}
	}
	if ks := firstService(sd.kube); ks != nil && len(ks.Ports) > 0 {
		path := "/"
		if w != nil && len(w.PodSpec.Containers) > 0 {
			if rp := w.PodSpec.Containers[0].ReadinessProbe; rp != nil && rp.HTTPGet != nil && rp.HTTPGet.Path != "" {
				path = rp.HTTPGet.Path
			}
		}
		ps.HealthChecks = append(ps.HealthChecks, workspace.HealthCheck{Kind: "synthetic",
			Detail: fmt.Sprintf("GET http://%s:%d%s answers 2xx through the Service after each step", ks.Name, ks.Ports[0], path), Source: ks.File})
	}
	th := dec.Thresholds
	tr := dec.By[rules.DecideThresholds].ID
	lat, _ := time.ParseDuration(th.LatencyP95)
	ps.Alerts = []workspace.Alert{
		{Name: "error-rate", Query: errorRateQuery(s.Name), Condition: fmt.Sprintf("result[0] <= %s", num(th.ErrorRate)), Rule: tr},
		{Name: "latency-p95", Query: latencyQuery(s.Name), Condition: fmt.Sprintf("result[0] <= %s", num(lat.Seconds())), Rule: tr},
	}
	ps.RollbackTriggers = append(ps.RollbackTriggers,
		workspace.Trigger{When: fmt.Sprintf("error ratio above %s%% (error-rate analysis fails)", num(th.ErrorRate*100)), Rule: tr},
		workspace.Trigger{When: fmt.Sprintf("p95 latency above %s (latency-p95 analysis fails)", th.LatencyP95), Rule: tr},
	)
	if s.Readiness {
		ps.RollbackTriggers = append(ps.RollbackTriggers, workspace.Trigger{When: "new pods not ready within the progress deadline (10m)"})
	}
	if r := dec.By[rules.DecideMigration]; r != nil {
		ps.RollbackTriggers = append(ps.RollbackTriggers, workspace.Trigger{When: "the migrate step fails: the deploy does not start", Rule: r.ID})
	}
	if len(s.Flags) > 0 {
		r := dec.By[rules.DecideFlags]
		if r == nil {
			adv = append(adv, workspace.Advisory{Service: s.Name, Message: fmt.Sprintf("the change touches code behind flag(s) %s but no plan rule decided their states: they are left as they are", strings.Join(s.Flags, ", "))})
		} else {
			for _, f := range s.Flags {
				ps.Flags = append(ps.Flags, workspace.FlagPlan{Name: f, During: dec.Flags.During, After: dec.Flags.After, Fallback: dec.Flags.Fallback, Rule: r.ID})
			}
			ps.RollbackTriggers = append(ps.RollbackTriggers, workspace.Trigger{When: fmt.Sprintf("errors after flag(s) %s are switched %s: switch them %s first", strings.Join(s.Flags, ", "), dec.Flags.After, dec.Flags.Fallback), Rule: r.ID})
		}
	}
	return ps, adv
}

// steps builds the forward steps: per service, in topological order, the
// migration (or its expand half), the deploy (after the service's migration
// and the verification of every planned service it depends on), the
// verification, the flag switches; contract steps come last, gated.
func (d *Design) steps(order []string, topo *Topology) {
	p := d.Plan
	var contracts []workspace.PlanStep
	for i, name := range order {
		sd := d.services[name]
		s, dec, ps := sd.svc, sd.decision, p.Services[i]
		deployAfter := []string{}
		if mr := dec.By[rules.DecideMigration]; mr != nil {
			id := "migrate-" + name
			st := workspace.PlanStep{ID: id, Service: name, Action: workspace.ActionMigrate, After: []string{}, Rules: []string{mr.ID}}
			expand, contract := d.statements(name)
			if dec.Migration == workspace.MigrationExpandContract {
				st.Statements = expand
				tables := d.droppedTables(name)
				st.Why = fmt.Sprintf("expand: run the additive statements of %s before the new code, and back up %s, which the contract step changes; the old code keeps working on the expanded schema",
					strings.Join(s.Migrations, ", "), list(tables))
				contracts = append(contracts, workspace.PlanStep{
					ID: "contract-" + name, Service: name, Action: workspace.ActionContract,
					After: []string{}, Rules: []string{mr.ID}, Gated: true, Statements: contract,
					Why: fmt.Sprintf("contract: run the destructive statements only after every old %s pod is gone and the new version is verified; separately approved, and irreversible except by restoring the backup taken in %s", name, id),
				})
			} else {
				st.Statements = append(expand, contract...)
				st.Why = fmt.Sprintf("migrate the %s schema (%s) before the code that needs it is deployed", s.Database, strings.Join(s.Migrations, ", "))
			}
			p.Steps = append(p.Steps, st)
			deployAfter = append(deployAfter, id)
		}
		var upstream []string
		for _, dep := range s.DependsOn {
			if _, ok := d.services[dep]; ok {
				deployAfter = append(deployAfter, "verify-"+dep)
				upstream = append(upstream, dep)
			}
		}
		slices.Sort(deployAfter)
		why := fmt.Sprintf("deploy %s %s as %s", s.Workload, name, strategyText(ps))
		if len(upstream) > 0 {
			why += fmt.Sprintf(", after %s it depends on is verified", strings.Join(upstream, ", "))
		}
		if len(ps.Flags) > 0 {
			why += fmt.Sprintf("; flag(s) %s stay %s during the rollout", flagNames(ps.Flags), ps.Flags[0].During)
		}
		deploy := workspace.PlanStep{ID: "deploy-" + name, Service: name, Action: workspace.ActionDeploy, Strategy: ps.Strategy,
			After: deployAfter, Why: why, Rules: []string{ps.StrategyRule}}
		if ps.Strategy != workspace.StrategyRolling {
			deploy.Rollout = rolloutFile(name)
		}
		p.Steps = append(p.Steps, deploy)
		verify := workspace.PlanStep{ID: "verify-" + name, Service: name, Action: workspace.ActionVerify, After: []string{deploy.ID},
			Rules: []string{ps.Alerts[0].Rule},
			Why:   fmt.Sprintf("verify %s: %d health check(s) pass and the error-rate and latency-p95 alerts stay under their thresholds", name, len(ps.HealthChecks))}
		p.Steps = append(p.Steps, verify)
		last := []string{verify.ID}
		for _, f := range ps.Flags {
			id := "flag-" + name + "-" + f.Name
			fp := f
			p.Steps = append(p.Steps, workspace.PlanStep{ID: id, Service: name, Action: workspace.ActionFlag, After: []string{verify.ID},
				Rules: []string{f.Rule}, Flag: &fp,
				Why: fmt.Sprintf("switch flag %s %s once %s is verified (it stayed %s during the rollout; fallback %s)", f.Name, f.After, name, f.During, f.Fallback)})
			last = append(last, id)
		}
		for j := range contracts {
			if contracts[j].Service == name {
				contracts[j].After = last
			}
		}
	}
	p.Steps = append(p.Steps, contracts...)
}

// rollback builds the rollback: one step per reversible forward step (deploy,
// flag, migrate), in reverse order; each waits for the rollback of the
// nearest reversible steps that came after its forward step. Verify steps
// have nothing to undo and contract steps cannot be undone (the runbook says
// so).
func (d *Design) rollback() {
	p := d.Plan
	succ := map[string][]string{}
	byID := map[string]workspace.PlanStep{}
	for _, s := range p.Steps {
		byID[s.ID] = s
		for _, a := range s.After {
			succ[a] = append(succ[a], s.ID)
		}
	}
	reversible := func(s workspace.PlanStep) bool {
		return s.Action == workspace.ActionDeploy || s.Action == workspace.ActionFlag || s.Action == workspace.ActionMigrate
	}
	var nearest func(id string, seen map[string]bool) []string
	nearest = func(id string, seen map[string]bool) []string {
		var out []string
		for _, n := range succ[id] {
			if seen[n] {
				continue
			}
			seen[n] = true
			if reversible(byID[n]) {
				out = append(out, "rollback-"+n)
			} else {
				out = append(out, nearest(n, seen)...)
			}
		}
		return out
	}
	for i := len(p.Steps) - 1; i >= 0; i-- {
		s := p.Steps[i]
		if !reversible(s) {
			continue
		}
		after := nearest(s.ID, map[string]bool{})
		slices.Sort(after)
		after = slices.Compact(after)
		if after == nil {
			after = []string{}
		}
		rb := workspace.RollbackStep{ID: "rollback-" + s.ID, Service: s.Service, Action: s.Action, After: after, Reverts: s.ID}
		ps := d.planned(s.Service)
		switch s.Action {
		case workspace.ActionFlag:
			rb.How = fmt.Sprintf("switch flag %s %s", s.Flag.Name, s.Flag.Fallback)
		case workspace.ActionDeploy:
			if ps.Strategy == workspace.StrategyRolling {
				rb.How = fmt.Sprintf("kubectl rollout undo %s/%s", strings.ToLower(ps.Workload), workloadName(d.services[s.Service]))
			} else {
				rb.How = fmt.Sprintf("kubectl argo rollouts abort %s, then kubectl argo rollouts undo %s (traffic returns to the stable version)", s.Service, s.Service)
			}
		case workspace.ActionMigrate:
			if ps.Migration == workspace.MigrationExpandContract {
				rb.How = "keep the expanded schema: the old code ignores what expand added; drop it only when the release is abandoned"
			} else {
				rb.How = fmt.Sprintf("run the down migration of %s, or restore the %s schema from the pre-release backup", strings.Join(d.services[s.Service].svc.Migrations, ", "), d.services[s.Service].svc.Database)
			}
		}
		p.Rollback = append(p.Rollback, rb)
	}
}

func (d *Design) planned(name string) workspace.PlannedService {
	return d.Plan.Services[d.index[name]]
}

// statements splits the service's migration statements into the additive
// (expand) and destructive (contract) ones, as `file:line: text`.
func (d *Design) statements(name string) (expand, contract []string) {
	for _, f := range d.files[name] {
		if f.Kind != "migration" || f.Status == "D" {
			continue
		}
		if len(f.SQL) == 0 {
			ref := f.Path + ": (statements not read)"
			if f.Destructive {
				contract = append(contract, ref)
			} else {
				expand = append(expand, ref)
			}
		}
		for _, st := range f.SQL {
			ref := fmt.Sprintf("%s:%d: %s", f.Path, st.Line, st.Text)
			if st.Destructive {
				contract = append(contract, ref)
			} else {
				expand = append(expand, ref)
			}
		}
	}
	return expand, contract
}

func (d *Design) droppedTables(name string) []string {
	var out []string
	for _, f := range d.files[name] {
		if f.Kind != "migration" {
			continue
		}
		for _, st := range f.SQL {
			if st.Destructive && st.Table != "" && !slices.Contains(out, st.Table) {
				out = append(out, st.Table)
			}
		}
	}
	slices.Sort(out)
	return out
}

func workloadName(sd *serviceDesign) string {
	if sd.workload != nil {
		return sd.workload.Name
	}
	return sd.svc.Name
}

func firstService(ks []*KubeService) *KubeService {
	if len(ks) == 0 {
		return nil
	}
	return ks[0]
}

func strategyText(ps workspace.PlannedService) string {
	switch ps.Strategy {
	case workspace.StrategyCanary:
		var parts []string
		for _, c := range ps.Canary {
			s := fmt.Sprintf("%d%%", c.Weight)
			if c.Pause != "" {
				s += " (pause " + c.Pause + ")"
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "a canary"
		}
		return "a canary: " + strings.Join(parts, " → ")
	case workspace.StrategyBlueGreen:
		return "blue-green: preview stack, analysis, then switch"
	}
	return "a rolling update"
}

func flagNames(fs []workspace.FlagPlan) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return strings.Join(out, ", ")
}

func list(s []string) string {
	if len(s) == 0 {
		return "the affected tables"
	}
	return strings.Join(s, ", ")
}
