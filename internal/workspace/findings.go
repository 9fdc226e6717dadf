package workspace

// Files the security guardian (the scan step) writes.
const (
	FindingsFile = "findings.json"
	SARIFFile    = "findings.sarif"
)

// Finding sources: what produced a finding.
const (
	SourceMisconfig     = "trivy-misconfig" // a Trivy check on a manifest, chart, Terraform or Dockerfile
	SourceSecret        = "trivy-secret"    // a Trivy secret rule
	SourceVulnerability = "trivy-vuln"      // a Trivy vulnerability in a lockfile
	SourcePolicy        = "policy"          // a preprod policy rule (rules/policy.yaml)
	SourceScan          = "scan"            // the scan itself: unparseable input, exceptions about to expire
)

// Severities, lowest first (Trivy's scale).
var Severities = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// SeverityRank returns the position of s in Severities, or -1.
func SeverityRank(s string) int {
	for i, x := range Severities {
		if x == s {
			return i
		}
	}
	return -1
}

// Findings is findings.json: every finding of one scan, each decided blocker
// or advisory by the policy rules, with the exceptions that applied.
type Findings struct {
	RulesDigest string `json:"rulesDigest"`
	// Environment is the environment the release goes to (e.g. preprod).
	Environment string `json:"environment"`
	// AsOf is the date (UTC, YYYY-MM-DD) exceptions were checked against.
	AsOf string `json:"asOf"`
	// Blockers counts the blockers no exception covers: the step fails when
	// it is above zero. Advisories counts the rest, excepted blockers aside.
	Blockers   int `json:"blockers"`
	Advisories int `json:"advisories"`
	Excepted   int `json:"excepted"`
	// Findings are sorted by file, line, rule, resource and id.
	Findings []Finding `json:"findings"`
	// Notes say what the scan did not look at and why (skipped files,
	// vulnerability scanning without a database, …).
	Notes []ScanNote `json:"notes"`
	// Scanned counts the files read, by what read them.
	Scanned map[string]int `json:"scanned"`
	// Trivy is the version of the embedded Trivy library and its checks.
	Trivy string `json:"trivy"`
}

// Finding is one problem at one place.
type Finding struct {
	// ID identifies the finding across runs on the same input: exceptions
	// may name it.
	ID string `json:"id"`
	// Rule is the id of what found it: a policy rule id, a Trivy check id
	// (e.g. KSV-0017) or a Trivy secret rule id.
	Rule     string `json:"rule"`
	Source   string `json:"source"`
	Severity string `json:"severity"`
	// Blocker is the policy's decision; an applied exception does not change
	// it, but an excepted blocker does not fail the step.
	Blocker bool   `json:"blocker"`
	Title   string `json:"title"`
	// File is relative to the scanned directory, with forward slashes; Line
	// and EndLine are 1-based and inclusive (0 when the finding is about the
	// whole file).
	File     string    `json:"file"`
	Line     int       `json:"line"`
	EndLine  int       `json:"endLine"`
	Resource string    `json:"resource"` // Kind/namespace/name, or Trivy's resource name
	Object   *Resource `json:"object,omitempty"`
	Message  string    `json:"message"`
	// Why says why it matters; WhyHere for this deployment.
	Why     string  `json:"why"`
	WhyHere WhyHere `json:"whyHere"`
	Fix     string  `json:"fix"`
	// DecidedBy is the policy rule that made the finding a blocker or an
	// advisory ("" when no rule did: an advisory by default).
	DecidedBy  string   `json:"decidedBy"`
	References []string `json:"references,omitempty"`
	// New is set when a baseline was given and the finding is not in it.
	New bool `json:"new,omitempty"`
	// Excepted is set when an unexpired exception covers the finding, which
	// Exception names.
	Excepted  bool              `json:"excepted"`
	Exception *AppliedException `json:"exception,omitempty"`
}

// Resource names the Kubernetes object a finding is about.
type Resource struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// WhyHere is the deployment context that decided the finding.
type WhyHere struct {
	Service     string `json:"service,omitempty"`
	Tier        string `json:"tier,omitempty"`
	Environment string `json:"environment"`
	// Reason is the deciding rule's sentence about this context.
	Reason string `json:"reason,omitempty"`
}

// AppliedException is an exceptions-ledger entry that covers a finding.
type AppliedException struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"` // YYYY-MM-DD, inclusive
	// At is the entry's place in the ledger (file:line).
	At string `json:"at"`
}

// ScanNote is something the scan could not or would not do.
type ScanNote struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// Unexcepted reports whether f blocks the release: a blocker no exception covers.
func (f Finding) Unexcepted() bool { return f.Blocker && !f.Excepted }

// Open returns the blocking findings no exception covers: what stops a
// release. A nil Findings (no scan ran) has none.
func (f *Findings) Open() []Finding {
	if f == nil {
		return nil
	}
	var out []Finding
	for _, x := range f.Findings {
		if x.Blocker && !x.Excepted {
			out = append(out, x)
		}
	}
	return out
}
