package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// DefaultMaxFileSize is the largest file the scan reads; larger files are
// skipped with a note (manifests, charts and Dockerfiles are far smaller).
const DefaultMaxFileSize = 10 << 20

// sniffSize is how much of a file decides whether it is binary.
const sniffSize = 300

// file is one regular text file of the scanned tree.
type file struct {
	Path string // relative to the root, forward slashes
	Data []byte
}

// tree is what the walk found: the text files, in path order, and notes on
// what it skipped.
type tree struct {
	files []*file
	notes []workspace.ScanNote
}

// walkTree reads every regular text file under root. It never follows a
// symbolic link (a link is noted, a loop among them too), skips .git and
// testdata directories, and notes binary files and files over maxSize
// instead of reading them.
func walkTree(ctx context.Context, root string, maxSize int64) (*tree, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("path %s: not a directory", root)
	}
	t := &tree{}
	note := func(p, format string, args ...any) {
		t.notes = append(t.notes, workspace.ScanNote{File: p, Message: fmt.Sprintf(format, args...)})
	}
	var paths []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel := relPath(root, p)
		if err != nil {
			if p == root {
				return err
			}
			note(rel, "skipped: cannot be read (%v)", unwrapPath(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch typ := d.Type(); {
		case d.IsDir():
			if p == root {
				return nil
			}
			switch d.Name() {
			case ".git":
				return fs.SkipDir
			case "testdata":
				// Go's convention for files only tests read: never deployed.
				note(rel, "skipped: test data directory")
				return fs.SkipDir
			}
		case typ&fs.ModeSymlink != 0:
			note(rel, "skipped: %s", describeLink(p))
		case !typ.IsRegular():
			note(rel, "skipped: not a regular file (%s)", typ.Type())
		default:
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	type result struct {
		f    *file
		note string
	}
	results := make([]result, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(2, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range next {
				f, n := readFile(paths[i], relPath(root, paths[i]), maxSize)
				results[i] = result{f, n}
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, r := range results {
		if r.note != "" {
			note(relPath(root, paths[i]), "%s", r.note)
		}
		if r.f != nil {
			t.files = append(t.files, r.f)
		}
	}
	sort.Slice(t.files, func(i, j int) bool { return t.files[i].Path < t.files[j].Path })
	sort.SliceStable(t.notes, func(i, j int) bool { return t.notes[i].File < t.notes[j].File })
	return t, nil
}

// readFile reads one file unless it is too large or binary; the note says why not.
func readFile(p, rel string, maxSize int64) (*file, string) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Sprintf("skipped: cannot be read (%v)", unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Sprintf("skipped: cannot be read (%v)", unwrapPath(err))
	}
	if st.Size() > maxSize {
		return nil, fmt.Sprintf("skipped: %s is over the %s limit", size(st.Size()), size(maxSize))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Sprintf("skipped: cannot be read (%v)", unwrapPath(err))
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Sprintf("skipped: over the %s limit", size(maxSize))
	}
	if isBinary(data) {
		return nil, "skipped: binary file"
	}
	return &file{Path: rel, Data: data}, ""
}

// isBinary judges by the first bytes, as Trivy does: control characters
// other than tab, newline, form feed, carriage return and escape mean binary.
func isBinary(data []byte) bool {
	head := data[:min(len(data), sniffSize)]
	for _, b := range head {
		if b < 7 || b == 11 || (13 < b && b < 27) || (27 < b && b < 0x20) || b == 0x7f {
			return true
		}
	}
	return false
}

func describeLink(p string) string {
	_, err := os.Stat(p)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return "symbolic link loop"
	case errors.Is(err, fs.ErrNotExist):
		return "symbolic link to nothing"
	case err != nil:
		return fmt.Sprintf("symbolic link that cannot be followed (%v)", unwrapPath(err))
	}
	return "symbolic link (links are not followed: scan the target itself)"
}

func relPath(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// unwrapPath drops the path from a *fs.PathError, which would otherwise put
// a machine path into findings.json.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
