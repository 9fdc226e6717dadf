package workspace

// Risk tiers, lowest first.
var RiskTiers = []string{"low", "medium", "high", "critical"}

// RiskRank returns the position of tier in RiskTiers, or -1 when it is not a tier.
func RiskRank(tier string) int {
	for i, t := range RiskTiers {
		if t == tier {
			return i
		}
	}
	return -1
}

// Change is change.json: what changed, what it means, and which rules said so.
// Field names are also the names CEL rules see (`change.files`, `file.kind`, …).
type Change struct {
	Source   Source    `json:"source"`
	Author   string    `json:"author"`
	Request  string    `json:"request,omitempty"`
	Intent   *Intent   `json:"intent,omitempty"` // see Intent; absent without a request or intent flags
	Classes  []string  `json:"classes"`
	Risk     string    `json:"risk"`
	Services []Service `json:"services"`
	Files    []File    `json:"files"`
	// Facts are named values set by classify rules (`setFacts`), visible to later rules.
	Facts map[string]string `json:"facts"`
	Rules []Fired           `json:"rules"`
	// RulesDigest and CatalogDigest identify the rule set and catalog that decided.
	RulesDigest   string `json:"rulesDigest"`
	CatalogDigest string `json:"catalogDigest"`
}

// Source says where the change came from: a repository and two revisions, or an event.
type Source struct {
	Kind  string `json:"kind"` // git | event
	Repo  string `json:"repo,omitempty"`
	Base  string `json:"base"`
	Head  string `json:"head"`
	Event string `json:"event,omitempty"` // push | pull_request
	Ref   string `json:"ref,omitempty"`
	// AuthorEmail is the author's email when the source names one; Change.Author
	// is the user name derived from it.
	AuthorEmail string `json:"authorEmail,omitempty"`
}

// Service is an affected service with the catalog facts rules need.
type Service struct {
	Name      string   `json:"name"`
	Owners    []string `json:"owners"`
	Tier      string   `json:"tier"`
	Database  string   `json:"database,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Files is how many changed files belong to the service.
	Files int `json:"files"`
}

// File is one changed file with the facts read from the diff and its content.
type File struct {
	Path    string `json:"path"`
	OldPath string `json:"oldPath,omitempty"`
	Status  string `json:"status"` // A | M | D | R
	Kind    string `json:"kind"`   // set by classify file rules; "other" when none matched
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Binary  bool   `json:"binary"`
	// Services names the catalog services whose path globs match the file.
	Services []string `json:"services"`
	// SQL holds the statements found in a migration file (head version).
	SQL         []Statement `json:"sql,omitempty"`
	Destructive bool        `json:"destructive"`
}

// Statement is one SQL statement of a migration file.
type Statement struct {
	Line        int    `json:"line"`
	Op          string `json:"op"` // e.g. CREATE TABLE, ALTER TABLE, DROP TABLE
	Table       string `json:"table,omitempty"`
	Destructive bool   `json:"destructive"`
	Reason      string `json:"reason,omitempty"`
	Text        string `json:"text"`
}

// Fired records a rule that fired, with its message.
type Fired struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// Graph is graph.json: the nodes the coordinator routed, in a stable order.
type Graph struct {
	RulesDigest string `json:"rulesDigest"`
	ChangeRisk  string `json:"risk"`
	Nodes       []Node `json:"nodes"`
	// Auto lists the gates the rules placed with policy auto: recorded, and
	// passed without stopping.
	Auto []AutoGate `json:"auto,omitempty"`
}

// AutoGate is a gate passed without a person: what the rules required and why.
type AutoGate struct {
	Name  string   `json:"name"`
	Tier  string   `json:"tier"`
	Rules []string `json:"rules"`
}

// Gate policies.
const (
	PolicyAuto      = "auto"
	PolicyAck       = "ack"
	PolicyApprove   = "approve"
	PolicyTwoPerson = "two-person"
)

// Remediation is a task the coordinator opens when a gate is rejected.
type Remediation struct {
	ID   string `yaml:"id" json:"id"`
	Task string `yaml:"task" json:"task"`
	// Owners: the affected services' owner groups take the task.
	Owners bool `yaml:"owners" json:"owners,omitempty"`
}

// Node is one step of the emitted DAG.
type Node struct {
	ID         string            `json:"id"`
	Step       string            `json:"step"`
	Parameters map[string]string `json:"parameters,omitempty"`
	DependsOn  []string          `json:"dependsOn"`
	Gate       *Gate             `json:"gate,omitempty"`
	// Rules are the ids of the rules that put the node (or its gate) there.
	Rules []string `json:"rules"`
}

// Gate is the approval policy of a gate node.
type Gate struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Policy is who must pass the gate: ack, approve or two-person (auto
	// gates have no node; they are listed in the graph's auto).
	Policy string `json:"policy,omitempty"`
	// Groups are the catalog groups whose members may approve.
	Groups []string `json:"groups"`
	// Approvers is how many distinct approvers the gate needs.
	Approvers int `json:"approvers"`
	// NotAuthor forbids the change's author from approving.
	NotAuthor bool `json:"notAuthor"`
	// Timeout is how long the gate waits before it rejects (Go duration; empty = none).
	Timeout string `json:"timeout,omitempty"`
	// Remediation is what opens when the gate is rejected.
	Remediation []Remediation `json:"remediation,omitempty"`
}

// Approval is approvals/<gate>.json.
type Approval struct {
	Gate      string     `json:"gate"`
	Decision  string     `json:"decision"` // approve | reject | pending
	Approvers []string   `json:"approvers"`
	Verified  bool       `json:"verified"`
	Policy    Gate       `json:"policy"`
	Records   []Decision `json:"records"`
	Reason    string     `json:"reason,omitempty"`
}

// Decision is one person's recorded decision at a gate.
type Decision struct {
	User     string            `json:"user"`
	Decision string            `json:"decision"`
	Comment  string            `json:"comment,omitempty"`
	Source   string            `json:"source"` // local | argo
	Claims   map[string]string `json:"claims,omitempty"`
}
