package packet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

// DatasetFile is the test-data architect's output; the packet summarises it.
const DatasetFile = "dataset.json"

// Summary is what the specialists decided, taken from their files so a
// reviewer reads it in one place: the deploy plan with its rollback, the
// security findings, the test data, and the files that hold the evidence.
// Every part is absent when its step did not run.
type Summary struct {
	Plan     *PlanSummary     `json:"plan,omitempty"`
	Findings *FindingsSummary `json:"findings,omitempty"`
	Dataset  *DatasetSummary  `json:"dataset,omitempty"`
	// Evidence lists the workspace files a reviewer opens to check a claim.
	Evidence []Evidence `json:"evidence"`
	// Remediation lists the tasks a rejected gate opens, with who takes them.
	Remediation []Task `json:"remediation,omitempty"`
}

// PlanSummary is plan.json in brief: each service's strategy and the rule
// that chose it, the gated steps, and the rollback in the order it runs.
type PlanSummary struct {
	Services []PlannedService `json:"services"`
	Steps    int              `json:"steps"`
	Rollback []string         `json:"rollback"`
	// Advisories counts the plan's advisories (e.g. a missing probe).
	Advisories int `json:"advisories"`
}

// PlannedService is one service's rollout decision.
type PlannedService struct {
	Name      string `json:"name"`
	Strategy  string `json:"strategy"`
	Rule      string `json:"rule"`
	Migration string `json:"migration,omitempty"`
}

// FindingsSummary counts the scan's findings and lists the blockers.
type FindingsSummary struct {
	Blockers   int       `json:"blockers"`
	Advisories int       `json:"advisories"`
	Excepted   int       `json:"excepted"`
	Open       []Finding `json:"open"` // unexcepted blockers
}

// DatasetSummary is dataset.json in brief.
type DatasetSummary struct {
	Tables     int  `json:"tables"`
	SourceRows int  `json:"sourceRows"`
	TargetRows int  `json:"targetRows"`
	Verified   bool `json:"verified"`
}

// Evidence names a file that backs a claim of the packet; its digest is in
// the packet's files.
type Evidence struct {
	What string `json:"what"`
	File string `json:"file"`
}

// Task is a remediation task a rejection opened.
type Task struct {
	Gate   string   `json:"gate"`
	ID     string   `json:"id"`
	Task   string   `json:"task"`
	Groups []string `json:"groups,omitempty"`
}

// summarize reads the specialists' files of dir into a Summary. The verdict
// decides whether remediation tasks open.
func summarize(dir string, change workspace.Change, g workspace.Graph, approvals []workspace.Approval, findings *Findings) (Summary, error) {
	s := Summary{Evidence: []Evidence{}}
	var plan workspace.Plan
	switch err := readOptional(dir, workspace.PlanFile, &plan); {
	case err != nil:
		return s, err
	case plan.Steps != nil || plan.Services != nil:
		ps := &PlanSummary{Services: []PlannedService{}, Steps: len(plan.Steps), Rollback: []string{}, Advisories: len(plan.Advisories)}
		for _, sv := range plan.Services {
			ps.Services = append(ps.Services, PlannedService{Name: sv.Name, Strategy: sv.Strategy, Rule: sv.StrategyRule, Migration: sv.Migration})
		}
		for _, r := range plan.Rollback {
			ps.Rollback = append(ps.Rollback, fmt.Sprintf("%s: %s %s", r.ID, r.Action, r.Service))
		}
		s.Plan = ps
	}
	if findings != nil {
		fs := &FindingsSummary{Open: []Finding{}}
		for _, f := range findings.Findings {
			switch {
			case f.Blocker && f.Excepted:
				fs.Excepted++
			case f.Blocker:
				fs.Blockers++
				fs.Open = append(fs.Open, f)
			default:
				fs.Advisories++
			}
		}
		s.Findings = fs
	}
	var ds struct {
		Tables []struct {
			SourceRows int `json:"sourceRows"`
			TargetRows int `json:"targetRows"`
		} `json:"tables"`
		Verified bool `json:"verified"`
	}
	switch err := readOptional(dir, DatasetFile, &ds); {
	case err != nil:
		return s, err
	case ds.Tables != nil:
		d := &DatasetSummary{Tables: len(ds.Tables), Verified: ds.Verified}
		for _, t := range ds.Tables {
			d.SourceRows += t.SourceRows
			d.TargetRows += t.TargetRows
		}
		s.Dataset = d
	}
	for _, e := range []Evidence{
		{"what changed and which rules classified it", workspace.ChangeFile},
		{"the graph the rules emitted", workspace.GraphFile},
		{"the deploy plan and its rollback", workspace.PlanFile},
		{"the runbook an operator follows", workspace.RunbookFile},
		{"security findings", FindingsFile},
		{"security findings for code scanning (SARIF 2.1.0)", "findings.sarif"},
		{"the masked dataset and its verification", DatasetFile},
	} {
		if _, err := os.Stat(filepath.Join(dir, e.File)); err == nil {
			s.Evidence = append(s.Evidence, e)
		}
	}
	for _, a := range approvals {
		if a.Decision != gate.Reject {
			continue
		}
		s.Evidence = append(s.Evidence, Evidence{What: fmt.Sprintf("the rejection of gate %q", a.Gate), File: filepath.ToSlash(workspace.ApprovalFile(a.Gate))})
		policy, err := gate.PolicyIn(g, a.Gate)
		if err != nil {
			continue
		}
		for _, r := range policy.Remediation {
			t := Task{Gate: a.Gate, ID: r.ID, Task: r.Task}
			if r.Owners {
				for _, sv := range change.Services {
					t.Groups = append(t.Groups, sv.Owners...)
				}
				sort.Strings(t.Groups)
				t.Groups = slices.Compact(t.Groups)
			}
			s.Remediation = append(s.Remediation, t)
		}
	}
	return s, nil
}

// readOptional decodes dir/name into v; a missing file leaves v as it is.
func readOptional(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return exitcode.Infrastructure(fmt.Errorf("read %s: %w", name, err))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return exitcode.Input(fmt.Errorf("read %s: %w", name, err))
	}
	return nil
}

// evidenceFor returns the remediation tasks as lines for people.
func (t Task) String() string {
	if len(t.Groups) == 0 {
		return t.Task
	}
	return t.Task + " (" + strings.Join(t.Groups, ", ") + ")"
}
