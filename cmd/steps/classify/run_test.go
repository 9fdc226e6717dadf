package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/fixtures"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const (
	catalogFile = "../../../fixtures/sample/services.yaml"
	rulesDir    = "../../../rules"
)

// sampleRepo generates the sample repository once per test.
func sampleRepo(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	tags, err := sample.Generate(context.Background(), fixtures.Sample(), dir)
	if err != nil {
		t.Fatalf("sample.Generate = %v", err)
	}
	return dir, tags
}

// event writes testdata/events/name with BASE and HEAD replaced by hashes.
func event(t *testing.T, name, base, head string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/events", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(`"BASE"`, `"`+base+`"`, `"HEAD"`, `"`+head+`"`).Replace(string(b))
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	repo, tags := sampleRepo(t)
	ws := t.TempDir()
	outputs := filepath.Join(t.TempDir(), "outputs")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"--workspace", ws, "--repo", repo, "--base", "app", "--head", "migration",
		"--catalog", catalogFile, "--rules", rulesDir, "--outputs", outputs, "--request", "drop the legacy ids",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("run = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var sum summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if want := filepath.Join(ws, workspace.ChangeFile); sum.Change != want || sum.Params["risk"] != "critical" {
		t.Errorf("stdout = %+v, want change %s risk critical", sum, want)
	}
	for k, want := range map[string]string{"risk": "critical", "classes": "db-migration", "services": "api", "files": "1"} {
		got, err := os.ReadFile(filepath.Join(outputs, k))
		if err != nil || string(got) != want {
			t.Errorf("output parameter %s = %q, %v, want %q", k, got, err, want)
		}
	}
	var c workspace.Change
	if err := workspace.ReadJSON(ws, workspace.ChangeFile, &c); err != nil {
		t.Fatal(err)
	}
	if c.Author != "alice" || c.Request != "drop the legacy ids" || c.Source.Head != tags["migration"] || c.Source.Base != tags["app"] {
		t.Errorf("change.json author %q request %q source %+v, want alice, the request and the tags' hashes", c.Author, c.Request, c.Source)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.CatalogFile)); err != nil {
		t.Errorf("catalog.json: %v", err)
	}
	// The manifests at the head revision, for the plan step, recorded in the audit entry.
	var a workspace.AuditEntry
	if err := workspace.ReadJSON(ws, "audit/classify.json", &a); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifests/deploy/api/deployment.yaml", "manifests/deploy/orders/service.yaml"} {
		if _, err := os.Stat(filepath.Join(ws, f)); err != nil || a.Outputs[f] == "" {
			t.Errorf("manifests snapshot %s: %v, audit digest %q", f, err, a.Outputs[f])
		}
	}
	if !strings.Contains(stderr.String(), "risk=critical") {
		t.Errorf("stderr = %q, want a summary line with risk=critical", stderr.String())
	}
}

func TestRunEvent(t *testing.T) {
	repo, tags := sampleRepo(t)
	tests := []struct {
		name, event string
		repo        bool
		wantFacts   map[string]string
		wantEvent   string
		wantRisk    string
	}{
		{"pull_request with repo", "pull_request.json", true, map[string]string{"destructive": "true"}, "pull_request", "critical"},
		{"push with repo", "push.json", true, map[string]string{"destructive": "true"}, "push", "critical"},
		// Without the repository the SQL is unread: high, not proven safe.
		{"push without repo", "push.json", false, map[string]string{"source.lines": "unavailable", "source.content": "unavailable"}, "push", "high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			args := []string{"--workspace", ws, "--event", event(t, tt.event, tags["app"], tags["migration"]), "--catalog", catalogFile, "--rules", rulesDir}
			if tt.repo {
				args = append(args, "--repo", repo)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("run(%s) = %d, want 0; stderr:\n%s", tt.name, code, stderr.String())
			}
			var c workspace.Change
			if err := workspace.ReadJSON(ws, workspace.ChangeFile, &c); err != nil {
				t.Fatal(err)
			}
			if c.Author != "alice" || c.Source.Event != tt.wantEvent || len(c.Files) != 1 || c.Files[0].Path != "services/api/migrations/0003_drop_legacy.sql" {
				t.Errorf("run(%s) author %q source %+v files %+v, want alice, %s, the migration", tt.name, c.Author, c.Source, c.Files, tt.wantEvent)
			}
			if c.Risk != tt.wantRisk {
				t.Errorf("run(%s) risk = %s, want %s", tt.name, c.Risk, tt.wantRisk)
			}
			for k, v := range tt.wantFacts {
				if c.Facts[k] != v {
					t.Errorf("run(%s) facts = %v, want %s=%s", tt.name, c.Facts, k, v)
				}
			}
		})
	}
}

// TestRunBadInput: each bad input exits 2 with a located message and leaves
// the workspace empty.
func TestRunBadInput(t *testing.T) {
	repo, tags := sampleRepo(t)
	tests := []struct {
		name string
		args func(t *testing.T) []string
		want []string // substrings of stderr
	}{
		{"missing revision", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "v9", "--head", "migration"}
		}, []string{"--base v9: revision not found in " + repo}},
		{"both revisions missing", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "v9", "--head", "deadbeef"}
		}, []string{"--base v9: revision not found", "--head deadbeef: revision not found"}},
		{"not a repository", func(t *testing.T) []string {
			return []string{"--repo", t.TempDir(), "--base", "a", "--head", "b"}
		}, []string{": not a git repository"}},
		{"base not given", func(*testing.T) []string {
			return []string{"--repo", repo, "--head", "migration"}
		}, []string{"--base: missing"}},
		{"nothing to classify", func(*testing.T) []string { return nil }, []string{"no change to classify"}},
		{"pull_request event missing head sha", func(t *testing.T) []string {
			return []string{"--repo", repo, "--event", event(t, "pull_request-missing-head.json", "", "")}
		}, []string{"event.json: pull_request.head.sha: missing"}},
		{"push event missing fields", func(t *testing.T) []string {
			return []string{"--event", event(t, "push-missing-fields.json", "", "")}
		}, []string{"event.json: before: missing", "event.json: head_commit.author.username: missing", "event.json: commits[0].added: want an array"}},
		{"pull_request event without repo", func(t *testing.T) []string {
			return []string{"--event", event(t, "pull_request.json", tags["app"], tags["migration"])}
		}, []string{"lists no files; give the repository (--repo)"}},
		{"event sha not in the repository", func(t *testing.T) []string {
			return []string{"--repo", repo, "--event", event(t, "pull_request.json", tags["app"], strings.Repeat("ab", 20))}
		}, []string{"event.json: pull_request.head.sha abab", "revision not found in " + repo}},
		{"unknown event name", func(t *testing.T) []string {
			return []string{"--event", event(t, "push.json", "a", "b"), "--event-name", "issues"}
		}, []string{`event "issues" is not supported`}},
		{"catalog with an unknown dependency", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "app", "--head", "migration", "--catalog", "testdata/unknown-dependency.yaml"}
		}, []string{`testdata/unknown-dependency.yaml:8:17: service "api" depends on unknown service "payments"`}},
		{"catalog with overlapping ownership", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "app", "--head", "migration", "--catalog", "testdata/overlapping.yaml"}
		}, []string{`testdata/overlapping.yaml:12:13: service "orders": path "services/orders/**" overlaps "services/**" owned by service "api"`}},
		{"malformed rules", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "app", "--head", "migration", "--rules", "testdata/bad-yaml-rules"}
		}, []string{"testdata/bad-yaml-rules/classify.yaml:3:1: did not find expected key"}},
		{"every problem at once", func(*testing.T) []string {
			return []string{"--repo", repo, "--base", "v9", "--head", "migration", "--rules", "testdata/bad-yaml-rules", "--catalog", "testdata/unknown-dependency.yaml"}
		}, []string{"--base v9: revision not found", "bad-yaml-rules/classify.yaml:3:1:", "unknown-dependency.yaml:8:17"}},
		{"unknown flag", func(*testing.T) []string { return []string{"--bogus"} }, []string{"flag provided but not defined: -bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := filepath.Join(t.TempDir(), "ws")
			args := append([]string{"--workspace", ws, "--catalog", catalogFile, "--rules", rulesDir}, tt.args(t)...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("run(%s) = %d, want 2; stderr:\n%s", tt.name, code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run(%s) stderr =\n%s\nwant it to contain %q", tt.name, stderr.String(), w)
				}
			}
			if stdout.Len() > 0 {
				t.Errorf("run(%s) stdout = %q, want nothing", tt.name, stdout.String())
			}
			if _, err := os.Stat(ws); !os.IsNotExist(err) {
				t.Errorf("run(%s) created the workspace (%v), want nothing written", tt.name, err)
			}
		})
	}
}
