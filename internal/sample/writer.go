package sample

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Branch is the branch Writer commits to; HEAD points at it.
const Branch = "main"

// Writer builds a git repository commit by commit from whole-tree snapshots,
// writing objects directly (no work tree, no index), so that equal snapshots,
// signatures and messages always give equal commit hashes.
type Writer struct {
	Dir   string
	repo  *git.Repository
	files map[string]plumbing.Hash // path → blob of the next commit
	head  plumbing.Hash
}

// Signature is a commit's author (also used as committer).
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Init creates an empty repository in dir with HEAD on Branch.
func Init(dir string) (*Writer, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(Branch)},
	})
	if err != nil {
		return nil, fmt.Errorf("init repository %s: %w", dir, err)
	}
	return &Writer{Dir: dir, repo: r, files: map[string]plumbing.Hash{}}, nil
}

// Repository returns the underlying go-git repository.
func (w *Writer) Repository() *git.Repository { return w.repo }

// Set writes content as the file at p (slash-separated) for the next commit.
func (w *Writer) Set(p string, content []byte) error {
	o := w.repo.Storer.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(content)))
	wr, err := o.Writer()
	if err != nil {
		return err
	}
	if _, err := wr.Write(content); err != nil {
		return err
	}
	if err := wr.Close(); err != nil {
		return err
	}
	h, err := w.repo.Storer.SetEncodedObject(o)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	w.files[p] = h
	return nil
}

// Delete removes the file at p from the next commit; it reports whether the
// file was there.
func (w *Writer) Delete(p string) bool {
	_, ok := w.files[p]
	delete(w.files, p)
	return ok
}

// Has reports whether the next commit has a file at p.
func (w *Writer) Has(p string) bool { _, ok := w.files[p]; return ok }

// Commit records the current snapshot on Branch and returns the commit hash.
func (w *Writer) Commit(sig Signature, message string) (string, error) {
	tree, err := w.writeTree("")
	if err != nil {
		return "", err
	}
	s := object.Signature{Name: sig.Name, Email: sig.Email, When: sig.When}
	c := &object.Commit{Author: s, Committer: s, Message: message, TreeHash: tree}
	if !w.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{w.head}
	}
	o := w.repo.Storer.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return "", err
	}
	h, err := w.repo.Storer.SetEncodedObject(o)
	if err != nil {
		return "", fmt.Errorf("write commit: %w", err)
	}
	w.head = h
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(Branch), h)
	if err := w.repo.Storer.SetReference(ref); err != nil {
		return "", fmt.Errorf("update %s: %w", Branch, err)
	}
	return h.String(), nil
}

// Tag points a lightweight tag at hash.
func (w *Writer) Tag(name, hash string) error {
	ref := plumbing.NewHashReference(plumbing.NewTagReferenceName(name), plumbing.NewHash(hash))
	if err := w.repo.Storer.SetReference(ref); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// Checkout writes the head commit's files into the work tree.
func (w *Writer) Checkout() error {
	wt, err := w.repo.Worktree()
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: w.head, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	return nil
}

// writeTree writes the tree of directory dir ("" = root) and its subtrees.
func (w *Writer) writeTree(dir string) (plumbing.Hash, error) {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	subdirs := map[string]bool{}
	var entries []object.TreeEntry
	for p, h := range w.files {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		rest := p[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			subdirs[rest[:i]] = true
			continue
		}
		entries = append(entries, object.TreeEntry{Name: rest, Mode: filemode.Regular, Hash: h})
	}
	for name := range subdirs {
		h, err := w.writeTree(path.Join(dir, name))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	sort.Sort(object.TreeEntrySorter(entries))
	t := &object.Tree{Entries: entries}
	o := w.repo.Storer.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree %s: %w", dir, err)
	}
	h, err := w.repo.Storer.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write tree %s: %w", dir, err)
	}
	return h, nil
}
