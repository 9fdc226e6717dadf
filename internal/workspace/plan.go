package workspace

// Files the deploy designer (the plan step) writes.
const (
	PlanFile    = "plan.json"
	RunbookFile = "runbook.md"
	RolloutsDir = "rollouts"
	// ManifestsDir holds the Kubernetes manifests at the change's head
	// revision (classify snapshots them when it reads a repository), for the
	// plan step, whose pod has no repository.
	ManifestsDir = "manifests"
)

// Plan actions: what a plan step does.
const (
	ActionMigrate  = "migrate"
	ActionDeploy   = "deploy"
	ActionFlag     = "flag"
	ActionVerify   = "verify"
	ActionContract = "contract"
)

// Strategies a plan rule may choose.
const (
	StrategyRolling   = "rolling"
	StrategyCanary    = "canary"
	StrategyBlueGreen = "blueGreen"
)

// Migration orders a plan rule may choose for a service's migrations.
const (
	MigrationBefore         = "before"          // the whole migration runs before the deploy
	MigrationExpandContract = "expand-contract" // additive part before, destructive part after, gated
)

// PlanService is what plan rules see of one service the change deploys (the
// CEL variable `service`): its catalog facts, the workload its manifests
// define, and what the change does to it. Field names are the CEL names.
type PlanService struct {
	Name   string   `json:"name"`
	Tier   string   `json:"tier"`
	Owners []string `json:"owners"`
	// Traffic is the catalog's traffic class: high | normal | low.
	Traffic string `json:"traffic"`
	// Workload is the kind of the service's workload manifest: Deployment or
	// StatefulSet (Deployment is assumed when no manifest defines one).
	Workload string `json:"workload"`
	Replicas int    `json:"replicas"`
	// Readiness and Liveness say whether every container declares the probe.
	Readiness bool   `json:"readiness"`
	Liveness  bool   `json:"liveness"`
	Database  string `json:"database,omitempty"`
	// Migrations are the changed migration files of the service.
	Migrations []string `json:"migrations"`
	// Destructive is set when one of those migrations destroys data.
	Destructive bool `json:"destructive"`
	// Flags are the catalog feature flags whose paths the change touches.
	Flags []string `json:"flags"`
	// DependsOn and Dependents are the service's edges in the topology
	// (catalog dependsOn plus addresses found in manifests).
	DependsOn  []string `json:"dependsOn"`
	Dependents []string `json:"dependents"`
}

// Plan is plan.json: the deploy designer's release plan. Steps and Rollback
// are the fixed core; every decision names the rule that made it.
type Plan struct {
	RulesDigest   string   `json:"rulesDigest"`
	CatalogDigest string   `json:"catalogDigest"`
	Risk          string   `json:"risk"`
	Classes       []string `json:"classes"`
	// Services holds the per-service decisions, in deploy order.
	Services []PlannedService `json:"services"`
	// Steps run in order; each waits for the steps in After.
	Steps []PlanStep `json:"steps"`
	// Rollback undoes the steps in reverse order.
	Rollback []RollbackStep `json:"rollback"`
	// Edges is the topology among the planned services and where each edge comes from.
	Edges []Edge `json:"edges"`
	// Advisories are problems worth a look that do not stop the plan (e.g. a
	// missing health probe).
	Advisories []Advisory `json:"advisories"`
	// Rules are the plan rules that decided something, with their messages.
	Rules []Fired `json:"rules"`
}

// PlanStep is one step of the forward plan.
type PlanStep struct {
	ID       string   `json:"id"`
	Service  string   `json:"service"`
	Action   string   `json:"action"`   // migrate | deploy | flag | verify | contract
	Strategy string   `json:"strategy"` // the deploy strategy; empty for other actions
	After    []string `json:"after"`
	// Why says in a sentence why the step is there and where it sits.
	Why string `json:"why"`
	// Rules are the ids of the rules behind the step's decisions.
	Rules []string `json:"rules"`
	// Gated marks a step that needs its own approval before it runs.
	Gated bool `json:"gated,omitempty"`
	// Statements are the SQL statements a migrate or contract step runs, as
	// file:line references with their text.
	Statements []string `json:"statements,omitempty"`
	// Flag is the flag a flag step sets, and to what.
	Flag *FlagPlan `json:"flag,omitempty"`
	// Rollout is the rollouts/ file a deploy step applies.
	Rollout string `json:"rollout,omitempty"`
}

// RollbackStep is one step of the rollback, which runs in reverse order.
type RollbackStep struct {
	ID      string   `json:"id"`
	Service string   `json:"service"`
	Action  string   `json:"action"`
	After   []string `json:"after"`
	// Reverts is the forward step this undoes.
	Reverts string `json:"reverts"`
	How     string `json:"how"`
}

// PlannedService is the plan for one service.
type PlannedService struct {
	Name     string `json:"name"`
	Tier     string `json:"tier"`
	Workload string `json:"workload"`
	Manifest string `json:"manifest,omitempty"`
	Strategy string `json:"strategy"`
	// StrategyRule chose the strategy.
	StrategyRule string       `json:"strategyRule"`
	Canary       []CanaryStep `json:"canary,omitempty"`
	Migration    string       `json:"migration,omitempty"`
	// MigrationRule chose how the migration is ordered.
	MigrationRule string        `json:"migrationRule,omitempty"`
	HealthChecks  []HealthCheck `json:"healthChecks"`
	Alerts        []Alert       `json:"alerts"`
	// RollbackTriggers are the conditions on which the service is rolled back.
	RollbackTriggers []Trigger  `json:"rollbackTriggers"`
	Flags            []FlagPlan `json:"flags,omitempty"`
}

// CanaryStep is one step of a canary: shift Weight percent, then pause.
type CanaryStep struct {
	Weight int    `json:"weight" yaml:"weight"`
	Pause  string `json:"pause,omitempty" yaml:"pause"`
}

// HealthCheck is a check that decides whether a deploy is healthy.
type HealthCheck struct {
	Kind   string `json:"kind"` // readiness | liveness | synthetic
	Detail string `json:"detail"`
	// Source is where the check comes from: a manifest file:line or a rule id.
	Source string `json:"source"`
}

// Alert is a Prometheus alert threshold that gates promotion.
type Alert struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Condition string `json:"condition"`
	Rule      string `json:"rule"`
}

// Trigger is a rollback condition.
type Trigger struct {
	When string `json:"when"`
	Rule string `json:"rule,omitempty"`
}

// FlagPlan is a feature flag's state during the rollout, after it, and the
// state to fall back to.
type FlagPlan struct {
	Name     string `json:"name"`
	During   string `json:"during"`
	After    string `json:"after"`
	Fallback string `json:"fallback"`
	Rule     string `json:"rule"`
}

// Edge says that From depends on To, and who said so: "catalog" or the
// manifest's file:line:col.
type Edge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source"`
}

// Advisory is a problem that does not stop the plan.
type Advisory struct {
	Service string `json:"service"`
	Message string `json:"message"`
	// Source is the manifest file:line it concerns, when there is one.
	Source string `json:"source,omitempty"`
}
