package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// AuditDir holds one audit entry per executed node: audit/<node>.json.
const AuditDir = "audit"

// AuditEntry records one executed step: what ran, when, how it ended, and the
// digests of the files it read and wrote, so the packet can prove the chain.
type AuditEntry struct {
	Step  string `json:"step"`
	Node  string `json:"node"`
	Image string `json:"image,omitempty"`
	// Template is the WorkflowTemplate the step ran from, ArgoNode the
	// Workflow node id (both empty in local runs).
	Template string `json:"template,omitempty"`
	ArgoNode string `json:"argoNode,omitempty"`
	// Start and End are RFC 3339 times.
	Start    string `json:"start"`
	End      string `json:"end"`
	ExitCode int    `json:"exitCode"`
	// Inputs and Outputs map workspace-relative paths to "sha256:<hex>" digests.
	Inputs      map[string]string `json:"inputs"`
	Outputs     map[string]string `json:"outputs"`
	RulesDigest string            `json:"rulesDigest,omitempty"`
	Version     string            `json:"version"`
}

// AuditTime formats t for an audit entry's Start or End: RFC 3339 in UTC
// with nanoseconds, so that steps started within the same second keep the
// order they ran in when ReadAudit sorts them.
func AuditTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
}

var auditNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// AuditFile is the path of a node's audit entry inside a workspace.
func AuditFile(node string) string {
	return filepath.Join(AuditDir, node+".json")
}

// WriteAudit writes e to dir/audit/<node>.json atomically.
func WriteAudit(dir string, e AuditEntry) error {
	if !auditNameRe.MatchString(e.Node) {
		return fmt.Errorf("write audit entry: node %q is not a valid file name", e.Node)
	}
	for _, t := range []struct{ name, v string }{{"start", e.Start}, {"end", e.End}} {
		if _, err := time.Parse(time.RFC3339Nano, t.v); err != nil {
			return fmt.Errorf("write audit entry %s: %s %q is not an RFC 3339 time", e.Node, t.name, t.v)
		}
	}
	if e.Inputs == nil {
		e.Inputs = map[string]string{}
	}
	if e.Outputs == nil {
		e.Outputs = map[string]string{}
	}
	return WriteJSON(dir, AuditFile(e.Node), e)
}

// ReadAudit reads every audit/*.json of dir, sorted by start time, then node.
// A workspace without an audit directory has no entries.
func ReadAudit(dir string) ([]AuditEntry, error) {
	names, err := filepath.Glob(filepath.Join(dir, AuditDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	for _, path := range names {
		if strings.HasPrefix(filepath.Base(path), ".") {
			continue // a temporary file of an interrupted write
		}
		var e AuditEntry
		if err := ReadJSON(dir, filepath.Join(AuditDir, filepath.Base(path)), &e); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read audit: %w", err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ta, errA := time.Parse(time.RFC3339Nano, a.Start)
		tb, errB := time.Parse(time.RFC3339Nano, b.Start)
		if errA == nil && errB == nil && !ta.Equal(tb) {
			return ta.Before(tb)
		}
		if (errA != nil || errB != nil) && a.Start != b.Start {
			return a.Start < b.Start
		}
		return a.Node < b.Node
	})
	return out, nil
}

// Record completes e with the digests of the named workspace files it read
// (inputs) and wrote (outputs) — files that do not exist are left out — and
// writes it. Start must be set; End defaults to now.
func Record(dir string, e AuditEntry, inputs, outputs []string) error {
	if e.End == "" {
		e.End = AuditTime(time.Now())
	}
	var err error
	if e.Inputs, err = digestFiles(dir, inputs); err != nil {
		return err
	}
	if e.Outputs, err = digestFiles(dir, outputs); err != nil {
		return err
	}
	return WriteAudit(dir, e)
}

func digestFiles(dir string, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		d, err := FileDigest(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[filepath.ToSlash(n)] = d
	}
	return out, nil
}
