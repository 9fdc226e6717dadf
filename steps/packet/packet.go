// Package packet assembles a run's release packet — the change, the graph, every
// approval, the audit trail and the digest of every file in the workspace — with
// the verdict they add up to, renders it for people (packet.md), signs it
// (ed25519, packet.sig) and verifies a packet offline.
package packet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/explain"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

// Version is the packet format.
const Version = "rehearsal.dev/packet/v1"

// FindingsFile is the scan step's output.
const FindingsFile = workspace.FindingsFile

// Verdicts.
const (
	Approved = "approved"
	Rejected = "rejected"
	Blocked  = "blocked"
	Pending  = "pending"
)

// Packet is packet.json.
type Packet struct {
	Version       string                 `json:"version"`
	Verdict       string                 `json:"verdict"`
	Reason        string                 `json:"reason"`
	RulesDigest   string                 `json:"rulesDigest"`
	CatalogDigest string                 `json:"catalogDigest"`
	Change        workspace.Change       `json:"change"`
	Graph         workspace.Graph        `json:"graph"`
	Approvals     []workspace.Approval   `json:"approvals"`
	Audit         []workspace.AuditEntry `json:"audit"`
	// Summary is what the specialists decided, in brief, with the files
	// that back it.
	Summary Summary `json:"summary"`
	// Explanations are written for reviewers after the verdict, by templates
	// or a model; they never decide anything.
	Explanations *explain.Result `json:"explanations,omitempty"`
	// ModelCalls are the model calls of the run (reading the request,
	// explaining), with their prompt, request and response digests.
	ModelCalls []ModelCall `json:"modelCalls"`
	// Files maps every workspace file (but packet.json, packet.sig and keys/)
	// to its digest.
	Files       map[string]string `json:"files"`
	ToolVersion string            `json:"toolVersion"`
	KeyID       string            `json:"keyId"`
}

// Input says where the workspace is and how to sign.
type Input struct {
	Workspace string `json:"workspace"`
	// KeyFile is a PEM "PRIVATE KEY" (PKCS#8 ed25519) file; empty uses, and
	// creates once, the workspace key keys/packet.key.
	KeyFile string `json:"keyFile,omitempty"`
	// Version is the tool version recorded in the packet.
	Version string `json:"version"`
	// Model writes the explanations when set; nil uses the templates.
	Model llm.Client `json:"-"`
}

// Output summarises the written packet.
type Output struct {
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason"`
	KeyID     string `json:"keyId"`
	PublicKey string `json:"publicKey"`
	Files     int    `json:"files"`
	// Warnings are for the operator's log (e.g. signed with a local key).
	Warnings []string `json:"warnings,omitempty"`
}

// ExitCode is 0 when approved, 1 when rejected or blocked, 4 when pending.
func (o Output) ExitCode() int {
	switch o.Verdict {
	case Approved:
		return exitcode.OK
	case Pending:
		return exitcode.Pending
	}
	return exitcode.Negative
}

// Run assembles, renders and signs the packet of the workspace. Nothing is
// written when the workspace is inconsistent.
func Run(ctx context.Context, in Input) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	dir := in.Workspace
	p, cat, findings, err := assemble(dir)
	if err != nil {
		return Output{}, err
	}
	rec, err := explainRun(ctx, dir, in.Model, p, findings)
	if err != nil {
		return Output{}, err
	}
	p.Explanations = &rec.Explanations
	if p.ModelCalls, _, err = recordedCalls(dir); err != nil {
		return Output{}, err
	}
	key, warn, err := signingKey(dir, in.KeyFile)
	if err != nil {
		return Output{}, err
	}
	out := Output{Verdict: p.Verdict, Reason: p.Reason}
	if warn != "" {
		out.Warnings = append(out.Warnings, warn)
	}
	if p.Change.RulesDigest != "" && p.Graph.RulesDigest != "" && p.Change.RulesDigest != p.Graph.RulesDigest {
		out.Warnings = append(out.Warnings, fmt.Sprintf("change.json was classified with rules %s, graph.json coordinated with rules %s", p.Change.RulesDigest, p.Graph.RulesDigest))
	}
	if p.Change.CatalogDigest != "" && p.Change.CatalogDigest != p.CatalogDigest {
		out.Warnings = append(out.Warnings, fmt.Sprintf("change.json names catalog %s, catalog.json is %s", p.Change.CatalogDigest, p.CatalogDigest))
	}
	p.ToolVersion = in.Version
	pub := publicKey(key)
	p.KeyID = KeyID(pub)

	files, err := digests(dir)
	if err != nil {
		return Output{}, err
	}
	delete(files, workspace.PacketMD) // a previous run's; rendered anew below
	md := Render(p, cat, findings, files)
	if err := workspace.WriteFile(filepath.Join(dir, workspace.PacketMD), md); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	files[workspace.PacketMD] = workspace.Digest(md)
	p.Files = files

	b, err := workspace.Marshal(p)
	if err != nil {
		return Output{}, fmt.Errorf("encode packet: %w", err)
	}
	signature, err := sign(key, b)
	if err != nil {
		return Output{}, err
	}
	sig, err := workspace.Marshal(signature)
	if err != nil {
		return Output{}, fmt.Errorf("encode signature: %w", err)
	}
	if err := workspace.WriteFile(filepath.Join(dir, workspace.PacketFile), b); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	if err := workspace.WriteFile(filepath.Join(dir, workspace.PacketSig), sig); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	out.KeyID, out.PublicKey, out.Files = p.KeyID, encodeKey(pub), len(files)
	return out, nil
}

// assemble reads the workspace into a packet without files, key or version.
func assemble(dir string) (Packet, *catalog.Catalog, *Findings, error) {
	p := Packet{Version: Version}
	if err := workspace.ReadJSON(dir, workspace.ChangeFile, &p.Change); err != nil {
		return p, nil, nil, exitcode.Input(fmt.Errorf("read change: %w", err))
	}
	if err := workspace.ReadJSON(dir, workspace.GraphFile, &p.Graph); err != nil {
		return p, nil, nil, exitcode.Input(fmt.Errorf("read graph: %w", err))
	}
	cat, err := gate.ReadCatalog(dir)
	if err != nil {
		return p, nil, nil, err
	}
	p.CatalogDigest = cat.Digest()
	p.RulesDigest = p.Change.RulesDigest
	if p.RulesDigest == "" {
		p.RulesDigest = p.Graph.RulesDigest
	}
	if p.Approvals, err = readApprovals(dir); err != nil {
		return p, nil, nil, err
	}
	for _, a := range p.Approvals {
		policy, err := gate.PolicyIn(p.Graph, a.Gate)
		if err != nil {
			return p, nil, nil, exitcode.Input(fmt.Errorf("%s: %w", workspace.ApprovalFile(a.Gate), err))
		}
		if err := gate.Check(policy, p.Change.Author, cat, a); err != nil {
			return p, nil, nil, exitcode.Verdict(fmt.Errorf("%s: %w", workspace.ApprovalFile(a.Gate), err))
		}
	}
	if p.Audit, err = workspace.ReadAudit(dir); err != nil {
		return p, nil, nil, exitcode.Input(err)
	}
	if p.Audit == nil {
		p.Audit = []workspace.AuditEntry{}
	}
	findings, err := readFindings(dir)
	if err != nil {
		return p, nil, nil, err
	}
	p.Verdict, p.Reason = Decide(p.Graph, p.Approvals, findings)
	if p.Summary, err = summarize(dir, p.Change, p.Graph, p.Approvals, findings); err != nil {
		return p, nil, nil, err
	}
	return p, cat, findings, nil
}

// readApprovals reads approvals/*.json sorted by file name; each must be named
// for its gate.
func readApprovals(dir string) ([]workspace.Approval, error) {
	paths, err := filepath.Glob(filepath.Join(dir, workspace.ApprovalsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	out := []workspace.Approval{}
	for _, path := range paths {
		rel := filepath.Join(workspace.ApprovalsDir, filepath.Base(path))
		var a workspace.Approval
		if err := workspace.ReadJSON(dir, rel, &a); err != nil {
			return nil, exitcode.Input(fmt.Errorf("read approval: %w", err))
		}
		if want := strings.TrimSuffix(filepath.Base(path), ".json"); a.Gate != want {
			return nil, exitcode.Inputf("%s: records gate %q, want %q", filepath.ToSlash(rel), a.Gate, want)
		}
		out = append(out, a)
	}
	return out, nil
}

// Findings and Finding are findings.json as the scan step writes it.
type (
	Findings = workspace.Findings
	Finding  = workspace.Finding
)

// ReadFindings reads the workspace's findings.json; nil when the scan step
// did not run.
func ReadFindings(dir string) (*Findings, error) { return readFindings(dir) }

// readFindings reads findings.json when the scan step wrote one.
func readFindings(dir string) (*Findings, error) {
	b, err := os.ReadFile(filepath.Join(dir, FindingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, exitcode.Infrastructure(fmt.Errorf("read findings: %w", err))
	}
	var f Findings
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, exitcode.Input(fmt.Errorf("read findings: %s: %w", FindingsFile, err))
	}
	return &f, nil
}

// Decide gives the verdict of a run and the reason that decided it: rejected
// when a gate was rejected; pending while a gate of the graph lacks a complete,
// verified approval; blocked when findings hold an unexcepted blocker;
// approved otherwise.
func Decide(g workspace.Graph, approvals []workspace.Approval, findings *Findings) (verdict, reason string) {
	byGate := map[string]workspace.Approval{}
	for _, a := range approvals {
		byGate[a.Gate] = a
		if a.Decision == gate.Reject {
			return Rejected, fmt.Sprintf("gate %q is rejected: %s", a.Gate, a.Reason)
		}
	}
	var waiting []string
	gates := 0
	for _, n := range g.Nodes {
		if n.Gate == nil {
			continue
		}
		gates++
		a, ok := byGate[n.Gate.Name]
		switch {
		case !ok:
			waiting = append(waiting, fmt.Sprintf("gate %q has no decision yet", n.Gate.Name))
		case a.Decision != gate.Approve || !a.Verified:
			waiting = append(waiting, fmt.Sprintf("gate %q %s", n.Gate.Name, a.Reason))
		}
	}
	if len(waiting) > 0 {
		return Pending, strings.Join(waiting, "; ")
	}
	if b := findings.Open(); len(b) > 0 {
		first := b[0]
		where := first.File
		if first.Line > 0 {
			where = fmt.Sprintf("%s:%d", first.File, first.Line)
		}
		return Blocked, fmt.Sprintf("%s: %d unexcepted blocker(s); first: %s at %s: %s", FindingsFile, len(b), first.Rule, where, first.Message)
	}
	switch gates {
	case 0:
		return Approved, "no gate required; no blockers"
	case 1:
		return Approved, "the gate is approved; no blockers"
	}
	return Approved, fmt.Sprintf("all %d gates are approved; no blockers", gates)
}

// digests returns the digest of every file of the workspace the packet covers,
// keyed by slash-separated relative path.
func digests(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == workspace.KeysDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !Covered(rel) {
			return nil
		}
		if !d.Type().IsRegular() {
			return exitcode.Inputf("%s: not a regular file; a packet covers regular files only", rel)
		}
		sum, err := workspace.FileDigest(path)
		if err != nil {
			return err
		}
		out[rel] = sum
		return nil
	})
	if err != nil {
		if exitcode.Code(err) == exitcode.BadInput {
			return nil, err
		}
		return nil, exitcode.Infrastructure(fmt.Errorf("digest workspace: %w", err))
	}
	return out, nil
}

// Covered reports whether the packet lists a workspace file (slash-separated
// relative path): every file but packet.json, packet.sig, keys/ and the
// temporary files of interrupted writes.
func Covered(rel string) bool {
	switch {
	case rel == workspace.PacketFile, rel == workspace.PacketSig:
		return false
	case strings.HasPrefix(rel, workspace.KeysDir+"/"):
		return false
	}
	base := rel[strings.LastIndex(rel, "/")+1:]
	return !(strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-"))
}
