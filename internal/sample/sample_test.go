package sample

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/rehearsal-dev/rehearsal/fixtures"
)

// TestGenerateIsReproducible generates the sample twice: same hashes.
func TestGenerateIsReproducible(t *testing.T) {
	ctx := context.Background()
	a, err := Build(ctx, fixtures.Sample(), t.TempDir())
	if err != nil {
		t.Fatalf("Build(sample) = %v", err)
	}
	b, err := Build(ctx, fixtures.Sample(), t.TempDir())
	if err != nil {
		t.Fatalf("Build(sample) = %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Build(sample) twice = %v and %v, want equal", a, b)
	}
	want := []string{"00-initial", "01-docs", "02-config", "03-app", "04-migration", "05-infra"}
	var names []string
	for _, s := range a {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Build(sample) steps = %v, want %v", names, want)
	}
}

// TestGenerateChecksOutAndTags checks the work tree, tags and HEAD.
func TestGenerateChecksOutAndTags(t *testing.T) {
	dir := t.TempDir()
	tags, err := Generate(context.Background(), fixtures.Sample(), dir)
	if err != nil {
		t.Fatalf("Generate(sample) = %v", err)
	}
	for _, tag := range []string{"initial", "docs", "config", "app", "migration", "infra"} {
		if tags[tag] == "" {
			t.Errorf("Generate(sample) tags = %v, want tag %q", tags, tag)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy/orders/svc.yaml")); err != nil {
		t.Errorf("work tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy/orders/service.yaml")); !os.IsNotExist(err) {
		t.Errorf("work tree has deleted deploy/orders/service.yaml (err %v)", err)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Hash().String() != tags["infra"] || head.Name().Short() != Branch {
		t.Errorf("HEAD = %s %s, want %s at tag infra %s", head.Name(), head.Hash(), Branch, tags["infra"])
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 3, 8, 9, 0, 0, 0, time.UTC); !c.Author.When.Equal(want) || c.Author.Email != "dave@example.com" {
		t.Errorf("head author = %s %v, want dave@example.com %v", c.Author.Email, c.Author.When, want)
	}
	st, err := mustWorktree(t, r).Status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsClean() {
		t.Errorf("work tree status = %v, want clean", st)
	}
}

func mustWorktree(t *testing.T, r *git.Repository) *git.Worktree {
	t.Helper()
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return wt
}

func TestGenerateBadHistory(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no history", fstest.MapFS{"services.yaml": {}}, "read sample history"},
		{"bad date", fstest.MapFS{"history/00-a/commit.yaml": {Data: []byte("author: {name: A, email: a@x}\ndate: yesterday\nmessage: m\n")}},
			`history/00-a/commit.yaml:2:7: date "yesterday" is not RFC 3339`},
		{"unknown key", fstest.MapFS{"history/00-a/commit.yaml": {Data: []byte("author: {name: A, email: a@x}\ndate: \"2025-01-01T00:00:00Z\"\nmessage: m\nmesage: n\n")}},
			"history/00-a/commit.yaml:4"},
		{"delete of a missing file", fstest.MapFS{"history/00-a/commit.yaml": {Data: []byte("author: {name: A, email: a@x}\ndate: \"2025-01-01T00:00:00Z\"\nmessage: m\ndelete: [nope.txt]\n")}},
			`history/00-a/commit.yaml:4:10: delete "nope.txt": no such file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tt.fs, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Generate(%s) = %v, want error containing %q", tt.name, err, tt.want)
			}
		})
	}
}
