// Package scan is the security guardian: it scans a release's tree —
// Kubernetes manifests, Helm charts rendered with the environment's values,
// Terraform, Dockerfiles, and every text file for secrets — with Trivy's
// embedded checks and secret rules, applies the preprod policies
// (rules/policy.yaml) to every Kubernetes object, lets the policy decide
// each finding blocker or advisory from its severity, the owning service's
// tier and the environment, applies the exceptions ledger, and writes
// findings.json and findings.sarif. Offline: nothing here uses the network.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exceptions"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/sarif"
	"github.com/rehearsal-dev/rehearsal/internal/trivyscan"
	"github.com/rehearsal-dev/rehearsal/internal/version"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// DefaultEnvironment is where a release goes unless told otherwise.
const DefaultEnvironment = "preprod"

// Input is what the security guardian needs.
type Input struct {
	// Path is the tree to scan: the repository, or the workspace's
	// manifests/ snapshot. Findings name files relative to it.
	Path string `json:"path"`
	// Workspace receives findings.json and findings.sarif; its change.json,
	// when there is one, is the `change` policy rules see.
	Workspace string     `json:"workspace"`
	Rules     *rules.Set `json:"-"`
	// Catalog (optional) says which service owns each file, and its tier.
	Catalog     *catalog.Catalog `json:"-"`
	Environment string           `json:"environment"`
	// Exceptions is the exceptions ledger file (optional).
	Exceptions string `json:"exceptions,omitempty"`
	// Baseline (optional) is the approved baseline: a directory of manifests,
	// or a previous workspace or packet (its manifests/ and findings.json).
	Baseline string `json:"baseline,omitempty"`
	// TrivyDB (optional) is a Trivy vulnerability database directory.
	TrivyDB string `json:"trivyDB,omitempty"`
	// Now is the day exceptions are judged on (required: the caller's clock,
	// or the recorded date on a replay).
	Now time.Time `json:"-"`
	// ProdSecretPatterns are regular expressions naming production secret
	// material, beyond those the rules carry (e.g. from the catalog).
	ProdSecretPatterns []string `json:"prodSecretPatterns,omitempty"`
	// MaxFileSize is the largest file read (DefaultMaxFileSize when 0).
	MaxFileSize int64 `json:"-"`
	// Engine runs Trivy (trivyscan.Shared when nil).
	Engine *trivyscan.Engine `json:"-"`
}

// Output summarises the scan; Params gives it as Argo output parameters.
type Output struct {
	Blockers   int `json:"blockers"` // unexcepted
	Advisories int `json:"advisories"`
	Excepted   int `json:"excepted"`
	Findings   int `json:"findings"`
	Files      int `json:"files"`
	Notes      int `json:"notes"`
}

// Params returns the output parameters blockers and advisories.
func (o Output) Params() map[string]string {
	return map[string]string{"blockers": strconv.Itoa(o.Blockers), "advisories": strconv.Itoa(o.Advisories)}
}

// ExitCode is 1 when a blocker no exception covers remains, else 0.
func (o Output) ExitCode() int {
	if o.Blockers > 0 {
		return exitcode.Negative
	}
	return exitcode.OK
}

// Run scans in.Path, writes findings.sarif and findings.json into the
// workspace (each atomically, the JSON last) and returns the summary. Bad
// input — a missing path, an unreadable change.json, an invalid exceptions
// ledger, a bad baseline — is exit 2 and nothing is written. Files that do
// not parse are findings, not errors.
func Run(ctx context.Context, in Input) (Output, error) {
	if in.Rules == nil {
		return Output{}, errors.New("scan: rules are required")
	}
	if in.Now.IsZero() {
		return Output{}, errors.New("scan: the day to judge exceptions on (Now) is required")
	}
	if in.Environment == "" {
		in.Environment = DefaultEnvironment
	}
	if in.MaxFileSize <= 0 {
		in.MaxFileSize = DefaultMaxFileSize
	}
	for _, p := range in.ProdSecretPatterns {
		if _, err := regexp.Compile(p); err != nil {
			return Output{}, exitcode.Inputf("production secret pattern %q: %v", p, err)
		}
	}
	change, err := readChange(in.Workspace)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	t, err := walkTree(ctx, in.Path, in.MaxFileSize)
	if err != nil {
		if ctx.Err() != nil {
			return Output{}, ctx.Err()
		}
		return Output{}, exitcode.Input(err)
	}
	// Trivy's checks — the families the tree needs — compile while the
	// manifests are parsed and the policies run.
	engineCh := make(chan engineResult, 1)
	go func() {
		e, err := in.Engine, error(nil)
		if e == nil {
			e, err = trivyscan.Shared()
		}
		var checks *trivyscan.Checks
		if err == nil {
			checks = e.Checks(typesIn(t.files)...)
		}
		engineCh <- engineResult{e, checks, err}
	}()
	s := &scanner{in: in, change: change, tree: t}
	if err := s.parse(ctx); err != nil {
		return Output{}, err
	}
	if err := s.loadBaseline(ctx); err != nil {
		return Output{}, exitcode.Input(err)
	}
	if err := s.policies(); err != nil {
		return Output{}, exitcode.Input(err)
	}
	er := <-engineCh
	if er.err != nil {
		return Output{}, exitcode.Infrastructure(er.err)
	}
	s.engine, s.checks = er.engine, er.checks
	var ledger *exceptions.Ledger
	if in.Exceptions != "" {
		ledger, err = loadLedger(in.Exceptions, in.Path, Known(in.Rules, s.engine))
		if err != nil {
			return Output{}, exitcode.Input(err)
		}
	}
	if err := s.trivy(ctx); err != nil {
		return Output{}, err
	}
	s.vulnerabilities(ctx)
	doc, err := s.decide(ledger)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	if err := write(in.Workspace, doc, s.engine.Version(), in.Environment); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	return Output{Blockers: doc.Blockers, Advisories: doc.Advisories, Excepted: doc.Excepted, Findings: len(doc.Findings),
		Files: len(t.files), Notes: len(doc.Notes)}, nil
}

// typesIn lists the configuration types the files may hold, by name.
func typesIn(files []*file) []trivyscan.Type {
	var out []trivyscan.Type
	for _, t := range trivyscan.Types {
		for _, f := range files {
			if trivyscan.Wants(t, f.Path) && (t != trivyscan.Helm || path.Base(f.Path) == "Chart.yaml") {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

type engineResult struct {
	engine *trivyscan.Engine
	checks *trivyscan.Checks
	err    error
}

// Known resolves a rule id for the exceptions ledger: a policy resource
// rule, one of the scan's own rules, a Trivy check (by id, alias or long id)
// or a Trivy secret rule.
func Known(set *rules.Set, engine *trivyscan.Engine) exceptions.Known {
	return func(id string) (string, bool) {
		for _, r := range set.Rules(rules.Policy, rules.PolicyResourceScope) {
			if r.ID == id {
				return id, true
			}
		}
		switch id {
		case RuleUnparseable, RuleHelmRender, RuleTrivyFailed:
			return id, true
		}
		if engine != nil {
			if c, ok := engine.Known(id); ok {
				return c.ID, true
			}
		}
		if trivyscan.IsVulnerabilityID(id) {
			return id, true // the database knows it; the ledger may name it before it applies
		}
		return "", false
	}
}

// loadLedger loads the exceptions ledger, named in findings by its path
// under the scanned root, or by its base name when it lies elsewhere.
func loadLedger(file, root string, known exceptions.Known) (*exceptions.Ledger, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read exceptions: %w", err)
	}
	l, err := exceptions.Parse(file, data, known)
	if err != nil {
		return nil, err
	}
	l.File = filepath.ToSlash(filepath.Base(file))
	if abs, err := filepath.Abs(file); err == nil {
		if rootAbs, err := filepath.Abs(root); err == nil {
			if rel, err := filepath.Rel(rootAbs, abs); err == nil && !strings.HasPrefix(rel, "..") {
				l.File = filepath.ToSlash(rel)
			}
		}
	}
	return l, nil
}

func readChange(ws string) (*workspace.Change, error) {
	c, err := workspace.ReadChange(ws)
	if errors.Is(err, fs.ErrNotExist) {
		return &workspace.Change{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// scanner carries one scan's state.
type scanner struct {
	in     Input
	change *workspace.Change
	tree   *tree
	engine *trivyscan.Engine
	checks *trivyscan.Checks

	charts   []*chart
	objects  []*object            // in file order
	byFile   map[string][]*object // objects by file, for locating Trivy findings
	broken   map[string]bool      // files that do not parse: Trivy leaves them alone
	baseline map[string]*object
	baseFind map[string]bool // finding ids of the baseline's findings.json
	cands    []*candidate
	notes    []workspace.ScanNote
	mu       sync.Mutex
}

func (s *scanner) add(c *candidate) {
	s.mu.Lock()
	s.cands = append(s.cands, c)
	s.mu.Unlock()
}

func isYAML(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

// parse reads the tree's manifests, renders its charts and checks the
// syntax of its Terraform; what does not parse becomes a finding.
func (s *scanner) parse(ctx context.Context) error {
	s.byFile = map[string][]*object{}
	s.broken = map[string]bool{}
	s.charts = findCharts(s.tree.files, s.in.Environment)
	for _, f := range s.tree.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		inChart := chartOf(s.charts, f.Path) != nil
		switch {
		case strings.HasSuffix(f.Path, ".tf") || strings.HasSuffix(f.Path, ".tf.json"):
			if se := hclError(f); se != nil {
				s.broken[f.Path] = true
				s.add(scanCandidate(RuleUnparseable, se,
					"Terraform that does not parse cannot be checked, and will not plan either.",
					"Fix the syntax at the place named; `terraform validate` shows the same error."))
			}
		case strings.HasSuffix(f.Path, ".json") && !inChart:
			// JSON manifests are rare: one that does not parse is not taken
			// for a manifest (Trivy skips it too).
			if objs, err := parseYAML(f.Path, f.Data); err == nil {
				s.addObjects(f.Path, objs)
			} else {
				s.broken[f.Path] = true
			}
		case isYAML(f.Path):
			if inChart && strings.Contains(f.Path, "/templates/") {
				continue // rendered below
			}
			objs, err := parseYAML(f.Path, f.Data)
			var se *syntaxError
			if errors.As(err, &se) {
				s.broken[f.Path] = true
				s.add(scanCandidate(RuleUnparseable, se,
					"A manifest that does not parse cannot be checked, and will not apply either.",
					"Fix the syntax at the place named; `kubectl apply --dry-run=client -f` shows the same error."))
				continue
			}
			if !inChart {
				s.addObjects(f.Path, objs)
			}
		}
	}
	for _, c := range s.charts {
		ms, err := c.render(ctx, s.in.Path)
		var se *syntaxError
		if errors.As(err, &se) {
			s.broken[c.Dir] = true
			s.add(scanCandidate(RuleHelmRender, se,
				"A chart that does not render with this environment's values cannot be checked, and will not install either.",
				"Give the value the template needs in the chart's values.yaml or values-"+s.in.Environment+".yaml, or guard it in the template (default, required)."))
			continue
		}
		if err != nil {
			return exitcode.Infrastructure(fmt.Errorf("render chart %s: %w", c.Dir, err))
		}
		for _, m := range ms {
			objs, err := parseYAML(m.Path, []byte(m.Content))
			if errors.As(err, &se) {
				s.broken[c.Dir] = true
				se.Msg = "rendered chart: " + se.Msg
				s.add(scanCandidate(RuleHelmRender, se,
					"The chart renders YAML that does not parse: it will not install.", "Fix the template so that it renders valid YAML."))
				continue
			}
			s.addObjects(m.Path, objs)
		}
	}
	return nil
}

func (s *scanner) addObjects(file string, objs []*object) {
	s.objects = append(s.objects, objs...)
	s.byFile[file] = append(s.byFile[file], objs...)
}

// hclError parses a Terraform file and returns its first error, located.
func hclError(f *file) *syntaxError {
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	if strings.HasSuffix(f.Path, ".json") {
		_, diags = p.ParseJSON(f.Data, f.Path)
	} else {
		_, diags = p.ParseHCL(f.Data, f.Path)
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		se := &syntaxError{File: f.Path, Line: 1, Col: 1, Msg: "Terraform does not parse: " + d.Summary}
		if d.Detail != "" {
			se.Msg += ": " + d.Detail
		}
		if d.Subject != nil {
			se.Line, se.Col = d.Subject.Start.Line, d.Subject.Start.Column
		}
		return se
	}
	return nil
}

// target is where a file's objects go: the catalog service that owns the
// file (by its path or manifest globs, else by the object's name or app
// label), its tier, and the environment.
func (s *scanner) target(file string, o *object) *rules.PolicyTarget {
	t := &rules.PolicyTarget{Environment: s.in.Environment, Owners: []string{}, ProdSecretPatterns: s.in.ProdSecretPatterns}
	if t.ProdSecretPatterns == nil {
		t.ProdSecretPatterns = []string{}
	}
	cat := s.in.Catalog
	if cat == nil {
		return t
	}
	var name string
	if names := cat.ServicesFor(file); len(names) > 0 {
		name = names[0]
	} else if o != nil {
		for _, n := range []string{o.res.Labels["app.kubernetes.io/name"], o.res.Labels["app"], o.res.Name} {
			if _, ok := cat.Service(n); ok && n != "" {
				name = n
				break
			}
		}
	}
	if svc, ok := cat.Service(name); ok && name != "" {
		t.Service, t.Tier, t.Owners = svc.Name, svc.Tier, append([]string{}, svc.Owners...)
	}
	return t
}

// policies runs the resource rules on every object.
func (s *scanner) policies() error {
	for _, o := range s.objects {
		base := &rules.PolicyResource{}
		if s.baseline != nil {
			o.res.Baseline.Given = true
			if b, ok := s.baseline[o.key()]; ok {
				o.res.Baseline.Present = true
				base = &b.res
			}
		}
		hits, err := s.in.Rules.PolicyResourceRules(s.change, &o.res, base, s.target(o.res.File, o))
		if err != nil {
			return err
		}
		for _, r := range hits {
			s.add(policyCandidate(r, o))
		}
	}
	return nil
}

// trivy runs Trivy's checks by configuration type, concurrently, and its
// secret rules on every text file. Files that do not parse are left out.
func (s *scanner) trivy(ctx context.Context) error {
	byType := map[trivyscan.Type][]trivyscan.File{}
	var charts []trivyscan.Chart
	for _, c := range s.charts {
		if !s.broken[c.Dir] {
			charts = append(charts, c.trivyChart(s.in.Path))
		}
	}
	for _, f := range s.tree.files {
		if s.broken[f.Path] {
			continue
		}
		c := chartOf(s.charts, f.Path)
		for _, t := range trivyscan.Types {
			if !trivyscan.Wants(t, f.Path) {
				continue
			}
			// Chart files go to the Helm scan only; Helm takes chart files only.
			if (t == trivyscan.Helm) != (c != nil) || (c != nil && s.broken[c.Dir]) {
				continue
			}
			byType[t] = append(byType[t], trivyscan.File{Path: f.Path, Data: f.Data})
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(trivyscan.Types))
	for i, t := range trivyscan.Types {
		if len(byType[t]) == 0 {
			continue
		}
		wg.Go(func() { errs[i] = s.misconfigs(ctx, t, byType[t], charts) })
	}
	wg.Go(func() { s.secrets(ctx) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// misconfigs runs one type's checks. When Trivy fails on the batch, each
// file is scanned alone, and the ones it fails on become findings.
func (s *scanner) misconfigs(ctx context.Context, t trivyscan.Type, files []trivyscan.File, charts []trivyscan.Chart) error {
	ms, err := s.checks.Misconfigs(ctx, t, files, charts)
	if err != nil && ctx.Err() == nil && t != trivyscan.Helm {
		ms = nil
		for _, f := range files {
			one, ferr := s.checks.Misconfigs(ctx, t, []trivyscan.File{f}, nil)
			if ferr != nil {
				s.add(scanCandidate(RuleTrivyFailed, &syntaxError{File: f.Path, Line: 1, Col: 1, Msg: "Trivy cannot check this file: " + ferr.Error()},
					"A file Trivy cannot read is a file nobody checked.", "Fix the file so that it parses; the message says where Trivy stopped."))
				continue
			}
			ms = append(ms, one...)
		}
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return exitcode.Infrastructure(fmt.Errorf("trivy %s checks: %w", t, err))
	}
	for _, m := range ms {
		s.add(misconfigCandidate(m, s.locate(m.File, m.StartLine)))
	}
	return nil
}

// locate finds the object a finding at file:line is about.
func (s *scanner) locate(file string, line int) *object {
	objs := s.byFile[file]
	for _, o := range objs {
		if line >= o.res.Line && line <= o.res.EndLine {
			return o
		}
	}
	if len(objs) == 1 {
		return objs[0]
	}
	return nil
}

func (s *scanner) secrets(ctx context.Context) {
	for _, f := range s.tree.files {
		if ctx.Err() != nil {
			return
		}
		if s.engine.SkipsSecrets(f.Path) {
			continue
		}
		for _, sec := range s.engine.Secrets(f.Path, strings.NewReader(string(f.Data))) {
			s.add(secretCandidate(sec))
		}
	}
}

// vulnerabilities looks up the packages the tree's lockfiles pin in the
// Trivy database, when one is given. Without one, or with one that cannot be
// used, the scan notes it and goes on: it never downloads a database.
func (s *scanner) vulnerabilities(ctx context.Context) {
	note := func(format string, args ...any) {
		s.notes = append(s.notes, workspace.ScanNote{Message: fmt.Sprintf(format, args...)})
	}
	if s.in.TrivyDB == "" {
		note("vulnerabilities not scanned: no Trivy database given (--trivy-db DIR); the scan stays offline")
		return
	}
	var locks []*file
	for _, f := range s.tree.files {
		if trivyscan.IsLockfile(f.Path) {
			locks = append(locks, f)
		}
	}
	db, err := trivyscan.OpenDB(s.in.TrivyDB)
	if err != nil {
		note("vulnerabilities not scanned: %v", unwrapPath(err))
		return
	}
	defer db.Close()
	note("vulnerabilities: %d lockfile(s) checked against the Trivy database; container images are not pulled (no registry access)", len(locks))
	for _, f := range locks {
		vs, err := db.Vulnerabilities(ctx, f.Path, f.Data)
		if err != nil {
			s.notes = append(s.notes, workspace.ScanNote{File: f.Path, Message: "lockfile not read: " + oneLine(unwrapPath(err).Error())})
			continue
		}
		for _, v := range vs {
			s.add(vulnCandidate(v))
		}
	}
}

// decide turns candidates into findings: ids, the exceptions, the policy's
// decision, counts. The result is sorted and complete.
func (s *scanner) decide(ledger *exceptions.Ledger) (*workspace.Findings, error) {
	doc := &workspace.Findings{RulesDigest: s.in.Rules.Digest, Environment: s.in.Environment,
		AsOf: s.in.Now.UTC().Format(exceptions.DateLayout), Findings: []workspace.Finding{}}
	cands := s.cands
	sort.SliceStable(cands, func(i, j int) bool { return lessFinding(&cands[i].f, &cands[j].f) })
	fs := make([]workspace.Finding, len(cands))
	for i, c := range cands {
		fs[i] = c.f
	}
	assignIDs(fs)
	out := ledger.Apply(fs, s.in.Now)
	for i, c := range cands {
		c.f = fs[i]
	}
	// The ledger's own findings are decided like any other.
	for _, f := range out.Findings {
		f.ID = findingID(&f, 0)
		cands = append(cands, &candidate{f: f, in: rules.PolicyFinding{Source: f.Source, Rule: f.Rule, Severity: f.Severity,
			Title: f.Title, Type: "scan", File: f.File}})
	}
	for _, c := range cands {
		file := c.f.File
		if c.obj != nil {
			file = c.obj.res.File
		}
		t := s.target(file, c.obj)
		if s.baseFind != nil {
			c.in.New = !s.baseFind[c.f.ID]
			c.f.New = c.in.New
		}
		v, err := s.in.Rules.DecideFinding(s.change, &c.in, t, c.by)
		if err != nil {
			return nil, err
		}
		c.f.Blocker = v.Blocker
		if v.By != nil {
			c.f.DecidedBy = v.By.ID
		}
		c.f.WhyHere = whyHere(t, v)
		doc.Findings = append(doc.Findings, c.f)
	}
	sortFindings(doc.Findings)
	for _, f := range doc.Findings {
		switch {
		case f.Exception != nil:
			doc.Excepted++
		case f.Blocker:
			doc.Blockers++
		default:
			doc.Advisories++
		}
	}
	doc.Notes = append(append(append([]workspace.ScanNote{}, s.tree.notes...), s.notes...), out.Notes...)
	doc.Scanned = s.scannedCounts()
	return doc, nil
}

func (s *scanner) scannedCounts() map[string]int {
	out := map[string]int{"files": len(s.tree.files), "objects": len(s.objects), "charts": len(s.charts)}
	for _, f := range s.tree.files {
		switch {
		case trivyscan.Wants(trivyscan.Terraform, f.Path):
			out["terraform"]++
		case trivyscan.Wants(trivyscan.Dockerfile, f.Path):
			out["dockerfiles"]++
		}
	}
	return out
}

// write puts findings.sarif, then findings.json, into the workspace.
func write(ws string, doc *workspace.Findings, trivyVersion, env string) error {
	doc.Trivy = trivyVersion
	log := sarif.FromFindings(doc, sarif.Options{
		Tool: "rehearsal-scan", Version: version.Version, InformationURI: "https://github.com/rehearsal-dev/rehearsal",
		Category: "rehearsal-scan/" + env,
	})
	if err := workspace.WriteJSON(ws, workspace.SARIFFile, log); err != nil {
		return err
	}
	return workspace.WriteJSON(ws, workspace.FindingsFile, doc)
}
