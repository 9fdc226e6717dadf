// Package sarif writes findings as SARIF 2.1.0, the format GitHub code
// scanning (and most editors) read: one run, one rule per rule id, one result
// per finding with its file and line range, blockers as errors and advisories
// as warnings, excepted findings as suppressed results.
package sarif

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Version and Schema identify the format.
const (
	Version = "2.1.0"
	Schema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

// Log is a SARIF log.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one tool's run.
type Run struct {
	Tool               Tool                   `json:"tool"`
	Results            []Result               `json:"results"`
	OriginalURIBaseIDs map[string]ArtifactLoc `json:"originalUriBaseIds,omitempty"`
	AutomationDetails  *AutomationDetails     `json:"automationDetails,omitempty"`
	Properties         map[string]any         `json:"properties,omitempty"`
	ColumnKind         string                 `json:"columnKind,omitempty"`
	Invocations        []Invocation           `json:"invocations,omitempty"`
}

// Tool names the producer.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool component that produced the results.
type Driver struct {
	Name           string          `json:"name"`
	Version        string          `json:"version,omitempty"`
	InformationURI string          `json:"informationUri,omitempty"`
	Rules          []ReportingRule `json:"rules"`
}

// ReportingRule describes one rule (a reportingDescriptor).
type ReportingRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     Message        `json:"shortDescription"`
	FullDescription      *Message       `json:"fullDescription,omitempty"`
	Help                 *Message       `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

// Configuration is a rule's default level.
type Configuration struct {
	Level string `json:"level"`
}

// Message is a text message.
type Message struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Suppressions        []Suppression     `json:"suppressions,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// Location is where a result is.
type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
	LogicalLocations []LogicalLoc     `json:"logicalLocations,omitempty"`
}

// PhysicalLocation is a file and a region in it.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLoc `json:"artifactLocation"`
	Region           *Region     `json:"region,omitempty"`
}

// ArtifactLoc is a file, by URI relative to a base.
type ArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// Region is a range of lines (1-based, inclusive).
type Region struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine,omitempty"`
}

// LogicalLoc names the Kubernetes object.
type LogicalLoc struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// Suppression records an applied exception.
type Suppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

// AutomationDetails identifies the run's category for code scanning.
type AutomationDetails struct {
	ID string `json:"id"`
}

// Invocation says whether the run succeeded.
type Invocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

// BaseID is the uriBaseId every location is relative to: the scanned root.
const BaseID = "SRCROOT"

// securityScores map severities to GitHub's security-severity (0.0–10.0).
var securityScores = map[string]string{"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}

// Options describe the run.
type Options struct {
	Tool, Version, InformationURI string
	// Category distinguishes this analysis in code scanning (e.g.
	// rehearsal-scan/preprod).
	Category string
}

// FromFindings renders findings as a SARIF log. Rules are sorted by id;
// results keep the findings' order. File paths must be relative (forward
// slashes); an absolute path is reduced to its base name, so no machine path
// ends up in the log.
func FromFindings(fs *workspace.Findings, opt Options) Log {
	index := map[string]int{}
	var ids []string
	first := map[string]workspace.Finding{}
	for _, f := range fs.Findings {
		if _, ok := first[f.Rule]; !ok {
			first[f.Rule] = f
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	rules := make([]ReportingRule, 0, len(ids))
	for i, id := range ids {
		index[id] = i
		f := first[id]
		help := strings.TrimSpace(f.Why)
		if f.Fix != "" {
			help = strings.TrimSpace(help + "\n\nFix: " + f.Fix)
		}
		r := ReportingRule{
			ID: id, Name: ruleName(id), ShortDescription: Message{Text: nonEmpty(f.Title, f.Message, id)},
			DefaultConfiguration: &Configuration{Level: "warning"},
			Properties: map[string]any{
				"security-severity": securityScores[f.Severity], "tags": []string{"security", f.Source}, "source": f.Source,
			},
		}
		if help != "" {
			r.FullDescription = &Message{Text: help}
			r.Help = &Message{Text: help}
		}
		if len(f.References) > 0 {
			r.HelpURI = f.References[0]
		}
		rules = append(rules, r)
	}
	results := make([]Result, 0, len(fs.Findings))
	for _, f := range fs.Findings {
		res := Result{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: Level(f), Message: Message{Text: message(f)},
			Locations:           []Location{location(f)},
			PartialFingerprints: map[string]string{"rehearsalFindingId/v1": f.ID},
			Properties: map[string]any{
				"severity": f.Severity, "blocker": f.Blocker, "decidedBy": f.DecidedBy, "environment": f.WhyHere.Environment,
			},
		}
		if f.WhyHere.Service != "" {
			res.Properties["service"] = f.WhyHere.Service
			res.Properties["tier"] = f.WhyHere.Tier
		}
		if e := f.Exception; e != nil {
			res.Suppressions = []Suppression{{Kind: "external", Status: "accepted",
				Justification: fmt.Sprintf("exception %s (owner %s, expires %s): %s", e.ID, e.Owner, e.Expires, e.Reason)}}
		}
		results = append(results, res)
	}
	run := Run{
		Tool:               Tool{Driver: Driver{Name: opt.Tool, Version: opt.Version, InformationURI: opt.InformationURI, Rules: rules}},
		Results:            results,
		OriginalURIBaseIDs: map[string]ArtifactLoc{BaseID: {URI: "./"}},
		ColumnKind:         "utf16CodeUnits",
		Invocations:        []Invocation{{ExecutionSuccessful: true}},
		Properties: map[string]any{
			"rulesDigest": fs.RulesDigest, "environment": fs.Environment, "blockers": fs.Blockers, "advisories": fs.Advisories,
		},
	}
	if opt.Category != "" {
		run.AutomationDetails = &AutomationDetails{ID: opt.Category + "/"}
	}
	return Log{Schema: Schema, Version: Version, Runs: []Run{run}}
}

// Level is a finding's SARIF level: error for a blocker, warning for an
// advisory, note for an excepted blocker.
func Level(f workspace.Finding) string {
	switch {
	case f.Blocker && f.Exception != nil:
		return "note"
	case f.Blocker:
		return "error"
	}
	return "warning"
}

func message(f workspace.Finding) string {
	var b strings.Builder
	if f.Blocker {
		b.WriteString("Blocker: ")
	} else {
		b.WriteString("Advisory: ")
	}
	b.WriteString(nonEmpty(f.Message, f.Title, f.Rule))
	if f.Resource != "" {
		fmt.Fprintf(&b, " (%s)", f.Resource)
	}
	if w := f.WhyHere; w.Reason != "" {
		fmt.Fprintf(&b, ". Here: %s", w.Reason)
	}
	if f.Fix != "" {
		fmt.Fprintf(&b, ". Fix: %s", strings.TrimSuffix(f.Fix, "."))
	}
	return b.String() + "."
}

func location(f workspace.Finding) Location {
	uri := f.File
	if path.IsAbs(uri) || strings.Contains(uri, ":") {
		uri = path.Base(strings.ReplaceAll(uri, "\\", "/"))
	}
	loc := Location{PhysicalLocation: PhysicalLocation{ArtifactLocation: ArtifactLoc{URI: uri, URIBaseID: BaseID}}}
	if f.Line > 0 {
		end := max(f.EndLine, f.Line)
		loc.PhysicalLocation.Region = &Region{StartLine: f.Line, EndLine: end}
	} else {
		loc.PhysicalLocation.Region = &Region{StartLine: 1}
	}
	if f.Object != nil {
		fq := f.Object.Kind + "/" + f.Object.Name
		if f.Object.Namespace != "" {
			fq = f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name
		}
		loc.LogicalLocations = []LogicalLoc{{Name: f.Object.Name, FullyQualifiedName: fq, Kind: "resource"}}
	}
	return loc
}

// ruleName turns a rule id into a PascalCase name (SARIF wants one).
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		switch {
		case r == '.' || r == '-' || r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || (b.String()[0] >= '0' && b.String()[0] <= '9') {
		return "Rule" + b.String()
	}
	return b.String()
}

func nonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// Score returns GitHub's security-severity for a severity.
func Score(severity string) float64 {
	v, _ := strconv.ParseFloat(securityScores[severity], 64)
	return v
}
