package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exceptions"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/trivyscan"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/scan"
)

const name = "scan"

// options are the command's flags.
type options struct {
	path, rules, workspace, exceptions, trivyDB, catalog, environment, outputs, baseline, asOf string
}

// now is the clock --as-of defaults to (tests set it).
var now = time.Now

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&o.path, "path", "", "`dir` to scan: the repository, or a workspace's manifests/ snapshot (required)")
	fl.StringVar(&o.rules, "rules", "rules/", "rules `dir` (the policy rules are used)")
	fl.StringVar(&o.workspace, "workspace", ".", "workspace `dir`; findings.json and findings.sarif are written there")
	fl.StringVar(&o.exceptions, "exceptions", "", "exceptions ledger `file` (exceptions.yaml)")
	fl.StringVar(&o.trivyDB, "trivy-db", "", "Trivy vulnerability database `dir` (vulnerabilities are not scanned without one)")
	fl.StringVar(&o.catalog, "catalog", "", "service catalog `file` (default: the workspace's "+workspace.CatalogFile+" when there is one)")
	fl.StringVar(&o.environment, "environment", scan.DefaultEnvironment, "`environment` the release goes to")
	fl.StringVar(&o.outputs, "outputs", "", "`dir` for Argo output parameters (blockers, advisories)")
	fl.StringVar(&o.baseline, "baseline", "", "approved baseline `dir`: manifests, or a previous workspace or packet")
	fl.StringVar(&o.asOf, "as-of", "", "`date` (YYYY-MM-DD) exceptions are judged on (default: today, UTC)")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	start := time.Now()
	log := stepcmd.Logger(stderr)
	trivyscan.SetLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	tuneGC()
	go func() { _, _ = trivyscan.Shared() }() // Trivy's check metadata loads while the rules do
	set, out, err := scanRun(ctx, o)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	entry := workspace.AuditEntry{Step: name, Node: name, Start: workspace.AuditTime(start), RulesDigest: set.Digest, ExitCode: out.ExitCode()}
	if err := stepcmd.Record(o.workspace, entry, []string{workspace.ChangeFile, workspace.CatalogFile},
		[]string{workspace.FindingsFile, workspace.SARIFFile}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Report(stdout, o.outputs, out.Params(), out); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	findings := filepath.Join(o.workspace, workspace.FindingsFile)
	log.Info("findings written", "blockers", out.Blockers, "advisories", out.Advisories, "excepted", out.Excepted,
		"files", out.Files, "notes", out.Notes, "findings", findings)
	if out.Blockers > 0 {
		return stepcmd.Fail(stderr, name, exitcode.Verdict(fmt.Errorf("%d blocker(s) no exception covers: see %s", out.Blockers, findings)))
	}
	return exitcode.OK
}

// tuneGC trades memory for time in this short-lived process: compiling
// Trivy's checks allocates heavily, and collecting less often takes a fifth
// off a scan for a peak of about 400 MiB (the template allows 1 GiB). A soft
// limit brings collection back before the container's limit; GOGC and
// GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(768 << 20)
	}
}

func scanRun(ctx context.Context, o options) (*rules.Set, scan.Output, error) {
	if o.path == "" {
		return nil, scan.Output{}, exitcode.Inputf("--path is required")
	}
	day := now().UTC()
	if o.asOf != "" {
		t, err := time.Parse(exceptions.DateLayout, o.asOf)
		if err != nil {
			return nil, scan.Output{}, exitcode.Inputf("--as-of %q is not a date (YYYY-MM-DD)", o.asOf)
		}
		day = t
	}
	set, err := rules.Load(o.rules)
	if err != nil {
		return nil, scan.Output{}, exitcode.Input(err)
	}
	var cat *catalog.Catalog
	catPath := o.catalog
	if catPath == "" {
		p := filepath.Join(o.workspace, workspace.CatalogFile)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			catPath = p
		}
	}
	if catPath != "" {
		if cat, err = catalog.Load(catPath); err != nil {
			return nil, scan.Output{}, exitcode.Input(err)
		}
	}
	out, err := scan.Run(ctx, scan.Input{
		Path: o.path, Workspace: o.workspace, Rules: set, Catalog: cat, Environment: o.environment,
		Exceptions: o.exceptions, Baseline: o.baseline, TrivyDB: o.trivyDB, Now: day,
	})
	return set, out, err
}
