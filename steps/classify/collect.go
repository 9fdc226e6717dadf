package classify

import (
	"context"
	"errors"
	"path"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/gitdiff"
	"github.com/rehearsal-dev/rehearsal/internal/sqlscan"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Facts Collect records when it had no repository to read.
const (
	FactLines   = SourceFactPrefix + "lines"   // "unavailable": no line counts
	FactContent = SourceFactPrefix + "content" // "unavailable": no SQL was read
)

// Collect gathers the facts of the change — files with status, line counts,
// binary flag and SQL statements, the author, where it came from, the request —
// without applying the catalog or any rule.
func Collect(ctx context.Context, in Input) (*workspace.Change, error) {
	c := &workspace.Change{Request: in.Request, Classes: []string{}, Facts: map[string]string{}, Files: []workspace.File{}}
	switch {
	case in.EventFile != "":
		ev, err := readEvent(in.EventFile, in.EventName)
		if err != nil {
			return nil, exitcode.Input(err)
		}
		c.Source = workspace.Source{Kind: "event", Event: ev.Kind, Base: ev.Base, Head: ev.Head, Ref: ev.Ref, Repo: in.Repo, AuthorEmail: ev.AuthorEmail}
		c.Author = ev.Author
		if in.Repo == "" {
			if ev.Files == nil {
				return nil, exitcode.Inputf("%s: a %s payload lists no files; give the repository (--repo) to read the change from git", in.EventFile, ev.Kind)
			}
			c.Files = ev.Files
			c.Facts[FactLines] = "unavailable"
			c.Facts[FactContent] = "unavailable"
			return c, nil
		}
		base := ev.Base
		if isZeroSHA(base) {
			base = "" // a new branch: compare with the empty tree
		}
		g, err := fromGit(ctx, in.Repo, base, ev.Head, in.EventFile+": "+ev.BasePath+" "+ev.Base, in.EventFile+": "+ev.HeadPath+" "+ev.Head)
		if err != nil {
			return nil, err
		}
		c.Files = g.files
		if c.Author == "" {
			c.Author = g.author
		}
		if c.Source.AuthorEmail == "" {
			c.Source.AuthorEmail = g.email
		}
		c.Source.Base, c.Source.Head = g.base, g.head
		return c, nil
	case in.Repo != "":
		var missing []error
		if in.Base == "" {
			missing = append(missing, exitcode.Inputf("--base: missing (the revision to compare from)"))
		}
		if in.Head == "" {
			missing = append(missing, exitcode.Inputf("--head: missing (the revision to compare to)"))
		}
		if len(missing) > 0 {
			return nil, exitcode.Input(errors.Join(missing...))
		}
		g, err := fromGit(ctx, in.Repo, in.Base, in.Head, "--base "+in.Base, "--head "+in.Head)
		if err != nil {
			return nil, err
		}
		c.Source = workspace.Source{Kind: "git", Repo: in.Repo, Base: g.base, Head: g.head, AuthorEmail: g.email}
		c.Author, c.Files = g.author, g.files
		return c, nil
	}
	return nil, exitcode.Inputf("no change to classify: give a repository with base and head revisions (--repo, --base, --head) or an event (--event)")
}

func isZeroSHA(s string) bool { return s != "" && strings.Trim(s, "0") == "" }

type gitFacts struct {
	base, head    string
	author, email string
	files         []workspace.File
}

// fromGit reads the change between two revisions. baseName and headName say
// where each revision came from, for error messages. An empty base is the
// empty tree.
func fromGit(ctx context.Context, repo, base, head, baseName, headName string) (*gitFacts, error) {
	r, err := gitdiff.Open(repo)
	if err != nil {
		var nr *gitdiff.NotRepositoryError
		if errors.As(err, &nr) {
			return nil, exitcode.Inputf("--repo %w", err)
		}
		return nil, exitcode.Infrastructure(err)
	}
	var errs []error
	resolve := func(rev, name string) *gitdiff.Commit {
		if rev == "" {
			return nil
		}
		cm, err := r.Resolve(rev)
		if err != nil {
			var re *gitdiff.RevisionError
			if errors.As(err, &re) {
				errs = append(errs, exitcode.Inputf("%s: revision not found in %s", name, repo))
			} else {
				errs = append(errs, exitcode.Infrastructure(err))
			}
		}
		return cm
	}
	bc := resolve(base, baseName)
	hc := resolve(head, headName)
	if len(errs) > 0 {
		for _, e := range errs {
			if exitcode.Code(e) == exitcode.Infra {
				return nil, joinErrors(errs)
			}
		}
		return nil, exitcode.Input(errors.Join(errs...))
	}
	changes, err := r.Diff(ctx, bc, hc, gitdiff.Options{Content: isSQL})
	if err != nil {
		return nil, exitcode.Infrastructure(err)
	}
	files := make([]workspace.File, len(changes))
	for i, ch := range changes {
		files[i] = workspace.File{
			Path: ch.Path, OldPath: ch.OldPath, Status: ch.Status,
			Added: ch.Added, Removed: ch.Removed, Binary: ch.Binary, Services: []string{},
		}
	}
	if err := scanSQL(r, bc, changes, files); err != nil {
		return nil, exitcode.Infrastructure(err)
	}
	g := &gitFacts{head: hc.Hash, author: userName(hc.AuthorName, hc.AuthorEmail), email: hc.AuthorEmail, files: files}
	if bc != nil {
		g.base = bc.Hash
	}
	return g, nil
}

func isSQL(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".sql") }

// scanSQL fills the SQL statements of every changed .sql file. Column type
// changes are judged against the schema built by replaying, in path order,
// the .sql files of the same directory as they are after the change (base
// files overlaid with the changed ones), up to the file itself — the earlier
// migrations of the same service.
func scanSQL(r *gitdiff.Repo, base *gitdiff.Commit, changes []gitdiff.Change, files []workspace.File) error {
	dirs := map[string][]int{}
	for i, ch := range changes {
		if ch.Content != nil && !ch.Binary {
			d := path.Dir(ch.Path)
			dirs[d] = append(dirs[d], i)
		}
	}
	for dir, idx := range dirs {
		view := map[string][]byte{}
		if base != nil {
			sibs, err := r.ReadDir(base, dir)
			if err != nil {
				return err
			}
			for p, b := range sibs {
				if isSQL(p) {
					view[p] = b
				}
			}
		}
		for _, ch := range changes {
			if ch.OldPath != "" && path.Dir(ch.OldPath) == dir || ch.Status == "D" && path.Dir(ch.Path) == dir {
				delete(view, ch.OldPath)
				delete(view, ch.Path)
			}
		}
		changed := map[string]int{}
		for _, i := range idx {
			view[changes[i].Path] = changes[i].Content
			changed[changes[i].Path] = i
		}
		paths := make([]string, 0, len(view))
		for p := range view {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		schema := sqlscan.NewSchema()
		for _, p := range paths {
			stmts := sqlscan.Scan(view[p], schema)
			i, ok := changed[p]
			if !ok {
				continue
			}
			f := &files[i]
			f.SQL = make([]workspace.Statement, len(stmts))
			for j, s := range stmts {
				f.SQL[j] = workspace.Statement{Line: s.Line, Op: s.Op, Table: s.Table, Destructive: s.Destructive, Reason: s.Reason, Text: s.Text}
				f.Destructive = f.Destructive || s.Destructive
			}
		}
	}
	return nil
}

// userName is the identity a commit author goes by in the catalog's groups:
// the local part of the email (for GitHub's noreply addresses, the login after
// the "+"), or the name when there is no email.
func userName(name, email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return name
	}
	if strings.EqualFold(domain, "users.noreply.github.com") {
		if _, login, ok := strings.Cut(local, "+"); ok {
			return login
		}
	}
	return local
}
