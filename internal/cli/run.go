package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/fixtures"
	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/intent"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/runner"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/version"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/classify"
	"github.com/rehearsal-dev/rehearsal/steps/coordinate"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
	"github.com/rehearsal-dev/rehearsal/steps/mask"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
	"github.com/rehearsal-dev/rehearsal/steps/plan"
	"github.com/rehearsal-dev/rehearsal/steps/scan"
)

// The demo change: the sample history's destructive migration on the critical
// api service, against the commit before it.
const (
	demoBase = "app"
	demoHead = "migration"
)

// source selects the change: the demo, a repository and two revisions, or an event.
type source struct {
	demo             bool
	repo, base, head string
	event, eventName string
	catalog, request string
	rules, workspace string
	keyFile          string
	approvals        approveFlags
	argo             argo.Options
	intent           intent.Flags
	model            llm.Flags
	// llm is the run's model client; nil when none is configured.
	llm llm.Client
}

func (s *source) flags(fs *flag.FlagSet, withApprovals bool) {
	fs.StringVar(&s.workspace, "workspace", ".", "workspace `dir` for the run's files")
	fs.BoolVar(&s.demo, "demo", false, "run on the bundled sample repository (fixtures/sample)")
	fs.StringVar(&s.repo, "repo", "", "git repository `dir`")
	fs.StringVar(&s.base, "base", "", "base `revision`")
	fs.StringVar(&s.head, "head", "", "head `revision`")
	fs.StringVar(&s.event, "event", "", "GitHub push or pull_request event JSON `file`")
	fs.StringVar(&s.eventName, "event-name", "", "event `name` (push|pull_request); default: told from the payload")
	fs.StringVar(&s.catalog, "catalog", "services.yaml", "service catalog `file`")
	fs.StringVar(&s.rules, "rules", "rules", "rules `dir`")
	fs.StringVar(&s.request, "request", "", "plain-language request `text`, read into change.json's intent (keywords, or Gemini when configured)")
	s.intent.Register(fs)
	s.model.Register(fs)
	fs.StringVar(&s.argo.Namespace, "namespace", "", "`namespace` of the emitted Workflow")
	if withApprovals {
		fs.StringVar(&s.keyFile, "key-file", "", "ed25519 signing key `file` (PEM PKCS#8); default: a local key under the workspace")
		fs.Var(&s.approvals, "approve", "approve a gate as a user, `GATE=USER` (repeatable)")
	}
}

func (s *source) check() error {
	modes := 0
	for _, on := range []bool{s.demo, s.repo != "" || s.base != "" || s.head != "", s.event != ""} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1 && !(s.event != "" && s.repo != "" && s.base == "" && s.head == ""):
		return exitcode.Inputf("give exactly one of --demo, --repo DIR --base REV --head REV, or --event FILE")
	case s.repo != "" && s.event == "" && (s.base == "" || s.head == ""):
		return exitcode.Inputf("--repo needs both --base and --head")
	}
	return nil
}

// approveFlags collects --approve GATE=USER.
type approveFlags []struct{ gate, user string }

func (a *approveFlags) String() string { return "" }
func (a *approveFlags) Set(v string) error {
	g, u, ok := strings.Cut(v, "=")
	if !ok || g == "" || u == "" {
		return fmt.Errorf("want GATE=USER, got %q", v)
	}
	*a = append(*a, struct{ gate, user string }{g, u})
	return nil
}

// runCmd is `rehearsal run`.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s source
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	s.flags(fl, true)
	log := stepcmd.Logger(stderr)
	if err := s.start(ctx, fl, args, stderr, log); err != nil {
		return err
	}
	for _, a := range s.approvals {
		if err := decide(ctx, s.workspace, a.gate, a.user, gate.Approve, "", stdout); err != nil {
			return err
		}
	}
	model := s.llm
	if model == nil { // no request to read, but the packet's explanations may use the model
		model = s.model.Open(ctx, os.Getenv, log)
	}
	return continueRun(ctx, s.workspace, s.rules, s.keyFile, model, stdout, log)
}

// start parses the flags, checks them, and classifies and coordinates the change
// into the workspace.
func (s *source) start(ctx context.Context, fl *flag.FlagSet, args []string, stderr io.Writer, log *slog.Logger) error {
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	if err := s.prepare(ctx, log); err != nil {
		return err
	}
	if s.demo {
		defer os.RemoveAll(filepath.Dir(s.repo))
	}
	return s.plan(ctx, log)
}

// prepare checks the workspace is free and, for --demo, generates the sample
// repository and catalog in a temporary directory.
func (s *source) prepare(ctx context.Context, log *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(s.workspace, workspace.ChangeFile)); err == nil {
		return exitcode.Inputf("workspace %s already holds a run (%s); use a new --workspace or remove it", s.workspace, workspace.ChangeFile)
	}
	if !s.demo {
		return nil
	}
	tmp, err := os.MkdirTemp("", "rehearsal-demo-")
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	repo := filepath.Join(tmp, "repo")
	if _, err := sample.Generate(ctx, fixtures.Sample(), repo); err != nil {
		os.RemoveAll(tmp)
		return exitcode.Infrastructure(fmt.Errorf("generate the sample repository: %w", err))
	}
	cat, err := fs.ReadFile(fixtures.Sample(), fixtures.SampleCatalog)
	if err != nil {
		os.RemoveAll(tmp)
		return exitcode.Infrastructure(err)
	}
	s.catalog = filepath.Join(tmp, fixtures.SampleCatalog)
	if err := os.WriteFile(s.catalog, cat, 0o644); err != nil {
		os.RemoveAll(tmp)
		return exitcode.Infrastructure(err)
	}
	s.repo, s.base, s.head = repo, demoBase, demoHead
	log.Info("sample repository generated", "change", demoBase+".."+demoHead)
	return nil
}

// plan runs classify and coordinate into the workspace, with an audit entry each.
func (s *source) plan(ctx context.Context, log *slog.Logger) error {
	set, err := rules.Load(s.rules)
	if err != nil {
		return exitcode.Input(err)
	}
	if err := os.MkdirAll(s.workspace, 0o755); err != nil {
		return exitcode.Infrastructure(err)
	}
	if s.request != "" {
		s.llm = s.model.Open(ctx, os.Getenv, log)
	}
	start := time.Now()
	cout, err := classify.Run(ctx, classify.Input{
		Repo: s.repo, Base: s.base, Head: s.head, EventFile: s.event, EventName: s.eventName,
		CatalogPath: s.catalog, Rules: set, Request: s.request, Intent: s.intent.Intent(), Model: s.llm,
		Workspace: s.workspace,
	})
	if err != nil {
		return err
	}
	if err := stepcmd.Audit(s.workspace, "classify", "classify", start, set.Digest, nil, []string{workspace.ChangeFile, workspace.CatalogFile, workspace.IntentFile}); err != nil {
		return err
	}
	c := cout.Change
	log.Info("classified", "classes", strings.Join(c.Classes, ","), "risk", c.Risk, "files", len(c.Files), "services", len(c.Services))
	if c.Intent != nil {
		log.Info("intent", "environment", c.Intent.Environment, "services", strings.Join(c.Intent.Services, ","), "goals", strings.Join(c.Intent.Goals, ","), "revision", c.Intent.Revision)
	}
	cat, err := catalog.Load(filepath.Join(s.workspace, workspace.CatalogFile))
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	if err := s.record(c, cat); err != nil {
		return err
	}
	start = time.Now()
	gout, err := coordinate.Run(ctx, coordinate.Input{Workspace: s.workspace, Rules: set, Catalog: cat, Options: s.argo})
	if err != nil {
		return err
	}
	outs := []string{workspace.GraphFile}
	if gout.Workflow != "" {
		outs = append(outs, workspace.WorkflowFile)
	}
	if err := stepcmd.Audit(s.workspace, "coordinate", "coordinate", start, set.Digest, []string{workspace.ChangeFile, workspace.CatalogFile}, outs); err != nil {
		return err
	}
	log.Info("coordinated", "nodes", gout.Nodes, "gates", strings.Join(gout.Gates, ","))
	return nil
}

// runRecord is run.json: what a later `rehearsal approve` needs to continue
// the run the same way.
type runRecord struct {
	// Rules is the rules directory the run was started with; the local plan
	// step loads it again and refuses it if its digest changed.
	Rules string `json:"rules"`
}

// record writes run.json and, when the change comes from a repository, a
// snapshot of the catalog's manifests at the head revision into the
// workspace's manifests/ (the plan step reads it; in Argo the step has no
// repository either).
func (s *source) record(c *workspace.Change, cat *catalog.Catalog) error {
	rulesDir, err := filepath.Abs(s.rules)
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	if err := workspace.WriteJSON(s.workspace, workspace.RunFile, runRecord{Rules: rulesDir}); err != nil {
		return exitcode.Infrastructure(err)
	}
	if s.repo == "" || c.Source.Head == "" {
		return nil
	}
	if _, err := plan.SnapshotManifests(s.repo, c.Source.Head, cat, s.workspace); err != nil {
		return exitcode.Infrastructure(fmt.Errorf("snapshot manifests: %w", err))
	}
	return nil
}

// decide records one person's decision at a gate through the gate step, the
// same verification the Argo verify node runs.
func decide(ctx context.Context, ws, gateName, user, decision, comment string, stdout io.Writer) error {
	start := time.Now()
	out, err := gate.Run(ctx, gate.Input{Workspace: ws, Gate: gateName, User: user, Decision: decision, Comment: comment, Source: gate.SourceLocal})
	if err != nil {
		return err
	}
	var g workspace.Graph
	rulesDigest := ""
	if workspace.ReadJSON(ws, workspace.GraphFile, &g) == nil {
		rulesDigest = g.RulesDigest
	}
	a := out.Approval
	if err := stepcmd.Audit(ws, "gate", "gate-"+gateName+"."+user, start, rulesDigest,
		[]string{workspace.GraphFile, workspace.ChangeFile}, []string{workspace.ApprovalFile(gateName)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gate %s: %s recorded %s (%d of %d approvals)\n", gateName, user, decision, len(a.Approvers), gate.Needed(a.Policy))
	return nil
}

// continueRun executes what is runnable; then stops at open gates (exit 4) or
// writes the packet (exit by verdict).
func continueRun(ctx context.Context, ws, rulesDir, keyFile string, model llm.Client, stdout io.Writer, log *slog.Logger) error {
	r := &runner.Runner{Workspace: ws, Steps: localSteps(ws, rulesDir), Log: log}
	res, err := r.Continue(ctx)
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	if len(res.Failed) > 0 {
		var ids []string
		for id := range res.Failed {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var errs []error
		for _, id := range ids {
			errs = append(errs, res.Failed[id])
		}
		return errors.Join(errs...)
	}
	if len(res.Waiting) > 0 && len(res.Rejected) == 0 {
		change, err := workspace.ReadChange(ws)
		if err != nil {
			return exitcode.Infrastructure(err)
		}
		var names []string
		for _, n := range res.Waiting {
			names = append(names, n.Gate.Name)
			var a workspace.Approval
			_ = workspace.ReadJSON(ws, workspace.ApprovalFile(n.Gate.Name), &a)
			who := strings.Join(n.Gate.Groups, ", ")
			if n.Gate.NotAuthor && change.Author != "" {
				who += ", not " + change.Author
			}
			fmt.Fprintf(stdout, "stopped at gate %q (tier %s): needs %d approval(s) from %s; %d so far\n",
				n.Gate.Name, n.Gate.Tier, gate.Needed(*n.Gate), who, len(a.Approvers))
			fmt.Fprintf(stdout, "  approve: rehearsal approve --workspace %s --gate %s --as USER --decision approve --comment TEXT\n", ws, n.Gate.Name)
		}
		return exitcode.Wrap(exitcode.Pending, fmt.Errorf("awaiting approval at gate %s", strings.Join(names, ", ")))
	}
	pout, err := packet.Run(ctx, packet.Input{Workspace: ws, KeyFile: keyFile, Version: version.Version, Model: model})
	if err != nil {
		return err
	}
	for _, w := range pout.Warnings {
		log.Warn(w)
	}
	fmt.Fprintf(stdout, "verdict: %s (%s)\npacket: %s (key %s)\n", pout.Verdict, pout.Reason,
		filepath.Join(ws, workspace.PacketMD), pout.KeyID)
	if code := pout.ExitCode(); code != exitcode.OK {
		return exitcode.Wrap(code, fmt.Errorf("verdict %s: %s", pout.Verdict, pout.Reason))
	}
	return nil
}

// localSteps are the in-process executors of routed steps: the same step
// packages the images run.
func localSteps(ws, rulesDir string) map[string]runner.StepFunc {
	return map[string]runner.StepFunc{
		"plan": func(ctx context.Context, n workspace.Node) (runner.Files, error) {
			return localPlan(ctx, ws, rulesDir, n)
		},
		"scan": func(ctx context.Context, n workspace.Node) (runner.Files, error) {
			return localScan(ctx, ws, rulesDir, n)
		},
		"mask": func(ctx context.Context, n workspace.Node) (runner.Files, error) {
			return localMask(ctx, ws, rulesDir)
		},
	}
}

// localMask runs the test-data architect on the embedded server, loaded with
// the bundled shop fixtures and masked with the demo key: what a local run can
// show without a database. Give the mask binary DSNs and a key for real data.
func localMask(ctx context.Context, ws, rulesDir string) (runner.Files, error) {
	files := runner.Files{Inputs: []string{workspace.ChangeFile}}
	set, err := runRules(ws, rulesDir)
	if err != nil {
		return files, err
	}
	_, err = mask.Run(ctx, mask.Input{Workspace: ws, Rules: set})
	files.Outputs = []string{workspace.DatasetFile}
	return files, err
}

// localScan runs the security guardian on the workspace's manifests snapshot
// (or the directory the node's path parameter names), with the catalog
// classify copied; blockers no exception covers fail the node (exit 1).
func localScan(ctx context.Context, ws, rulesDir string, n workspace.Node) (runner.Files, error) {
	files := runner.Files{Inputs: []string{workspace.ChangeFile, workspace.CatalogFile}}
	set, err := runRules(ws, rulesDir)
	if err != nil {
		return files, err
	}
	cat, err := catalog.Load(filepath.Join(ws, workspace.CatalogFile))
	if err != nil {
		return files, exitcode.Input(err)
	}
	path := cmp.Or(n.Parameters["path"], filepath.Join(ws, workspace.ManifestsDir))
	out, err := scan.Run(ctx, scan.Input{Path: path, Workspace: ws, Rules: set, Catalog: cat,
		Environment: n.Parameters["environment"], Exceptions: n.Parameters["exceptions"], Baseline: n.Parameters["baseline"],
		Now: time.Now()})
	files.Outputs = []string{workspace.FindingsFile, workspace.SARIFFile}
	if err == nil && out.ExitCode() != exitcode.OK {
		err = exitcode.Verdict(fmt.Errorf("scan: %d blocker(s) no exception covers; see %s", out.Blockers, workspace.FindingsFile))
	}
	return files, err
}

// localPlan runs the deploy designer on the workspace, with the rules the run
// was coordinated with, the catalog classify copied and the manifests
// snapshot (or the directories the node's parameters name).
func localPlan(ctx context.Context, ws, rulesDir string, n workspace.Node) (runner.Files, error) {
	files := runner.Files{Inputs: []string{workspace.ChangeFile, workspace.CatalogFile}}
	set, err := runRules(ws, rulesDir)
	if err != nil {
		return files, err
	}
	catPath := n.Parameters["catalog"]
	if catPath == "" {
		catPath = filepath.Join(ws, workspace.CatalogFile)
	}
	cat, err := catalog.Load(catPath)
	if err != nil {
		return files, exitcode.Input(err)
	}
	manifests := n.Parameters["manifests"]
	if manifests == "" {
		if st, err := os.Stat(filepath.Join(ws, plan.ManifestsDir)); err == nil && st.IsDir() {
			manifests = filepath.Join(ws, plan.ManifestsDir)
		}
	}
	out, err := plan.Run(ctx, plan.Input{Workspace: ws, Rules: set, Catalog: cat, Manifests: manifests,
		Options: plan.Options{Prometheus: n.Parameters["prometheus"]}})
	files.Outputs = append([]string{workspace.PlanFile, workspace.RunbookFile}, out.Rollouts...)
	return files, err
}

// runRules loads the rules for a local step and checks they are the rules the
// run was coordinated with.
func runRules(ws, rulesDir string) (*rules.Set, error) {
	set, err := rules.Load(rulesDir)
	if err != nil {
		return nil, exitcode.Input(err)
	}
	var g workspace.Graph
	if err := workspace.ReadJSON(ws, workspace.GraphFile, &g); err != nil {
		return nil, exitcode.Input(err)
	}
	if g.RulesDigest != "" && set.Digest != g.RulesDigest {
		return nil, exitcode.Inputf("rules in %s (%s) are not the rules this run was coordinated with (%s); pass the run's --rules", rulesDir, set.Digest, g.RulesDigest)
	}
	return set, nil
}

// approveCmd is `rehearsal approve`.
func approveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ws, gateName, user, decision, comment, keyFile, rulesDir string
	var model llm.Flags
	fl := flag.NewFlagSet("approve", flag.ContinueOnError)
	model.Register(fl)
	fl.StringVar(&ws, "workspace", ".", "workspace `dir` of the run")
	fl.StringVar(&gateName, "gate", "", "gate `name`")
	fl.StringVar(&user, "as", "", "the approver's user `name`")
	fl.StringVar(&decision, "decision", gate.Approve, "approve|reject")
	fl.StringVar(&comment, "comment", "", "why (`text`)")
	fl.StringVar(&keyFile, "key-file", "", "ed25519 signing key `file` for the packet")
	fl.StringVar(&rulesDir, "rules", "", "rules `dir` for the steps still to run (default: the one the run was started with, from run.json)")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return err
	}
	if gateName == "" || user == "" {
		return exitcode.Inputf("approve needs --gate NAME and --as USER")
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.GraphFile)); err != nil {
		return exitcode.Inputf("workspace %s holds no run (%s missing); start one with rehearsal run", ws, workspace.GraphFile)
	}
	if rulesDir == "" {
		var rec runRecord
		if err := workspace.ReadJSON(ws, workspace.RunFile, &rec); err != nil {
			return exitcode.Inputf("no --rules given and the run's record cannot be read: %v", err)
		}
		rulesDir = rec.Rules
	}
	if err := decide(ctx, ws, gateName, user, decision, comment, stdout); err != nil {
		return err
	}
	log := stepcmd.Logger(stderr)
	return continueRun(ctx, ws, rulesDir, keyFile, model.Open(ctx, os.Getenv, log), stdout, log)
}
