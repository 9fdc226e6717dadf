package scan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/trivyscan/vulndbtest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// scanTree writes files into a temporary tree and scans it.
func scanTree(t *testing.T, files map[string]string, mod func(*Input)) (Output, workspace.Findings, error) {
	t.Helper()
	root := t.TempDir()
	for p, s := range files {
		writeFile(t, filepath.Join(root, p), s)
	}
	in := Input{Path: root, Workspace: t.TempDir(), Rules: loadRules(t), Now: asOf}
	if mod != nil {
		mod(&in)
	}
	out, err := Run(context.Background(), in)
	if err != nil {
		return out, workspace.Findings{}, err
	}
	return out, readFindings(t, in.Workspace), nil
}

const goodPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: n}\nspec:\n  containers:\n    - {name: c, image: gcr.io/x/y:1.0}\n"

// TestUnparseable: a file that does not parse is a located blocker, never a
// crash, and the rest of the tree is still scanned.
func TestUnparseable(t *testing.T) {
	tests := []struct {
		name, file, content string
		rule                string
		line                int
		msg                 string
	}{
		{"yaml", "deploy/bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   namespace: y\n", RuleUnparseable, 5, "YAML does not parse"},
		{"yaml tab", "deploy/tab.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n\tkey: v\n", RuleUnparseable, 5, "YAML does not parse"},
		{"wrong field type", "deploy/types.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: {name: c}\n", RuleUnparseable, 1, `Deployment "d" is not valid`},
		{"hcl", "tf/main.tf", "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n\n", RuleUnparseable, 1, "Terraform does not parse"},
		{"hcl json", "tf/main.tf.json", "{\"resource\": [}", RuleUnparseable, 1, "Terraform does not parse"},
		{"helm missing value", "chart/templates/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: {{ .Values.image.repository }}\n", RuleHelmRender, 7, "chart does not render"},
		{"helm required value", "chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: {{ required \"url is required\" .Values.url }}\n", RuleHelmRender, 5, "url is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"deploy/ok.yaml": goodPod, tt.file: tt.content}
			if strings.HasPrefix(tt.file, "chart/") {
				files["chart/Chart.yaml"] = "apiVersion: v2\nname: chart\nversion: 0.1.0\n"
			}
			out, fs, err := scanTree(t, files, nil)
			if err != nil {
				t.Fatalf("Run = %v, want findings", err)
			}
			got := findingsOf(fs, tt.rule, tt.file)
			if len(got) != 1 {
				t.Fatalf("findings of %s at %s = %+v; all: %v", tt.rule, tt.file, got, ruleFiles(fs))
			}
			f := got[0]
			if f.Line != tt.line || !strings.Contains(f.Message, tt.msg) || !f.Blocker || f.DecidedBy != "policy.decide.unreadable" {
				t.Errorf("finding = line %d, %q, blocker %v by %s; want line %d, %q, a blocker", f.Line, f.Message, f.Blocker, f.DecidedBy, tt.line, tt.msg)
			}
			if out.ExitCode() != exitcode.Negative {
				t.Errorf("exit %d, want 1", out.ExitCode())
			}
			if len(findingsOf(fs, "KSV-0017", "deploy/ok.yaml"))+len(findingsOf(fs, "KSV-0014", "deploy/ok.yaml")) == 0 {
				t.Errorf("the good manifest beside it was not scanned")
			}
		})
	}
}

func ruleFiles(fs workspace.Findings) []string {
	var out []string
	for _, f := range fs.Findings {
		out = append(out, f.Rule+"@"+f.File)
	}
	return out
}

func hasNote(fs workspace.Findings, file, msg string) bool {
	return slices.ContainsFunc(fs.Notes, func(n workspace.ScanNote) bool {
		return n.File == file && strings.Contains(n.Message, msg)
	})
}

// TestSkipped: symbolic links (loops included), binary files and huge files
// are skipped with a note, never followed or read.
func TestSkipped(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "deploy/ok.yaml"), goodPod)
	writeFile(t, filepath.Join(root, "tool/testdata/broken.yaml"), "a: [\n")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("b", filepath.Join(root, "loop-a")))
	must(os.Symlink("loop-a", filepath.Join(root, "b")))
	must(os.Symlink("..", filepath.Join(root, "deploy", "up"))) // a directory loop
	must(os.Symlink("nowhere", filepath.Join(root, "dangling")))
	must(os.Symlink("deploy/ok.yaml", filepath.Join(root, "link.yaml")))
	must(os.WriteFile(filepath.Join(root, "logo.png"), []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o644))
	must(os.WriteFile(filepath.Join(root, "tool.bin.yaml"), []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}, 0o644))
	huge, err := os.Create(filepath.Join(root, "dump.yaml"))
	must(err)
	must(huge.Truncate(DefaultMaxFileSize + 1)) // sparse: cheap to make
	must(huge.Close())
	in := Input{Path: root, Workspace: t.TempDir(), Rules: loadRules(t), Now: asOf}
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), in); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not finish: a link loop was followed")
	}
	fs := readFindings(t, in.Workspace)
	for _, n := range []struct{ file, msg string }{
		{"loop-a", "symbolic link loop"}, {"b", "symbolic link loop"}, {"deploy/up", "symbolic link"},
		{"dangling", "symbolic link to nothing"}, {"link.yaml", "links are not followed"},
		{"logo.png", "binary file"}, {"tool/testdata", "test data directory"}, {"tool.bin.yaml", "binary file"}, {"dump.yaml", "over the 10.0 MiB limit"},
	} {
		if !hasNote(fs, n.file, n.msg) {
			t.Errorf("no note %q for %s; notes: %+v", n.msg, n.file, fs.Notes)
		}
	}
	for _, f := range fs.Findings {
		if f.File != "deploy/ok.yaml" {
			t.Errorf("finding on a skipped file: %s at %s", f.Rule, f.File)
		}
	}
	if fs.Scanned["files"] != 1 {
		t.Errorf("scanned %v, want the one regular text file", fs.Scanned)
	}
}

// TestBadInput: input the scan cannot work with is exit 2, located where it
// can be, and nothing is written.
func TestBadInput(t *testing.T) {
	ledger := func(body string) func(*Input) {
		return func(in *Input) {
			p := filepath.Join(t.TempDir(), "exceptions.yaml")
			writeFile(t, p, "apiVersion: rehearsal.dev/v1\nkind: exceptions\nexceptions:\n"+body)
			in.Exceptions = p
		}
	}
	tests := []struct {
		name string
		mod  func(*Input)
		want string
	}{
		{"exceptions bad date", ledger("  - id: a\n    rule: policy.privileged\n    path: '**'\n    owner: o\n    reason: r\n    expires: 2026-02-30\n"),
			`exceptions.yaml:9:14: exception a: expires "2026-02-30" is not a date`},
		{"exceptions unknown rule", ledger("  - id: a\n    rule: KSV-4242\n    path: '**'\n    owner: o\n    reason: r\n    expires: 2026-02-01\n"),
			`exceptions.yaml:5:11: exception a: unknown rule "KSV-4242"`},
		{"exceptions missing", func(in *Input) { in.Exceptions = filepath.Join(t.TempDir(), "none.yaml") }, "read exceptions"},
		{"path missing", func(in *Input) { in.Path = filepath.Join(t.TempDir(), "none") }, "no such file or directory"},
		{"path a file", func(in *Input) {
			p := filepath.Join(t.TempDir(), "f.yaml")
			writeFile(t, p, goodPod)
			in.Path = p
		}, "not a directory"},
		{"baseline missing", func(in *Input) { in.Baseline = filepath.Join(t.TempDir(), "none") }, "baseline"},
		{"baseline does not parse", func(in *Input) {
			d := t.TempDir()
			writeFile(t, filepath.Join(d, "deploy/x.yaml"), "kind: Pod\n  bad: [\n")
			in.Baseline = d
		}, "deploy/x.yaml:2:1: YAML does not parse"},
		{"bad production secret pattern", func(in *Input) { in.ProdSecretPatterns = []string{"^live-("} }, `production secret pattern "^live-("`},
		{"bad change.json", func(in *Input) { writeFile(t, filepath.Join(in.Workspace, workspace.ChangeFile), `{"risk": `) }, "read change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ws string
			_, _, err := scanTree(t, map[string]string{"deploy/ok.yaml": goodPod}, func(in *Input) {
				tt.mod(in)
				ws = in.Workspace
			})
			if exitcode.Code(err) != exitcode.BadInput || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run(%s) = %v (exit %d), want exit 2 and %q", tt.name, err, exitcode.Code(err), tt.want)
			}
			for _, n := range []string{workspace.FindingsFile, workspace.SARIFFile} {
				if _, err := os.Stat(filepath.Join(ws, n)); err == nil {
					t.Errorf("Run(%s) wrote %s", tt.name, n)
				}
			}
		})
	}
}

// TestTrivyDB: vulnerability scanning needs a database; without one, or
// with a directory that holds none, the scan says so and goes on.
func TestTrivyDB(t *testing.T) {
	for _, tt := range []struct {
		name, db, want string
	}{
		{"no flag", "", "no Trivy database given"},
		{"empty dir", t.TempDir(), "no Trivy vulnerability database: trivy.db is missing"},
		{"missing dir", filepath.Join(t.TempDir(), "none"), "no Trivy vulnerability database: trivy.db is missing"},
		{"old schema", oldSchemaDB(t), "schema version 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, fs, err := scanTree(t, map[string]string{"deploy/ok.yaml": goodPod}, func(in *Input) { in.TrivyDB = tt.db })
			if err != nil {
				t.Fatalf("Run = %v, want a note", err)
			}
			if !hasNote(fs, "", tt.want) {
				t.Errorf("notes %+v, want %q", fs.Notes, tt.want)
			}
		})
	}
}

func oldSchemaDB(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "trivy.db"), "")
	writeFile(t, filepath.Join(dir, "metadata.json"), `{"Version": 1}`)
	return dir
}

// TestVulnerabilities: with a database, the packages lockfiles pin are
// looked up, and a critical vulnerability blocks.
func TestVulnerabilities(t *testing.T) {
	db := t.TempDir()
	err := vulndbtest.Write(db, []vulndbtest.Advisory{{Bucket: "go::GitHub Security Advisory Go", Source: "ghsa",
		Package: "example.com/vulnerable", ID: "CVE-2099-0001", Title: "remote code execution", Severity: "CRITICAL",
		Vulnerable: []string{"< 1.2.3"}, Patched: []string{"1.2.3"}}})
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/app\n\ngo 1.22\n\nrequire example.com/vulnerable v1.2.0\n"
	out, fs, err := scanTree(t, map[string]string{"svc/go.mod": gomod, "web/package-lock.json": "{"}, func(in *Input) { in.TrivyDB = db })
	if err != nil {
		t.Fatal(err)
	}
	got := findingsOf(fs, "CVE-2099-0001", "svc/go.mod")
	if len(got) != 1 {
		t.Fatalf("findings %v, want CVE-2099-0001 in svc/go.mod", ruleFiles(fs))
	}
	f := got[0]
	if f.Source != workspace.SourceVulnerability || f.Line != 5 || !f.Blocker || f.Resource != "example.com/vulnerable@v1.2.0" ||
		f.Fix != "Upgrade example.com/vulnerable to 1.2.3 or later." || out.Blockers != 1 {
		t.Errorf("vulnerability finding = %+v (blockers %d)", f, out.Blockers)
	}
	if !hasNote(fs, "web/package-lock.json", "lockfile not read") || !hasNote(fs, "", "1 lockfile(s) checked") && !hasNote(fs, "", "2 lockfile(s) checked") {
		t.Errorf("notes %+v, want the broken lockfile and the count", fs.Notes)
	}
	// The ledger may name a vulnerability id.
	_, fs, err = scanTree(t, map[string]string{"svc/go.mod": gomod}, func(in *Input) {
		in.TrivyDB = db
		p := filepath.Join(t.TempDir(), "exceptions.yaml")
		writeFile(t, p, "apiVersion: rehearsal.dev/v1\nkind: exceptions\nexceptions:\n  - {id: rce, rule: CVE-2099-0001, path: 'svc/**', owner: o, reason: not reachable, expires: 2026-02-01}\n")
		in.Exceptions = p
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := findingsOf(fs, "CVE-2099-0001", ""); len(f) != 1 || !f[0].Excepted {
		t.Errorf("excepted vulnerability = %+v", f)
	}
}

// TestCancelled: a cancelled scan stops and writes nothing.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := Input{Path: filepath.Join(fixtures, "clean"), Workspace: t.TempDir(), Rules: loadRules(t), Now: asOf}
	if _, err := Run(ctx, in); err == nil {
		t.Fatal("Run(cancelled) = nil")
	}
	if _, err := os.Stat(filepath.Join(in.Workspace, workspace.FindingsFile)); err == nil {
		t.Error("a cancelled scan wrote findings.json")
	}
}
