package packet

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/explain"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

// Check is one verification and its result.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the result of verifying a packet, check by check.
type Report struct {
	Verdict string  `json:"verdict,omitempty"`
	KeyID   string  `json:"keyId,omitempty"`
	Checks  []Check `json:"checks"`
	OK      bool    `json:"ok"`
}

// Verify checks the packet in dir offline: the signature over packet.json (with
// publicKey, or the key recorded in packet.sig when nil) and its key id; every
// listed file's digest; no approval on disk the packet does not list; the
// recorded change, graph, approvals and audit match their files; every
// approval keeps its gate's recorded policy; and the recorded verdict follows
// from the evidence. The error (exit 1) names the first broken link; a
// directory that cannot be read is bad input (exit 2).
func Verify(dir string, publicKey ed25519.PublicKey) (Report, error) {
	var r Report
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return r, exitcode.Inputf("verify %s: not a directory", dir)
	}
	var first error
	check := func(name string, err error, ok string) bool {
		c := Check{Name: name, OK: err == nil, Detail: ok}
		if err != nil {
			c.Detail = err.Error()
			if first == nil {
				first = err
			}
		}
		r.Checks = append(r.Checks, c)
		return err == nil
	}
	skip := func(names ...string) {
		for _, n := range names {
			r.Checks = append(r.Checks, Check{Name: n, Detail: "skipped: an earlier check failed"})
		}
	}
	later := []string{"files", "approvals on disk", "recorded content", "gate policies", "verdict"}

	raw, sig, err := readPacketFiles(dir)
	if err != nil {
		check("signature", err, "")
		skip(append([]string{"packet.json"}, later...)...)
		return r, exitcode.Verdict(first)
	}
	pub, err := verifySignature(sig, raw, publicKey)
	if check("signature", err, fmt.Sprintf("ed25519 signature by key %s verifies packet.json", sig.KeyID)) {
		r.KeyID = KeyID(pub)
	}

	var p Packet
	err = workspace.DecodeJSON(workspace.PacketFile, bytes.NewReader(raw), &p)
	if err == nil && p.Version != Version {
		err = fmt.Errorf("%s: version %q, want %q", workspace.PacketFile, p.Version, Version)
	}
	if err == nil && p.KeyID != sig.KeyID {
		err = fmt.Errorf("%s: keyId %s, but %s is by key %s", workspace.PacketFile, p.KeyID, workspace.PacketSig, sig.KeyID)
	}
	if !check("packet.json", err, "well-formed "+Version) {
		skip(later...)
		return r, exitcode.Verdict(first)
	}
	r.Verdict = p.Verdict

	check("files", verifyFiles(dir, p.Files), fmt.Sprintf("%d files match their digests", len(p.Files)))
	check("approvals on disk", unlistedApprovals(dir, p.Files), "every approval on disk is in the packet")
	cat, findings, err := recordedContent(dir, p)
	check("recorded content", err, "change, graph, catalog, approvals, audit and summary match their files")
	if cat != nil {
		check("gate policies", gatePolicies(p, cat), fmt.Sprintf("%d approvals keep their gates' policies", len(p.Approvals)))
	} else {
		skip("gate policies")
	}
	verdict, reason := Decide(p.Graph, p.Approvals, findings)
	err = nil
	if verdict != p.Verdict || reason != p.Reason {
		err = fmt.Errorf("%s: verdict %q (%s), but the evidence gives %q (%s)", workspace.PacketFile, p.Verdict, p.Reason, verdict, reason)
	}
	check("verdict", err, fmt.Sprintf("%s follows from the evidence", p.Verdict))

	r.OK = first == nil
	if first != nil {
		return r, exitcode.Verdict(first)
	}
	return r, nil
}

func readPacketFiles(dir string) ([]byte, Signature, error) {
	var sig Signature
	raw, err := os.ReadFile(filepath.Join(dir, workspace.PacketFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, sig, fmt.Errorf("%s: missing", workspace.PacketFile)
	}
	if err != nil {
		return nil, sig, fmt.Errorf("%s: %w", workspace.PacketFile, unwrapPath(err))
	}
	if err := workspace.ReadJSON(dir, workspace.PacketSig, &sig); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%s: missing", workspace.PacketSig)
		}
		return nil, sig, err
	}
	return raw, sig, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// verifyFiles checks each listed file, in path order, against its digest.
func verifyFiles(dir string, files map[string]string) error {
	paths := make([]string, 0, len(files))
	for k := range files {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, rel := range paths {
		if !local(rel) || !Covered(rel) {
			return fmt.Errorf("%s: a path a packet may not list", rel)
		}
		got, err := workspace.FileDigest(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: listed in the packet but missing", rel)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, unwrapPath(err))
		}
		if got != files[rel] {
			return fmt.Errorf("%s: digest %s does not match the packet (%s)", rel, got, files[rel])
		}
	}
	for _, rel := range []string{workspace.ChangeFile, workspace.GraphFile, workspace.CatalogFile, workspace.PacketMD} {
		if _, ok := files[rel]; !ok {
			return fmt.Errorf("%s: not listed in the packet", rel)
		}
	}
	return nil
}

// local reports whether rel is a clean relative path inside the workspace.
func local(rel string) bool {
	return rel != "" && !strings.HasPrefix(rel, "/") && path.Clean(rel) == rel && rel != ".." && !strings.HasPrefix(rel, "../")
}

func unlistedApprovals(dir string, files map[string]string) error {
	paths, err := filepath.Glob(filepath.Join(dir, workspace.ApprovalsDir, "*"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel := workspace.ApprovalsDir + "/" + filepath.Base(p)
		if !Covered(rel) {
			continue
		}
		if _, ok := files[rel]; !ok {
			return fmt.Errorf("%s: on disk but not in the packet", rel)
		}
	}
	return nil
}

// recordedContent checks that what packet.json records is what the files say,
// and returns the recorded catalog and findings.
func recordedContent(dir string, p Packet) (*catalog.Catalog, *Findings, error) {
	same := func(name string, fromFile, recorded any) error {
		a, errA := workspace.Marshal(fromFile)
		b, errB := workspace.Marshal(recorded)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s: the packet's %s does not match the file", workspace.PacketFile, name)
		}
		return nil
	}
	var change workspace.Change
	if err := workspace.ReadJSON(dir, workspace.ChangeFile, &change); err != nil {
		return nil, nil, err
	}
	if err := same("change", change, p.Change); err != nil {
		return nil, nil, err
	}
	var graph workspace.Graph
	if err := workspace.ReadJSON(dir, workspace.GraphFile, &graph); err != nil {
		return nil, nil, err
	}
	if err := same("graph", graph, p.Graph); err != nil {
		return nil, nil, err
	}
	cat, err := gate.ReadCatalog(dir)
	if err != nil {
		return nil, nil, err
	}
	if d := cat.Digest(); d != p.CatalogDigest {
		return nil, nil, fmt.Errorf("%s: catalogDigest %s, but %s is %s", workspace.PacketFile, p.CatalogDigest, workspace.CatalogFile, d)
	}
	approvals, err := readApprovals(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := same("approvals", approvals, p.Approvals); err != nil {
		return nil, nil, err
	}
	all, err := workspace.ReadAudit(dir)
	if err != nil {
		return nil, nil, err
	}
	// Entries written after the packet was signed (the packet node's own) are
	// not part of it.
	audit := []workspace.AuditEntry{}
	for _, e := range all {
		if _, ok := p.Files[filepath.ToSlash(workspace.AuditFile(e.Node))]; ok {
			audit = append(audit, e)
		}
	}
	if err := same("audit", audit, p.Audit); err != nil {
		return nil, nil, err
	}
	findings, err := readFindings(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{FindingsFile, DatasetFile, workspace.PlanFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			if _, ok := p.Files[name]; !ok {
				return nil, nil, fmt.Errorf("%s: on disk but not in the packet", name)
			}
		}
	}
	sum, err := summarize(dir, change, graph, approvals, findings)
	if err != nil {
		return nil, nil, err
	}
	if err := same("summary", sum, p.Summary); err != nil {
		return nil, nil, err
	}
	calls, rec, err := recordedCalls(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := same("model calls", calls, p.ModelCalls); err != nil {
		return nil, nil, err
	}
	var explained *explain.Result
	if rec != nil {
		if _, ok := p.Files[workspace.ExplanationsFile]; !ok {
			return nil, nil, fmt.Errorf("%s: on disk but not in the packet", workspace.ExplanationsFile)
		}
		explained = &rec.Explanations
	}
	if err := same("explanations", explained, p.Explanations); err != nil {
		return nil, nil, err
	}
	return cat, findings, nil
}

// gatePolicies checks every approval against its gate's recorded policy.
func gatePolicies(p Packet, cat *catalog.Catalog) error {
	for _, a := range p.Approvals {
		rel := workspace.ApprovalsDir + "/" + a.Gate + ".json"
		policy, err := gate.PolicyIn(p.Graph, a.Gate)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if err := gate.Check(policy, p.Change.Author, cat, a); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	return nil
}
