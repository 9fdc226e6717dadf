// Package classify is the first step of a release rehearsal: it reads what a
// change did — from a git repository and two revisions, or from a GitHub push or
// pull_request event — maps the changed files onto the service catalog, runs
// the classify rules, and writes change.json (facts, classes, services, author,
// risk, every rule that fired) and catalog.json (the catalog it used) into the
// workspace.
//
// Collect gathers facts only; Decide applies the catalog and rules to recorded
// facts, so a replay can re-run the decision without the repository.
package classify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/intent"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Input is what the step reads. Either Repo with Base and Head, or EventFile
// (with Repo for full facts) must be given.
type Input struct {
	// Repo is a git repository directory (work tree or .git).
	Repo string `json:"repo,omitempty"`
	// Base and Head are revisions of Repo: tag, branch, hash, HEAD~1, ….
	Base string `json:"base,omitempty"`
	Head string `json:"head,omitempty"`
	// EventFile is a GitHub push or pull_request webhook payload.
	EventFile string `json:"eventFile,omitempty"`
	// EventName is the X-GitHub-Event name (push | pull_request); empty means
	// it is told from the payload's shape.
	EventName string `json:"eventName,omitempty"`
	// Catalog is the service catalog; when nil it is loaded from CatalogPath.
	CatalogPath string           `json:"catalogPath,omitempty"`
	Catalog     *catalog.Catalog `json:"-"`
	// Rules is the rule set; when nil it is loaded from RulesDir.
	RulesDir string     `json:"rulesDir,omitempty"`
	Rules    *rules.Set `json:"-"`
	// Request is the plain-language request text, recorded as given and read
	// into change.json's intent (see internal/intent).
	Request string `json:"request,omitempty"`
	// Intent is what the explicit intent flags say (--env, --service,
	// --goal, --target); a set field overrides what Request says.
	Intent workspace.Intent `json:"intent"`
	// Model, when set, reads Request too (validated, merged, recorded in
	// intent.json); nil reads it with the keyword parser alone.
	Model llm.Client `json:"-"`
	// Workspace is the directory change.json and catalog.json are written to.
	Workspace string `json:"workspace"`
}

// Output is what the step produced.
type Output struct {
	Change *workspace.Change `json:"change"`
}

// Params are the Argo output parameters: risk, classes and services
// (comma-joined) and the number of changed files.
func (o Output) Params() map[string]string {
	c := o.Change
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	return map[string]string{
		"risk":     c.Risk,
		"classes":  strings.Join(c.Classes, ","),
		"services": strings.Join(names, ","),
		"files":    strconv.Itoa(len(c.Files)),
	}
}

// Run collects the change, decides it and writes change.json and catalog.json
// atomically. Bad input — an unknown revision, a bad event, catalog or rule set
// — is reported all at once with exit code 2; nothing is written then.
func Run(ctx context.Context, in Input) (Output, error) {
	var errs []error
	cat := in.Catalog
	if cat == nil {
		c, err := catalog.Load(in.CatalogPath)
		if err != nil {
			errs = append(errs, exitcode.Input(err))
		}
		cat = c
	}
	set := in.Rules
	if set == nil {
		s, err := rules.Load(in.RulesDir)
		if err != nil {
			errs = append(errs, exitcode.Input(err))
		}
		set = s
	}
	change, err := Collect(ctx, in)
	if err != nil {
		errs = append(errs, err)
	}
	if cat != nil {
		if err := intent.CheckExplicit(in.Intent, serviceNames(cat), catalogName(in)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Output{}, joinErrors(errs)
	}
	res, err := intent.Resolve(ctx, intent.Input{Request: in.Request, Explicit: in.Intent,
		Services: serviceNames(cat), CatalogFile: catalogName(in), Model: in.Model})
	if err != nil {
		return Output{}, err
	}
	change.Intent = res.Intent
	if err := Decide(change, cat, set); err != nil {
		return Output{}, err
	}
	if err := workspace.WriteJSON(in.Workspace, workspace.CatalogFile, cat); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	if err := writeIntent(in.Workspace, res.Record); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	if err := workspace.WriteJSON(in.Workspace, workspace.ChangeFile, change); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	return Output{Change: change}, nil
}

// serviceNames lists the catalog's services, sorted.
func serviceNames(cat *catalog.Catalog) []string {
	var out []string
	for _, s := range cat.Services {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// catalogName names the catalog in messages.
func catalogName(in Input) string {
	if in.CatalogPath != "" {
		return in.CatalogPath
	}
	return "(given catalog)"
}

// writeIntent writes intent.json, or removes an earlier run's when the change
// has no intent.
func writeIntent(dir string, rec *workspace.IntentRecord) error {
	if rec == nil {
		err := os.Remove(filepath.Join(dir, workspace.IntentFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return workspace.WriteJSON(dir, workspace.IntentFile, rec)
}

// joinErrors keeps every message; the exit code is the worst one (an
// infrastructure failure outranks bad input).
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	code := exitcode.BadInput
	for _, e := range errs {
		if exitcode.Code(e) != exitcode.BadInput {
			code = exitcode.Code(e)
		}
	}
	return exitcode.Wrap(code, errors.Join(errs...))
}

// SourceFactPrefix marks facts that Collect records about the input (for
// example that line counts are unavailable). Decide keeps them; every other
// fact belongs to the rules and is recomputed.
const SourceFactPrefix = "source."

// Decide maps c's files onto the catalog's services, runs the classify rules
// and records the digests of the rules and catalog. It starts from the facts
// alone (kinds, classes, risk, fired rules and rule facts are reset), so it
// gives the same result however often it runs.
func Decide(c *workspace.Change, cat *catalog.Catalog, set *rules.Set) error {
	facts := map[string]string{}
	for k, v := range c.Facts {
		if strings.HasPrefix(k, SourceFactPrefix) {
			facts[k] = v
		}
	}
	c.Facts, c.Classes, c.Risk, c.Rules = facts, nil, "", nil
	counts := map[string]int{}
	for i := range c.Files {
		f := &c.Files[i]
		f.Kind = ""
		names := map[string]bool{}
		for _, p := range []string{f.Path, f.OldPath} {
			if p == "" {
				continue
			}
			for _, s := range cat.ServicesFor(p) {
				names[s] = true
			}
		}
		f.Services = slices.Sorted(maps.Keys(names))
		if f.Services == nil {
			f.Services = []string{}
		}
		for _, s := range f.Services {
			counts[s]++
		}
	}
	c.Services = cat.Affected(slices.Sorted(maps.Keys(counts)), counts)
	if c.Services == nil {
		c.Services = []workspace.Service{}
	}
	if err := set.ApplyClassify(c); err != nil {
		return exitcode.Input(fmt.Errorf("classify rules: %w", err))
	}
	if c.Rules == nil {
		c.Rules = []workspace.Fired{}
	}
	c.RulesDigest = set.Digest
	c.CatalogDigest = cat.Digest()
	return nil
}
