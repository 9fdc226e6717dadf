package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/intent"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/classify"
	"github.com/rehearsal-dev/rehearsal/steps/plan"
)

const name = "classify"

// summary is what the command prints on stdout: where change.json is and the
// output parameters.
type summary struct {
	Change string            `json:"change"`
	Params map[string]string `json:"params"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var in classify.Input
	var outputs string
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&in.Workspace, "workspace", ".", "workspace `dir`; change.json and catalog.json are written there")
	fl.StringVar(&in.Repo, "repo", "", "git repository `dir`")
	fl.StringVar(&in.Base, "base", "", "base `revision` (tag, branch, hash, HEAD~1, …)")
	fl.StringVar(&in.Head, "head", "", "head `revision`")
	fl.StringVar(&in.EventFile, "event", "", "GitHub push or pull_request webhook payload `file` (with --repo: read the change from git)")
	fl.StringVar(&in.EventName, "event-name", "", "X-GitHub-Event `name` (push | pull_request; default: told from the payload)")
	fl.StringVar(&in.CatalogPath, "catalog", "services.yaml", "service catalog `file`")
	fl.StringVar(&in.RulesDir, "rules", "rules/", "rules `dir`")
	fl.StringVar(&in.Request, "request", "", "plain-language request `text`, read into change.json's intent")
	var intentFlags intent.Flags
	intentFlags.Register(fl)
	var model llm.Flags
	model.Register(fl)
	fl.StringVar(&outputs, "outputs", "", "`dir` for Argo output parameters (risk, classes, services, files)")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	in.Intent = intentFlags.Intent()
	if in.Request != "" {
		in.Model = model.Open(ctx, os.Getenv, stepcmd.Logger(stderr))
	}
	start := time.Now()
	out, err := classify.Run(ctx, in)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	written := []string{workspace.ChangeFile, workspace.CatalogFile, workspace.IntentFile}
	if in.Repo != "" {
		// The plan step reads the manifests as they are at the head revision
		// from the workspace: its pod has no repository.
		cat, err := catalog.Load(filepath.Join(in.Workspace, workspace.CatalogFile))
		if err != nil {
			return stepcmd.Fail(stderr, name, exitcode.Infrastructure(err))
		}
		files, err := plan.SnapshotManifests(in.Repo, out.Change.Source.Head, cat, in.Workspace)
		if err != nil {
			return stepcmd.Fail(stderr, name, exitcode.Infrastructure(fmt.Errorf("snapshot manifests: %w", err)))
		}
		written = append(written, files...)
	}
	if err := stepcmd.Audit(in.Workspace, name, name, start, out.Change.RulesDigest, nil, written); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	params := out.Params()
	if err := stepcmd.Report(stdout, outputs, params, summary{Change: filepath.Join(in.Workspace, workspace.ChangeFile), Params: params}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	stepcmd.Logger(stderr).Info("classified", "risk", params["risk"], "classes", params["classes"], "services", params["services"], "files", params["files"], "author", out.Change.Author)
	return exitcode.OK
}
