package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/gitdiff"
)

// SnapshotManifests copies the files the catalog's `manifests` globs claim,
// as they are at revision rev of the repository at repoDir, into the
// workspace's manifests/ directory — what the plan step reads when it is given
// no manifests directory (its pod has no repository). The directory is
// replaced as a whole. It returns the workspace-relative paths written.
func SnapshotManifests(repoDir, rev string, cat *catalog.Catalog, ws string) ([]string, error) {
	repo, err := gitdiff.Open(repoDir)
	if err != nil {
		return nil, err
	}
	c, err := repo.Resolve(rev)
	if err != nil {
		return nil, err
	}
	var globs []string
	for _, s := range cat.Services {
		globs = append(globs, s.Manifests...)
	}
	files, err := repo.ReadFiles(c, func(p string) bool { return catalog.MatchAny(globs, p) })
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(ws, "."+ManifestsDir+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("snapshot manifests: %w", err)
	}
	defer os.RemoveAll(tmp)
	var out []string
	for p, b := range files {
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("snapshot manifests: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, fmt.Errorf("snapshot manifests: %w", err)
		}
		out = append(out, filepath.ToSlash(filepath.Join(ManifestsDir, p)))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	dst := filepath.Join(ws, ManifestsDir)
	if err := os.RemoveAll(dst); err != nil {
		return nil, fmt.Errorf("snapshot manifests: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, fmt.Errorf("snapshot manifests: %w", err)
	}
	slices.Sort(out)
	return out, nil
}
