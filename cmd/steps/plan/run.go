package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/plan"
)

const name = "plan"

// options are the command's flags.
type options struct {
	workspace, rules, catalog, manifests, outputs, prometheus string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&o.workspace, "workspace", ".", "workspace `dir` holding change.json; plan.json, runbook.md and rollouts/ are written there")
	fl.StringVar(&o.rules, "rules", "rules/", "rules `dir`")
	fl.StringVar(&o.catalog, "catalog", "", "service catalog `file` (default: the workspace's "+workspace.CatalogFile+")")
	fl.StringVar(&o.manifests, "manifests", "", "`dir` whose files the catalog's manifests globs name, e.g. the repository root (default: the workspace's "+plan.ManifestsDir+"/ when it exists; otherwise the plan is made from the catalog alone)")
	fl.StringVar(&o.outputs, "outputs", "", "`dir` for Argo output parameters (services, steps, strategies, gated, advisories)")
	fl.StringVar(&o.prometheus, "prometheus", plan.DefaultPrometheus, "Prometheus `address` the emitted AnalysisTemplates query")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	start := time.Now()
	set, out, err := planRun(ctx, o)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	outputs := append([]string{workspace.PlanFile, workspace.RunbookFile}, out.Rollouts...)
	if err := stepcmd.Audit(o.workspace, name, name, start, set.Digest,
		[]string{workspace.ChangeFile, workspace.CatalogFile}, outputs); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Report(stdout, o.outputs, out.Params(), out); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	stepcmd.Logger(stderr).Info("plan written", "services", out.Services, "steps", out.Steps, "gated", out.Gated,
		"advisories", out.Advisories, "plan", filepath.Join(o.workspace, workspace.PlanFile))
	return exitcode.OK
}

func planRun(ctx context.Context, o options) (*rules.Set, plan.Output, error) {
	set, err := rules.Load(o.rules)
	if err != nil {
		return nil, plan.Output{}, exitcode.Input(err)
	}
	catPath := o.catalog
	if catPath == "" {
		catPath = filepath.Join(o.workspace, workspace.CatalogFile)
		if _, err := os.Stat(catPath); errors.Is(err, fs.ErrNotExist) {
			return nil, plan.Output{}, exitcode.Inputf("no --catalog given and %s does not exist", catPath)
		}
	}
	cat, err := catalog.Load(catPath)
	if err != nil {
		return nil, plan.Output{}, exitcode.Input(err)
	}
	manifests := o.manifests
	if manifests == "" {
		if st, err := os.Stat(filepath.Join(o.workspace, plan.ManifestsDir)); err == nil && st.IsDir() {
			manifests = filepath.Join(o.workspace, plan.ManifestsDir)
		}
	}
	out, err := plan.Run(ctx, plan.Input{Workspace: o.workspace, Rules: set, Catalog: cat, Manifests: manifests,
		Options: plan.Options{Prometheus: o.prometheus}})
	return set, out, err
}
