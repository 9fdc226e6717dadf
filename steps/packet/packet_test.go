package packet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testKey is a fixed key, so that packets are byte-identical run to run.
func testKey(t *testing.T, seed byte) (string, ed25519.PublicKey) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "packet.key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key.Public().(ed25519.PublicKey)
}

// newWorkspace copies testdata/ws (author alice; gate "migration": team-api or
// team-dba, two approvers, not the author; gate "notify": team-api, one
// approver), adds audit entries, and records the given decisions through the
// gate step ("user:gate:decision").
func newWorkspace(t *testing.T, decisions ...string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", "ws"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "ws", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []workspace.AuditEntry{
		{Step: "classify", Node: "classify", Image: "ko://github.com/rehearsal-dev/rehearsal/cmd/steps/classify",
			Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:00:02Z", Version: "test", RulesDigest: "sha256:1111",
			Outputs: map[string]string{"change.json": "sha256:aa"}},
		{Step: "coordinate", Node: "coordinate", Start: "2026-03-02T09:00:03Z", End: "2026-03-02T09:00:04Z", Version: "test",
			Inputs: map[string]string{"change.json": "sha256:aa"}, Outputs: map[string]string{"graph.json": "sha256:bb"}},
	} {
		if err := workspace.WriteAudit(dir, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range decisions {
		parts := strings.Split(d, ":")
		in := gate.Input{Workspace: dir, User: parts[0], Gate: parts[1], Decision: parts[2], Source: gate.SourceLocal, Comment: "ok"}
		if _, err := gate.Run(context.Background(), in); err != nil {
			t.Fatalf("gate.Run(%s) = %v", d, err)
		}
	}
	return dir
}

var approvedDecisions = []string{"bob:migration:approve", "carol:migration:approve", "alice:notify:approve"}

func writeFindings(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, FindingsFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name        string
		decisions   []string
		findings    string
		wantVerdict string
		wantReason  string
		wantExit    int
	}{
		{"no decisions yet", nil, "", Pending,
			`gate "migration" has no decision yet; gate "notify" has no decision yet`, exitcode.Pending},
		{"one of two approvers", []string{"bob:migration:approve", "alice:notify:approve"}, "", Pending,
			`gate "migration" needs 2 distinct approvers, has 1 (bob)`, exitcode.Pending},
		{"every gate approved", approvedDecisions, "", Approved, "all 2 gates are approved; no blockers", exitcode.OK},
		{"a gate rejected", []string{"bob:migration:approve", "carol:migration:reject"}, "", Rejected,
			`gate "migration" is rejected: rejected by carol: ok`, exitcode.Negative},
		{"an unexcepted blocker", approvedDecisions,
			`{"findings":[{"rule":"preprod.public-ingress","severity":"high","blocker":true,"file":"deploy/api/ingress.yaml","line":7,"message":"public ingress","fix":"make it internal"}]}`,
			Blocked, "findings.json: 1 unexcepted blocker(s); first: preprod.public-ingress at deploy/api/ingress.yaml:7: public ingress", exitcode.Negative},
		{"an excepted blocker and an advisory", approvedDecisions,
			`{"findings":[{"rule":"a","blocker":true,"excepted":true},{"rule":"b","blocker":false}],"sarif":"findings.sarif"}`,
			Approved, "all 2 gates are approved; no blockers", exitcode.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkspace(t, tt.decisions...)
			if tt.findings != "" {
				writeFindings(t, dir, tt.findings)
			}
			keyFile, pub := testKey(t, 1)
			out, err := Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile, Version: "test"})
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
			if out.Verdict != tt.wantVerdict || out.Reason != tt.wantReason || out.ExitCode() != tt.wantExit {
				t.Errorf("Run() = %q (%s) exit %d, want %q (%s) exit %d", out.Verdict, out.Reason, out.ExitCode(), tt.wantVerdict, tt.wantReason, tt.wantExit)
			}
			if len(out.Warnings) != 0 {
				t.Errorf("Run() warnings = %q, want none with a key file", out.Warnings)
			}
			rep, err := Verify(dir, pub)
			if err != nil || !rep.OK || rep.Verdict != tt.wantVerdict {
				t.Errorf("Verify() = %+v, %v, want OK with verdict %q", rep, err, tt.wantVerdict)
			}
		})
	}
}

// TestGolden pins packet.json, packet.md and packet.sig, and checks that a
// second run gives the same bytes.
func TestGolden(t *testing.T) {
	dir := newWorkspace(t, approvedDecisions...)
	writeFindings(t, dir, `{"findings":[{"rule":"preprod.debug","severity":"low","blocker":false,"file":"deploy/api/app.yaml","line":3,"message":"debug | verbose logging","fix":"turn it off"}]}`)
	keyFile, _ := testKey(t, 1)
	run := func() map[string][]byte {
		if _, err := Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile, Version: "test"}); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		out := map[string][]byte{}
		for _, name := range []string{workspace.PacketFile, workspace.PacketMD, workspace.PacketSig} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = b
		}
		return out
	}
	first, second := run(), run()
	for name, got := range first {
		if !bytes.Equal(got, second[name]) {
			t.Errorf("%s differs between two runs on the same inputs", name)
		}
		golden := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s =\n%s\nwant (%s)\n%s", name, got, golden, want)
		}
	}
}

func TestLocalKey(t *testing.T) {
	dir := newWorkspace(t, approvedDecisions...)
	out1, err := Run(context.Background(), Input{Workspace: dir, Version: "test"})
	if err != nil {
		t.Fatalf("Run(no key file) = %v", err)
	}
	if len(out1.Warnings) != 1 || !strings.Contains(out1.Warnings[0], "proves the packet's integrity, not who produced it") {
		t.Errorf("Run(no key file) warnings = %q, want the local-key warning", out1.Warnings)
	}
	fi, err := os.Stat(filepath.Join(dir, LocalKeyFile))
	if err != nil {
		t.Fatalf("Run(no key file) wrote no %s: %v", LocalKeyFile, err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", LocalKeyFile, fi.Mode().Perm())
	}
	out2, err := Run(context.Background(), Input{Workspace: dir, Version: "test"})
	if err != nil {
		t.Fatalf("Run(no key file, again) = %v", err)
	}
	if out1.KeyID != out2.KeyID {
		t.Errorf("second Run() keyId = %s, want the first key %s reused", out2.KeyID, out1.KeyID)
	}
	var p Packet
	if err := workspace.ReadJSON(dir, workspace.PacketFile, &p); err != nil {
		t.Fatal(err)
	}
	for f := range p.Files {
		if strings.HasPrefix(f, workspace.KeysDir+"/") {
			t.Errorf("packet lists %s, want keys/ left out", f)
		}
	}
	if _, err := Verify(dir, nil); err != nil {
		t.Errorf("Verify(local key) = %v", err)
	}
}

func TestKeyFileErrors(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte // nil: the file does not exist
		wantMsg string
	}{
		{"missing", nil, "no such file"},
		{"not PEM", []byte("hello"), `not a PEM "PRIVATE KEY" (PKCS#8) block`},
		{"not PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk-secret")}), "not a PKCS#8 private key"},
		{"an RSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}), "want an ed25519 key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkspace(t, approvedDecisions...)
			keyFile := filepath.Join(t.TempDir(), "key.pem")
			if tt.content != nil {
				if err := os.WriteFile(keyFile, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile})
			if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Run(key %s) = %v, want exit 2 containing %q", tt.name, err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "junk-secret") {
				t.Errorf("Run(key %s) = %v, want no key material in the message", tt.name, err)
			}
			if _, err := os.Stat(filepath.Join(dir, workspace.PacketFile)); err == nil {
				t.Errorf("Run(key %s) wrote packet.json, want nothing written", tt.name)
			}
		})
	}
}

// TestOpenSSLKeys signs with a key made by `openssl genpkey -algorithm ed25519`
// and verifies with the public key `openssl pkey -pubout` derives from it.
func TestOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	tmp := t.TempDir()
	keyFile, pubFile := filepath.Join(tmp, "key.pem"), filepath.Join(tmp, "pub.pem")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", keyFile},
		{"pkey", "-in", keyFile, "-pubout", "-out", pubFile},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	dir := newWorkspace(t, approvedDecisions...)
	out, err := Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile})
	if err != nil {
		t.Fatalf("Run(openssl key) = %v", err)
	}
	pub, err := LoadPublicKey(pubFile)
	if err != nil {
		t.Fatalf("LoadPublicKey(openssl) = %v", err)
	}
	if KeyID(pub) != out.KeyID {
		t.Errorf("KeyID(openssl public key) = %s, want %s", KeyID(pub), out.KeyID)
	}
	if _, err := Verify(dir, pub); err != nil {
		t.Errorf("Verify(openssl public key) = %v", err)
	}
}

// TestInconsistentApproval: a hand-edited approval is not packed.
func TestInconsistentApproval(t *testing.T) {
	dir := newWorkspace(t, approvedDecisions...)
	path := filepath.Join(dir, workspace.ApprovalFile("migration"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(`"carol"`), []byte(`"alice"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	keyFile, _ := testKey(t, 1)
	_, err = Run(context.Background(), Input{Workspace: dir, KeyFile: keyFile})
	want := `approvals/migration.json: record 2: alice is the change's author and may not approve gate "migration"`
	if exitcode.Code(err) != exitcode.Negative || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run(edited approval) = %v, want exit 1 containing %q", err, want)
	}
	for _, name := range []string{workspace.PacketFile, workspace.PacketMD, workspace.PacketSig} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("Run(edited approval) wrote %s, want nothing written", name)
		}
	}
}
