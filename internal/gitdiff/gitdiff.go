// Package gitdiff reads what changed between two revisions of a git repository
// without a git binary (images have none): per changed file its status
// (A/M/D/R, renames detected with the old path kept), added and removed line
// counts as `git diff --numstat` reports them, whether it is binary, and on
// request its content at the head revision. It also reads files of a tree.
//
// Line counts are exact minimal-diff counts: added = new lines − LCS,
// removed = old lines − LCS, which is what git reports whenever its diff is
// minimal (always, but for very large rewrites where git's xdiff trades
// minimality for speed). A file is binary when either side has a NUL byte in
// its first 8000 bytes, as git decides; .gitattributes are not consulted.
package gitdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is an opened repository.
type Repo struct {
	dir  string
	repo *git.Repository
}

// NotRepositoryError says a directory holds no git repository.
type NotRepositoryError struct{ Dir string }

func (e *NotRepositoryError) Error() string { return e.Dir + ": not a git repository" }

// RevisionError says a revision does not resolve to a commit.
type RevisionError struct {
	Rev  string
	Repo string
}

func (e *RevisionError) Error() string {
	return fmt.Sprintf("%s: revision not found in %s", e.Rev, e.Repo)
}

// Open opens the repository at dir (its work tree or its .git directory).
func Open(dir string) (*Repo, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, &NotRepositoryError{Dir: dir}
		}
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return &Repo{dir: dir, repo: r}, nil
}

// Commit is a resolved revision.
type Commit struct {
	Rev         string // as asked for
	Hash        string
	AuthorName  string
	AuthorEmail string
	c           *object.Commit
}

// Resolve turns any revision go-git understands (tag, branch, full or short
// hash, HEAD~1, …) into a commit. An unknown revision is a *RevisionError.
func (r *Repo) Resolve(rev string) (*Commit, error) {
	notFound := &RevisionError{Rev: rev, Repo: r.dir}
	if strings.TrimSpace(rev) == "" {
		return nil, notFound
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, notFound
	}
	c, err := r.commit(*h)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, notFound
		}
		return nil, fmt.Errorf("read commit %s: %w", rev, err)
	}
	return &Commit{Rev: rev, Hash: c.Hash.String(), AuthorName: c.Author.Name, AuthorEmail: c.Author.Email, c: c}, nil
}

// commit reads the commit at h, peeling annotated tags.
func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		o, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		switch o.Type() {
		case plumbing.CommitObject:
			return object.DecodeCommit(r.repo.Storer, o)
		case plumbing.TagObject:
			t, err := object.DecodeTag(r.repo.Storer, o)
			if err != nil {
				return nil, err
			}
			h = t.Target
		default:
			return nil, plumbing.ErrObjectNotFound
		}
	}
	return nil, plumbing.ErrObjectNotFound
}

// Change is one changed file.
type Change struct {
	Path    string
	OldPath string // renames only
	Status  string // A | M | D | R
	Added   int
	Removed int
	Binary  bool
	// Content is the file at the head revision, when Options.Content asked for
	// it (never for deleted or binary files).
	Content []byte
}

// Options tune Diff.
type Options struct {
	// Content selects the files whose head content Diff returns.
	Content func(path string) bool
}

// Diff returns the files changed from base to head, sorted by path. A nil base
// is the empty tree (every file added).
func (r *Repo) Diff(ctx context.Context, base, head *Commit, opt Options) ([]Change, error) {
	ht, err := head.c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", head.Rev, err)
	}
	bt := &object.Tree{}
	if base != nil {
		if bt, err = base.c.Tree(); err != nil {
			return nil, fmt.Errorf("read tree of %s: %w", base.Rev, err)
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, bt, ht, nil)
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", baseName(base), head.Rev, err)
	}
	var pairs []pair
	var added, deleted []*side
	for _, ch := range changes {
		var from, to *side
		if ch.From.Name != "" {
			from = &side{path: ch.From.Name, hash: ch.From.TreeEntry.Hash, mode: ch.From.TreeEntry.Mode}
		}
		if ch.To.Name != "" {
			to = &side{path: ch.To.Name, hash: ch.To.TreeEntry.Hash, mode: ch.To.TreeEntry.Mode}
		}
		switch {
		case from == nil:
			added = append(added, to)
		case to == nil:
			deleted = append(deleted, from)
		default:
			pairs = append(pairs, pair{from, to})
		}
	}
	// Added and deleted files are read first: rename detection needs them.
	ends := append(append([]*side{}, added...), deleted...)
	err = r.parallel(ctx, len(ends), func(rd *Repo, i int, _ *lineCounter) error { return rd.read(ends[i]) })
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", baseName(base), head.Rev, err)
	}
	renames, added, deleted := detectRenames(added, deleted)
	pairs = append(pairs, renames...)
	for _, s := range added {
		pairs = append(pairs, pair{to: s})
	}
	for _, s := range deleted {
		pairs = append(pairs, pair{from: s})
	}
	out := make([]Change, len(pairs))
	err = r.parallel(ctx, len(pairs), func(rd *Repo, i int, lc *lineCounter) error {
		c, err := rd.change(pairs[i], opt, lc)
		out[i] = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", baseName(base), head.Rev, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// parallel runs fn for 0..n-1 on up to GOMAXPROCS workers. go-git's object
// storage is not safe for concurrent use, so each extra worker reads through
// its own handle on the repository; objects are immutable, so they all see
// the same bytes. The first error wins.
func (r *Repo) parallel(ctx context.Context, n int, fn func(rd *Repo, i int, lc *lineCounter) error) error {
	workers := min(runtime.GOMAXPROCS(0), 8, n/64+1)
	if workers <= 1 {
		var lc lineCounter
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(r, i, &lc); err != nil {
				return err
			}
		}
		return nil
	}
	repos := make([]*Repo, workers)
	repos[0] = r
	for w := 1; w < workers; w++ {
		rd, err := Open(r.dir)
		if err != nil {
			return err
		}
		repos[w] = rd
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := range workers {
		wg.Add(1)
		go func(rd *Repo) {
			defer wg.Done()
			var lc lineCounter
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = fn(rd, i, &lc)
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}(repos[w])
	}
	wg.Wait()
	return first
}

func baseName(c *Commit) string {
	if c == nil {
		return "(empty tree)"
	}
	return c.Rev
}

// read loads a side's content once.
func (r *Repo) read(s *side) error {
	if s == nil || s.content != nil {
		return nil
	}
	b, err := r.blob(object.TreeEntry{Name: s.path, Mode: s.mode, Hash: s.hash})
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.content = b
	return nil
}

func (r *Repo) change(p pair, opt Options, lc *lineCounter) (Change, error) {
	from, to := p.from, p.to
	var c Change
	switch {
	case from == nil:
		c.Status, c.Path = "A", to.path
	case to == nil:
		c.Status, c.Path = "D", from.path
	case from.path != to.path:
		c.Status, c.Path, c.OldPath = "R", to.path, from.path
	default:
		c.Status, c.Path = "M", to.path
	}
	if err := r.read(from); err != nil {
		return c, err
	}
	if err := r.read(to); err != nil {
		return c, err
	}
	var old, cur []byte
	if from != nil {
		old = from.content
	}
	if to != nil {
		cur = to.content
	}
	if isBinary(old) || isBinary(cur) {
		c.Binary = true
		return c, nil
	}
	if from == nil || to == nil || from.hash != to.hash {
		c.Added, c.Removed = lc.count(old, cur)
	}
	if to != nil && opt.Content != nil && opt.Content(c.Path) {
		c.Content = cur
	}
	// Contents are not kept past their change.
	if from != nil {
		from.content = nil
	}
	if to != nil {
		to.content = nil
	}
	return c, nil
}

// blob reads a tree entry's content. A submodule reads as the line git shows
// for it ("Subproject commit <hash>").
func (r *Repo) blob(e object.TreeEntry) ([]byte, error) {
	if e.Mode == filemode.Submodule {
		return []byte("Subproject commit " + e.Hash.String() + "\n"), nil
	}
	o, err := r.repo.Storer.EncodedObject(plumbing.BlobObject, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	defer rd.Close()
	buf := bytes.NewBuffer(make([]byte, 0, o.Size()+1))
	if _, err := io.Copy(buf, rd); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	return buf.Bytes(), nil
}

// isBinary is git's test: a NUL byte in the first 8000 bytes.
func isBinary(b []byte) bool {
	if len(b) > 8000 {
		b = b[:8000]
	}
	return bytes.IndexByte(b, 0) >= 0
}

// ReadDir returns the regular files directly inside dir (not below it) at
// commit c, by path. A directory that does not exist gives an empty map.
func (r *Repo) ReadDir(c *Commit, dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	t, err := c.c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", c.Rev, err)
	}
	if dir != "" && dir != "." {
		t, err = t.Tree(dir)
		if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", dir, c.Rev, err)
		}
	}
	for _, e := range t.Entries {
		if !e.Mode.IsFile() {
			continue
		}
		b, err := r.blob(e)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", path.Join(dir, e.Name), c.Rev, err)
		}
		out[path.Join(dir, e.Name)] = b
	}
	return out, nil
}

// ReadFiles returns the regular files of commit c's whole tree whose path
// match accepts, by slash path.
func (r *Repo) ReadFiles(c *Commit, match func(path string) bool) (map[string][]byte, error) {
	t, err := c.c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", c.Rev, err)
	}
	out := map[string][]byte{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tree of %s: %w", c.Rev, err)
		}
		if !e.Mode.IsFile() || !match(name) {
			continue
		}
		b, err := r.blob(e)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", name, c.Rev, err)
		}
		out[name] = b
	}
}
