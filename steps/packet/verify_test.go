package packet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/canonical"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// signedWorkspace is an approved run with step outputs beside the core files.
func signedWorkspace(t *testing.T) (dir, keyFile string) {
	t.Helper()
	dir = newWorkspace(t, approvedDecisions...)
	writeFindings(t, dir, `{"findings":[{"rule":"preprod.debug","blocker":false,"file":"deploy/api/app.yaml","line":3,"message":"debug logging"}]}`)
	for name, body := range map[string]string{
		"dataset.json":        `{"tables":[],"verified":true}`,
		"plan.json":           `{"steps":[],"rollback":[]}`,
		"rollouts/api.yaml":   "kind: Rollout\n",
		".hidden-step-output": "kept\n",
	} {
		if err := workspace.WriteFile(filepath.Join(dir, name), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	keyFile, _ = testKey(t, 1)
	if _, err := Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile, Version: "test"}); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	return dir, keyFile
}

func readPacket(t *testing.T, dir string) Packet {
	t.Helper()
	var p Packet
	if err := workspace.ReadJSON(dir, workspace.PacketFile, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// resign rewrites packet.json after edit and signs it again with keyFile, as
// someone holding the signing key could.
func resign(t *testing.T, dir, keyFile string, edit func(p *Packet)) {
	t.Helper()
	p := readPacket(t, dir)
	edit(&p)
	key, err := LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := workspace.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.WriteFile(filepath.Join(dir, workspace.PacketFile), b); err != nil {
		t.Fatal(err)
	}
	sig, err := sign(key, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.WriteJSON(dir, workspace.PacketSig, sig); err != nil {
		t.Fatal(err)
	}
}

func mustVerifyFail(t *testing.T, dir string, pub []byte, want string) Report {
	t.Helper()
	rep, err := Verify(dir, pub)
	if err == nil {
		t.Fatalf("Verify() = %+v, nil; want an error containing %q", rep, want)
	}
	if exitcode.Code(err) != exitcode.Negative || !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify() = %v (exit %d), want exit 1 containing %q", err, exitcode.Code(err), want)
	}
	if rep.OK {
		t.Errorf("Verify() report OK = true, want false")
	}
	return rep
}

func TestVerifyIntact(t *testing.T) {
	dir, keyFile := signedWorkspace(t)
	key, err := LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, publicKey(key))
	if err != nil || !rep.OK {
		t.Fatalf("Verify(intact) = %+v, %v, want OK", rep, err)
	}
	var names []string
	for _, c := range rep.Checks {
		if !c.OK {
			t.Errorf("Verify(intact) check %s failed: %s", c.Name, c.Detail)
		}
		names = append(names, c.Name)
	}
	want := "signature packet.json files approvals on disk recorded content gate policies verdict"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Verify(intact) checks = %q, want %q", got, want)
	}
	// The runner records the packet node's own audit entry after the packet.
	if err := workspace.WriteAudit(dir, workspace.AuditEntry{Step: "packet", Node: "packet", Start: "2026-03-02T10:00:00Z", End: "2026-03-02T10:00:01Z"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(dir, publicKey(key)); err != nil {
		t.Errorf("Verify(with a later audit entry) = %v, want OK", err)
	}
	p := readPacket(t, dir)
	for _, f := range []string{"dataset.json", "plan.json", "rollouts/api.yaml", "findings.json", ".hidden-step-output",
		"packet.md", "workflow.yaml", "catalog.json", "audit/classify.json", "approvals/migration.json"} {
		if _, ok := p.Files[f]; !ok {
			t.Errorf("packet files lack %s", f)
		}
	}
	for f := range p.Files {
		if f == workspace.PacketFile || f == workspace.PacketSig || strings.HasPrefix(f, "keys/") || strings.Contains(f, ".tmp-") {
			t.Errorf("packet files list %s, want it left out", f)
		}
	}
}

// TestVerifyOneByte changes one byte of every file the packet lists; each
// change is named.
func TestVerifyOneByte(t *testing.T) {
	dir, _ := signedWorkspace(t)
	var files []string
	for f := range readPacket(t, dir).Files {
		files = append(files, f)
	}
	sort.Strings(files)
	if len(files) < 12 {
		t.Fatalf("packet lists %d files, want every workspace file: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			dir, keyFile := signedWorkspace(t)
			key, _ := LoadPrivateKey(keyFile)
			path := filepath.Join(dir, filepath.FromSlash(f))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			mustVerifyFail(t, dir, publicKey(key), f+": digest sha256:")
		})
	}
}

func TestVerifyTampered(t *testing.T) {
	otherKey, otherPub := testKey(t, 2)
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir, keyFile string)
		useKey bool // verify against the expected public key, not the one in packet.sig
		want   string
	}{
		{"removed approval", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, workspace.ApprovalFile("notify")))
		}, false, "approvals/notify.json: listed in the packet but missing"},
		{"an approval the packet does not list", func(t *testing.T, dir, _ string) {
			b, _ := os.ReadFile(filepath.Join(dir, workspace.ApprovalFile("notify")))
			os.WriteFile(filepath.Join(dir, workspace.ApprovalFile("extra")), b, 0o644)
		}, false, "approvals/extra.json: on disk but not in the packet"},
		{"swapped signature", func(t *testing.T, dir, _ string) {
			// A valid signature by the same key over another packet.
			otherDir := newWorkspace(t, "bob:migration:approve")
			kf, _ := testKey(t, 1)
			if _, err := Run(context.Background(), Input{Workspace: otherDir, KeyFile: kf}); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(otherDir, workspace.PacketSig))
			os.WriteFile(filepath.Join(dir, workspace.PacketSig), b, 0o644)
		}, true, "packet.sig: digest sha256:"},
		{"wrong key id", func(t *testing.T, dir, _ string) {
			var sig Signature
			workspace.ReadJSON(dir, workspace.PacketSig, &sig)
			sig.KeyID = "0000000000000000"
			workspace.WriteJSON(dir, workspace.PacketSig, sig)
		}, false, "packet.sig: keyId 0000000000000000 does not match the key (34750f98bd59fcfc)"},
		{"verdict flipped in packet.json", func(t *testing.T, dir, _ string) {
			path := filepath.Join(dir, workspace.PacketFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, bytes.Replace(b, []byte(`"verdict": "approved"`), []byte(`"verdict": "rejected"`), 1), 0o644)
		}, false, "packet.sig: digest sha256:"},
		{"digest and content edited together, signature kept", func(t *testing.T, dir, _ string) {
			path := filepath.Join(dir, workspace.PacketFile)
			b, _ := os.ReadFile(path)
			b = bytes.Replace(b, []byte(`"verdict": "approved"`), []byte(`"verdict": "rejected"`), 1)
			os.WriteFile(path, b, 0o644)
			c, _ := canonical.Transform(b)
			var sig Signature
			workspace.ReadJSON(dir, workspace.PacketSig, &sig)
			sig.Digest = workspace.Digest(c)
			workspace.WriteJSON(dir, workspace.PacketSig, sig)
		}, false, "packet.sig: the signature does not verify packet.json"},
		{"summary edited, re-signed with the key", func(t *testing.T, dir, keyFile string) {
			resign(t, dir, keyFile, func(p *Packet) { p.Summary.Evidence = p.Summary.Evidence[1:] })
		}, true, "packet.json: the packet's summary does not match the file"},
		{"re-signed by another key", func(t *testing.T, dir, _ string) {
			resign(t, dir, otherKey, func(p *Packet) { p.KeyID = KeyID(otherPub) })
		}, true, "packet.sig: signed by key " + KeyID(otherPub) + ", not the expected key 34750f98bd59fcfc"},
		{"verdict flipped and re-signed with the key", func(t *testing.T, dir, keyFile string) {
			resign(t, dir, keyFile, func(p *Packet) { p.Verdict = Rejected })
		}, true, `packet.json: verdict "rejected" (all 2 gates are approved; no blockers), but the evidence gives "approved"`},
		{"forged approval with its digest, re-signed with the key", func(t *testing.T, dir, keyFile string) {
			path := filepath.Join(dir, workspace.ApprovalFile("migration"))
			b, _ := os.ReadFile(path)
			b = bytes.ReplaceAll(b, []byte(`"carol"`), []byte(`"alice"`))
			os.WriteFile(path, b, 0o644)
			resign(t, dir, keyFile, func(p *Packet) {
				p.Files["approvals/migration.json"] = workspace.Digest(b)
				p.Approvals[0].Approvers[1], p.Approvals[0].Records[1].User = "alice", "alice"
			})
		}, true, `approvals/migration.json: record 2: alice is the change's author and may not approve gate "migration"`},
		{"packet content edited to match nothing, re-signed", func(t *testing.T, dir, keyFile string) {
			resign(t, dir, keyFile, func(p *Packet) { p.Change.Author = "mallory" })
		}, true, "packet.json: the packet's change does not match the file"},
		{"packet.sig missing", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, workspace.PacketSig))
		}, false, "packet.sig: missing"},
		{"packet.json missing", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, workspace.PacketFile))
		}, false, "packet.json: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, keyFile := signedWorkspace(t)
			tt.tamper(t, dir, keyFile)
			var pub []byte
			if tt.useKey {
				key, _ := LoadPrivateKey(keyFile)
				pub = publicKey(key)
			}
			mustVerifyFail(t, dir, pub, tt.want)
		})
	}
}

// TestVerifyReindented: the signature covers the canonical form (RFC 8785),
// so re-indenting packet.json or reordering its keys keeps it valid.
func TestVerifyReindented(t *testing.T) {
	dir, _ := signedWorkspace(t)
	path := filepath.Join(dir, workspace.PacketFile)
	b, _ := os.ReadFile(path)
	c, err := canonical.Transform(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, c, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(dir, nil); err != nil || !r.OK {
		t.Errorf("Verify(re-indented packet) = %+v, %v; want ok", r, err)
	}
}

func TestVerifyNotADirectory(t *testing.T) {
	_, err := Verify(filepath.Join(t.TempDir(), "nope"), nil)
	if exitcode.Code(err) != exitcode.BadInput {
		t.Errorf("Verify(missing dir) = %v, want exit 2", err)
	}
}
