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

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/coordinate"
)

const name = "coordinate"

// options are the command's flags.
type options struct {
	workspace, rules, catalog, templates, outputs string
	argo                                          argo.Options
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&o.workspace, "workspace", ".", "workspace `dir` holding change.json; graph.json and workflow.yaml are written there")
	fl.StringVar(&o.rules, "rules", "rules/", "rules `dir`")
	fl.StringVar(&o.catalog, "catalog", "", "service catalog `file` (default: the workspace's "+workspace.CatalogFile+")")
	fl.StringVar(&o.templates, "templates", "", "WorkflowTemplates `dir` (default: the templates built into this binary)")
	fl.StringVar(&o.outputs, "outputs", "", "`dir` for Argo output parameters (nodes, gates, risk)")
	fl.StringVar(&o.argo.Namespace, "namespace", "", "`namespace` of the emitted Workflow (empty: left to argo submit)")
	fl.StringVar(&o.argo.ServiceAccount, "service-account", "", "service `account` for pods whose template names none")
	fl.StringVar(&o.argo.WorkspaceClaim, "workspace-claim", argo.DefaultWorkspaceClaim, "PersistentVolumeClaim `name` holding the workspace in the cluster")
	fl.StringVar(&o.argo.GenerateName, "generate-name", argo.DefaultGenerateName, "`prefix` of the emitted Workflow's name")
	fl.StringVar(&o.argo.Run, "run", "", "run `name` for the rehearsal.dev/run label (the parent Workflow)")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	start := time.Now()
	out, err := coordinateRun(ctx, o)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	var g workspace.Graph
	if err := workspace.ReadJSON(o.workspace, workspace.GraphFile, &g); err != nil {
		return stepcmd.Fail(stderr, name, exitcode.Infrastructure(err))
	}
	if err := stepcmd.Audit(o.workspace, name, name, start, g.RulesDigest,
		[]string{workspace.ChangeFile, workspace.CatalogFile}, []string{workspace.GraphFile, workspace.WorkflowFile}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Report(stdout, o.outputs, out.Params(), out); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	log := stepcmd.Logger(stderr)
	if out.Nodes == 0 {
		log.Info("no nodes: nothing to run", "graph", filepath.Join(o.workspace, workspace.GraphFile), "removedStaleWorkflow", out.RemovedStale)
	} else {
		log.Info("graph planned", "nodes", out.Nodes, "gates", out.Gates, "workflow", out.Workflow)
	}
	return exitcode.OK
}

func coordinateRun(ctx context.Context, o options) (coordinate.Output, error) {
	set, err := rules.Load(o.rules)
	if err != nil {
		return coordinate.Output{}, exitcode.Input(err)
	}
	catPath := o.catalog
	if catPath == "" {
		catPath = filepath.Join(o.workspace, workspace.CatalogFile)
		if _, err := os.Stat(catPath); errors.Is(err, fs.ErrNotExist) {
			return coordinate.Output{}, exitcode.Inputf("no --catalog given and %s does not exist", catPath)
		}
	}
	cat, err := catalog.Load(catPath)
	if err != nil {
		return coordinate.Output{}, exitcode.Input(err)
	}
	var tfs fs.FS
	if o.templates != "" {
		if st, err := os.Stat(o.templates); err != nil || !st.IsDir() {
			return coordinate.Output{}, exitcode.Inputf("--templates %s: not a directory", o.templates)
		}
		tfs = os.DirFS(o.templates)
	}
	return coordinate.Run(ctx, coordinate.Input{Workspace: o.workspace, Rules: set, Catalog: cat, Templates: tfs, Options: o.argo})
}
