// Package sample generates Rehearsal's sample git repository from plain files
// (fixtures/sample/history/NN-name/{commit.yaml,_tree/}; the leading underscore
// keeps the Go tool away from the sample's own Go files), so that no `.git`
// directory is ever committed and every machine gets the same commit hashes:
// objects are written directly with fixed authors and dates. Writer, the
// builder underneath, also serves tests and benchmarks that need repositories.
package sample

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// HistoryDir is the directory of the commit steps inside the fixtures.
const HistoryDir = "history"

// CommitSpec is a history step's commit.yaml.
type CommitSpec struct {
	Author struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
	} `yaml:"author"`
	// Date is RFC 3339; it is both author and committer date.
	Date    string `yaml:"date"`
	Message string `yaml:"message"`
	// Tag names the commit (a lightweight tag).
	Tag string `yaml:"tag"`
	// Delete lists paths removed by the commit.
	Delete []string `yaml:"delete"`
}

// Step is one commit of the generated history.
type Step struct {
	Name string // the history directory, e.g. "04-migration"
	Tag  string
	Hash string
}

// Generate builds the repository described by fsys (the fixtures' sample
// directory, holding history/) in dest, checks out the last commit, and returns
// the tags mapped to commit hashes. dest must not hold a repository already.
func Generate(ctx context.Context, fsys fs.FS, dest string) (map[string]string, error) {
	steps, err := Build(ctx, fsys, dest)
	if err != nil {
		return nil, err
	}
	return Tags(steps), nil
}

// Build is Generate returning every step in order.
func Build(ctx context.Context, fsys fs.FS, dest string) ([]Step, error) {
	entries, err := fs.ReadDir(fsys, HistoryDir)
	if err != nil {
		return nil, fmt.Errorf("read sample history: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return nil, fmt.Errorf("read sample history: no steps in %s", HistoryDir)
	}
	w, err := Init(dest)
	if err != nil {
		return nil, err
	}
	var steps []Step
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step, err := apply(fsys, w, path.Join(HistoryDir, d))
		if err != nil {
			return nil, err
		}
		step.Name = d
		steps = append(steps, step)
	}
	if err := w.Checkout(); err != nil {
		return nil, err
	}
	return steps, nil
}

// Tags returns the steps' tags mapped to their commit hashes.
func Tags(steps []Step) map[string]string {
	out := map[string]string{}
	for _, s := range steps {
		if s.Tag != "" {
			out[s.Tag] = s.Hash
		}
	}
	return out
}

func apply(fsys fs.FS, w *Writer, dir string) (Step, error) {
	specPath := path.Join(dir, "commit.yaml")
	data, err := fs.ReadFile(fsys, specPath)
	if err != nil {
		return Step{}, fmt.Errorf("read %s: %w", specPath, err)
	}
	doc, err := yamlsrc.Parse(specPath, data)
	if err != nil {
		return Step{}, err
	}
	var spec CommitSpec
	if err := doc.Decode(&spec); err != nil {
		return Step{}, err
	}
	var l diag.List
	when, err := time.Parse(time.RFC3339, spec.Date)
	if err != nil {
		p := yamlsrc.At(yamlsrc.Get(doc.Root, "date"), doc.Root)
		l.Add(specPath, p.Line, p.Col, "date %q is not RFC 3339", spec.Date)
	}
	if spec.Author.Name == "" || spec.Author.Email == "" || strings.TrimSpace(spec.Message) == "" {
		l.Add(specPath, 1, 1, "author name, author email and message are required")
	}
	tree := path.Join(dir, "_tree")
	err = fs.WalkDir(fsys, tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == tree && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return w.Set(strings.TrimPrefix(p, tree+"/"), b)
	})
	if err != nil {
		return Step{}, fmt.Errorf("read %s: %w", tree, err)
	}
	for i, p := range spec.Delete {
		if !w.Delete(p) {
			items := yamlsrc.Items(yamlsrc.Get(doc.Root, "delete"))
			pos := yamlsrc.At(items[i], doc.Root)
			l.Add(specPath, pos.Line, pos.Col, "delete %q: no such file in the history so far", p)
		}
	}
	if err := l.Err(); err != nil {
		return Step{}, err
	}
	hash, err := w.Commit(Signature{Name: spec.Author.Name, Email: spec.Author.Email, When: when.UTC()}, spec.Message)
	if err != nil {
		return Step{}, err
	}
	if spec.Tag != "" {
		if err := w.Tag(spec.Tag, hash); err != nil {
			return Step{}, err
		}
	}
	return Step{Tag: spec.Tag, Hash: hash}, nil
}
