package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// loadBaseline reads the approved baseline: its Kubernetes objects (from the
// directory's manifests/ when it has one, else from the directory itself;
// charts rendered with the same environment's values) and, when it holds a
// findings.json, the ids of the findings it had. A baseline that does not
// parse is bad input: it cannot be compared with.
func (s *scanner) loadBaseline(ctx context.Context) error {
	dir := s.in.Baseline
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("baseline %s: not a directory", dir)
	}
	var prev workspace.Findings
	switch err := workspace.ReadJSON(dir, workspace.FindingsFile, &prev); {
	case err == nil:
		s.baseFind = map[string]bool{}
		for _, f := range prev.Findings {
			s.baseFind[f.ID] = true
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("baseline: %w", err)
	}
	root := dir
	if st, err := os.Stat(filepath.Join(dir, workspace.ManifestsDir)); err == nil && st.IsDir() {
		root = filepath.Join(dir, workspace.ManifestsDir)
	}
	t, err := walkTree(ctx, root, s.in.MaxFileSize)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	objs := map[string]*object{}
	keep := func(list []*object) {
		for _, o := range list {
			if _, dup := objs[o.key()]; !dup {
				objs[o.key()] = o
			}
		}
	}
	charts := findCharts(t.files, s.in.Environment)
	for _, f := range t.files {
		c := chartOf(charts, f.Path)
		if !isYAML(f.Path) || (c != nil && strings.Contains(f.Path, "/templates/")) {
			continue
		}
		list, err := parseYAML(f.Path, f.Data)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", dir, err)
		}
		if c == nil {
			keep(list)
		}
	}
	for _, c := range charts {
		ms, err := c.render(ctx, root)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", dir, err)
		}
		for _, m := range ms {
			list, err := parseYAML(m.Path, []byte(m.Content))
			if err != nil {
				return fmt.Errorf("baseline %s: %w", dir, err)
			}
			keep(list)
		}
	}
	if len(objs) > 0 {
		s.baseline = objs
	}
	return nil
}
