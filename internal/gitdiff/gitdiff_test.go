package gitdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/rehearsal-dev/rehearsal/internal/sample"
)

var when = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// history builds a repository with one commit per snapshot (path → content;
// a path missing from a snapshot is deleted) tagged c0, c1, ….
func history(t testing.TB, snapshots ...map[string]string) (string, *sample.Writer) {
	t.Helper()
	dir := t.TempDir()
	w, err := sample.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	prev := map[string]string{}
	for i, snap := range snapshots {
		for p := range prev {
			if _, ok := snap[p]; !ok {
				w.Delete(p)
			}
		}
		for p, c := range snap {
			if err := w.Set(p, []byte(c)); err != nil {
				t.Fatal(err)
			}
		}
		h, err := w.Commit(sample.Signature{Name: "Alice", Email: "alice@example.com", When: when.Add(time.Duration(i) * time.Hour)}, fmt.Sprintf("commit %d\n", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Tag(fmt.Sprintf("c%d", i), h); err != nil {
			t.Fatal(err)
		}
		prev = snap
	}
	return dir, w
}

func lines(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s line %d\n", prefix, i)
	}
	return b.String()
}

func TestDiff(t *testing.T) {
	body := lines(20, "body")
	dir, _ := history(t,
		map[string]string{
			"keep.txt":          "same\n",
			"edit.go":           "a\nb\nc\nd\n",
			"gone.md":           "bye\n",
			"old/name.yaml":     body,
			"moved/edited.sql":  body + "extra\n",
			"logo.png":          "\x89PNG\x00\x01",
			"noeol.txt":         "x\ny",
			"becomes-binary.db": "text\n",
		},
		map[string]string{
			"keep.txt":          "same\n",
			"edit.go":           "a\nB\nc\nd\ne\n",
			"new/name.yaml":     body,
			"moved/renamed.sql": body + "changed\n",
			"logo.png":          "\x89PNG\x00\x02",
			"noeol.txt":         "x\ny\n",
			"added.txt":         "1\n2\n3\n",
			"becomes-binary.db": "te\x00xt\n",
		},
	)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	base, err := r.Resolve("c0")
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Resolve("c1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Diff(context.Background(), base, head, Options{Content: func(p string) bool { return strings.HasSuffix(p, ".sql") }})
	if err != nil {
		t.Fatalf("Diff(c0, c1) = %v", err)
	}
	want := []Change{
		{Path: "added.txt", Status: "A", Added: 3},
		{Path: "becomes-binary.db", Status: "M", Binary: true},
		{Path: "edit.go", Status: "M", Added: 2, Removed: 1},
		{Path: "gone.md", Status: "D", Removed: 1},
		{Path: "logo.png", Status: "M", Binary: true},
		{Path: "moved/renamed.sql", OldPath: "moved/edited.sql", Status: "R", Added: 1, Removed: 1, Content: []byte(body + "changed\n")},
		{Path: "new/name.yaml", OldPath: "old/name.yaml", Status: "R"},
		{Path: "noeol.txt", Status: "M", Added: 1, Removed: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff(c0, c1) =\n%v\nwant\n%v", got, want)
	}
	all, err := r.Diff(context.Background(), nil, base, Options{})
	if err != nil {
		t.Fatalf("Diff(empty, c0) = %v", err)
	}
	if len(all) != 8 || all[0].Status != "A" {
		t.Errorf("Diff(empty, c0) = %v, want 8 added files", all)
	}
}

func TestResolve(t *testing.T) {
	dir, w := history(t, map[string]string{"a": "1\n"}, map[string]string{"a": "2\n"})
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := r.Resolve("c1")
	if err != nil {
		t.Fatal(err)
	}
	c0, err := r.Resolve("c0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Repository().CreateTag("v1", mustHash(c1.Hash), &git.CreateTagOptions{Message: "release\n", Tagger: &object.Signature{Name: "T", Email: "t@x", When: when}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rev, want string
	}{
		{"c1", c1.Hash}, {"main", c1.Hash}, {"HEAD", c1.Hash}, {"HEAD~1", c0.Hash},
		{c0.Hash, c0.Hash}, {c0.Hash[:8], c0.Hash}, {"v1", c1.Hash}, {"refs/tags/v1", c1.Hash},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.rev)
		if err != nil || got.Hash != tt.want {
			t.Errorf("Resolve(%q) = %v, %v, want %s", tt.rev, got, err, tt.want)
		}
	}
	if c1.AuthorEmail != "alice@example.com" || c1.AuthorName != "Alice" {
		t.Errorf("Resolve(c1) author = %q <%s>, want Alice <alice@example.com>", c1.AuthorName, c1.AuthorEmail)
	}
	for _, rev := range []string{"v9", "", "HEAD~5", strings.Repeat("ab", 20), "no such"} {
		_, err := r.Resolve(rev)
		var re *RevisionError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "revision not found in "+dir) {
			t.Errorf("Resolve(%q) = %v, want a RevisionError naming %s", rev, err, dir)
		}
	}
}

func TestOpenNotARepository(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir)
	var nr *NotRepositoryError
	if !errors.As(err, &nr) {
		t.Errorf("Open(empty dir) = %v, want NotRepositoryError", err)
	}
}

func TestReadDir(t *testing.T) {
	dir, _ := history(t, map[string]string{"m/1.sql": "a", "m/2.sql": "b", "m/sub/3.sql": "c", "x": "d"})
	r, _ := Open(dir)
	c, _ := r.Resolve("c0")
	got, err := r.ReadDir(c, "m")
	if want := map[string][]byte{"m/1.sql": []byte("a"), "m/2.sql": []byte("b")}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadDir(m) = %v, %v, want %v", got, err, want)
	}
	got, err = r.ReadDir(c, "nope")
	if err != nil || len(got) != 0 {
		t.Errorf("ReadDir(nope) = %v, %v, want empty", got, err)
	}
}

func TestReadFiles(t *testing.T) {
	dir, _ := history(t, map[string]string{"deploy/a/d.yaml": "a", "deploy/a/sub/s.yaml": "b", "deploy/b.txt": "c", "src/x.go": "d"})
	r, _ := Open(dir)
	c, _ := r.Resolve("c0")
	got, err := r.ReadFiles(c, func(p string) bool { return strings.HasPrefix(p, "deploy/") && strings.HasSuffix(p, ".yaml") })
	if want := map[string][]byte{"deploy/a/d.yaml": []byte("a"), "deploy/a/sub/s.yaml": []byte("b")}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadFiles(deploy/**.yaml) = %v, %v, want %v", got, err, want)
	}
}

// TestNumstatMatchesGit compares line counts with `git diff --numstat` on
// random edits, when a git binary is installed.
func TestNumstatMatchesGit(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git binary")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha\n", "beta\n", "gamma\n", "delta\n", "}\n", "\n", "return nil\n"}
	before, after := map[string]string{}, map[string]string{}
	for i := range 300 {
		var a []string
		for range rng.IntN(60) {
			a = append(a, words[rng.IntN(len(words))])
		}
		b := append([]string{}, a...)
		for range rng.IntN(8) {
			switch pos := rng.IntN(len(b) + 1); rng.IntN(3) {
			case 0:
				b = append(b[:pos], append([]string{words[rng.IntN(len(words))]}, b[pos:]...)...)
			case 1:
				if pos < len(b) {
					b = append(b[:pos], b[pos+1:]...)
				}
			default:
				if pos < len(b) {
					b[pos] = fmt.Sprintf("changed %d\n", rng.IntN(5))
				}
			}
		}
		p := fmt.Sprintf("f%03d.txt", i)
		before[p] = strings.Join(a, "")
		q := p
		if i%15 == 0 && len(a) > 30 {
			q = fmt.Sprintf("moved/g%03d.txt", i) // a rename, usually with edits
		}
		after[q] = strings.Join(b, "")
		if rng.IntN(10) == 0 {
			after[q] = strings.TrimSuffix(after[q], "\n")
		}
	}
	dir, _ := history(t, before, after)
	r, _ := Open(dir)
	c0, _ := r.Resolve("c0")
	c1, _ := r.Resolve("c1")
	got, err := r.Diff(context.Background(), c0, c1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gitBin, "-C", dir, "diff", "--numstat", "-z", "-M", "c0", "c1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git diff: %v", err)
	}
	// -z records: "added\tremoved\tpath\0", or for a rename
	// "added\tremoved\t\0old\0new\0".
	want := map[string]string{}
	recs := bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0})
	for i := 0; i < len(recs); i++ {
		f := strings.SplitN(string(recs[i]), "\t", 3)
		if f[2] == "" {
			want[string(recs[i+2])] = fmt.Sprintf("+%s -%s from %s", f[0], f[1], recs[i+1])
			i += 2
			continue
		}
		want[f[2]] = fmt.Sprintf("+%s -%s from %s", f[0], f[1], f[2])
	}
	if len(got) != len(want) {
		t.Errorf("Diff found %d changed files, git %d", len(got), len(want))
	}
	renames := 0
	for _, c := range got {
		old := c.Path
		if c.Status == "R" {
			old = c.OldPath
			renames++
		}
		if g := fmt.Sprintf("+%d -%d from %s", c.Added, c.Removed, old); want[c.Path] != g {
			t.Errorf("Diff(%s) = %s, git numstat %s\nold %q\nnew %q", c.Path, g, want[c.Path], before[old], after[c.Path])
		}
	}
	if renames == 0 {
		t.Errorf("Diff found no renames, want some")
	}
}

func mustHash(s string) plumbing.Hash { return plumbing.NewHash(s) }
