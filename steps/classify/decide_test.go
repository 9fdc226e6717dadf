package classify

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// TestDecideIsIdempotent re-decides a decided change, and a change whose
// recorded decision was tampered with: both give the original bytes.
func TestDecideIsIdempotent(t *testing.T) {
	cat, set := loadShipped(t)
	c := &workspace.Change{
		Author: "alice",
		Facts:  map[string]string{FactLines: "unavailable"},
		Files: []workspace.File{
			{Path: "services/api/migrations/0003.sql", Status: "A", Added: 1, Destructive: true,
				SQL: []workspace.Statement{{Line: 1, Op: "DROP TABLE", Table: "x", Destructive: true, Reason: "drops table x", Text: "DROP TABLE x"}}},
			{Path: "services/orders/handler.go", OldPath: "services/api/handler.go", Status: "R"},
		},
	}
	if err := Decide(c, cat, set); err != nil {
		t.Fatal(err)
	}
	first, _ := workspace.Marshal(c)
	if err := Decide(c, cat, set); err != nil {
		t.Fatal(err)
	}
	again, _ := workspace.Marshal(c)
	if string(first) != string(again) {
		t.Errorf("Decide twice =\n%s\nwant\n%s", again, first)
	}
	c.Risk, c.Classes, c.Facts["injected"] = "low", []string{"docs"}, "true"
	c.Files[0].Kind, c.Files[0].Services = "docs", []string{"nobody"}
	c.Rules = []workspace.Fired{{ID: "fake"}}
	if err := Decide(c, cat, set); err != nil {
		t.Fatal(err)
	}
	if redone, _ := workspace.Marshal(c); string(redone) != string(first) {
		t.Errorf("Decide after tampering =\n%s\nwant\n%s", redone, first)
	}
	if c.Facts[FactLines] != "unavailable" {
		t.Errorf("Decide dropped the source fact: facts %v", c.Facts)
	}
	// A rename from one service to another belongs to both.
	if got := c.Files[1].Services; !reflect.DeepEqual(got, []string{"api", "orders"}) {
		t.Errorf("Decide(rename api→orders) services = %v, want [api orders]", got)
	}
	if len(c.Services) != 2 || c.Services[0].Name != "api" || c.Services[0].Files != 2 || c.Services[1].Files != 1 {
		t.Errorf("Decide services = %+v, want api (2 files), orders (1 file)", c.Services)
	}
	if c.Risk != "critical" || c.RulesDigest != set.Digest || c.CatalogDigest != cat.Digest() {
		t.Errorf("Decide risk %s digests %s %s, want critical %s %s", c.Risk, c.RulesDigest, c.CatalogDigest, set.Digest, cat.Digest())
	}
}

func TestParams(t *testing.T) {
	out := Output{Change: &workspace.Change{
		Risk: "high", Classes: []string{"app", "infra", "mixed"},
		Services: []workspace.Service{{Name: "api"}, {Name: "orders"}},
		Files:    make([]workspace.File, 3),
	}}
	want := map[string]string{"risk": "high", "classes": "app,infra,mixed", "services": "api,orders", "files": "3"}
	if got := out.Params(); !reflect.DeepEqual(got, want) {
		t.Errorf("Params() = %v, want %v", got, want)
	}
}

func TestUserName(t *testing.T) {
	tests := []struct{ name, email, want string }{
		{"Alice Api", "alice@example.com", "alice"},
		{"Alice Api", "", "Alice Api"},
		{"Bob", "not-an-email", "Bob"},
		{"Carol", "12345+carol@users.noreply.github.com", "carol"},
		{"Dave", "dave+ci@example.com", "dave+ci"},
	}
	for _, tt := range tests {
		if got := userName(tt.name, tt.email); got != tt.want {
			t.Errorf("userName(%q, %q) = %q, want %q", tt.name, tt.email, got, tt.want)
		}
	}
}

// TestPushFiles nets a push's commits into one status per file.
func TestPushFiles(t *testing.T) {
	payload := `{"ref": "refs/heads/main", "before": "a", "after": "b",
  "head_commit": {"author": {"name": "Erin", "email": "erin@example.com"}},
  "commits": [
    {"added": ["new.go", "tmp.txt"], "removed": ["old.go"], "modified": ["kept.go"]},
    {"added": ["old.go"], "removed": ["tmp.txt", "kept.go"], "modified": ["new.go"]},
    {"modified": ["other.go"]}
  ]}`
	p := filepath.Join(t.TempDir(), "push.json")
	if err := os.WriteFile(p, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	ev, err := readEvent(p, "")
	if err != nil {
		t.Fatalf("readEvent = %v", err)
	}
	var got []string
	for _, f := range ev.Files {
		got = append(got, f.Status+" "+f.Path)
	}
	want := []string{"D kept.go", "A new.go", "M old.go", "M other.go"}
	if !reflect.DeepEqual(got, want) || ev.Kind != EventPush || ev.Author != "erin" || ev.Ref != "refs/heads/main" {
		t.Errorf("readEvent(push) = %q kind %s author %s ref %s, want %q push erin refs/heads/main", got, ev.Kind, ev.Author, ev.Ref, want)
	}
}

func TestReadEventErrors(t *testing.T) {
	tests := []struct {
		name, payload, eventName string
		want                     []string
	}{
		{"not JSON", `{"after": `, "", []string{"not a JSON object"}},
		{"unknown shape", `{"zen": "hi"}`, "", []string{"neither a push"}},
		{"pull_request fields", `{"pull_request": {"base": {"sha": 7}, "user": {}}}`, "", []string{
			"pull_request.base.sha: want a string, got a number", "pull_request.head.sha: missing", "pull_request.user.login: missing"}},
		{"named event overrides the shape", `{"after": "b"}`, "pull_request", []string{"pull_request.base.sha: missing"}},
		{"push fields", `{"after": "", "commits": {}}`, "", []string{"before: missing", "after: empty", "ref: missing", "commits: want an array, got an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "event.json")
			if err := os.WriteFile(p, []byte(tt.payload), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readEvent(p, tt.eventName)
			if err == nil {
				t.Fatalf("readEvent(%s) = nil, want an error", tt.payload)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), p+": "+w) && !strings.Contains(err.Error(), w) {
					t.Errorf("readEvent(%s) = %v, want it to contain %q", tt.payload, err, w)
				}
			}
		})
	}
}

// TestCollectSQLAgainstBase: a type change is judged against the migrations
// of the same directory at the base revision and earlier files of the change.
func TestCollectSQLAgainstBase(t *testing.T) {
	steps := sampleRepo(t)
	var app, migration string
	for _, s := range steps {
		switch s.Name {
		case "03-app":
			app = s.Tag
		case "04-migration":
			migration = s.Tag
		}
	}
	c, err := Collect(context.Background(), Input{Repo: "sample", Base: app, Head: migration})
	if err != nil {
		t.Fatal(err)
	}
	sql := c.Files[0].SQL
	if len(sql) != 4 || !strings.HasPrefix(sql[2].Reason, "narrows users.email from VARCHAR(255) to VARCHAR(64)") {
		t.Errorf("Collect(app..migration) sql = %+v, want the MODIFY judged against 0001_init.sql", sql)
	}
	if c.Rules != nil || c.Risk != "" || c.Files[0].Kind != "" {
		t.Errorf("Collect applied rules: risk %q rules %v kind %q", c.Risk, c.Rules, c.Files[0].Kind)
	}
}
