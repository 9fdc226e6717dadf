package main

import (
	"context"
	"flag"
	"io"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

const name = "gate"

type options struct {
	workspace       string
	gate            string
	as              string
	decision        string
	comment         string
	requireComplete bool
	outputs         string
	// Argo mode: who resumed the suspend node is read from the Workflow.
	workflow  string
	nodeID    string
	namespace string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.workspace, "workspace", ".", "workspace `dir`ectory")
	fs.StringVar(&o.gate, "gate", "", "gate `name` (its node is gate-<name> in graph.json)")
	fs.StringVar(&o.as, "as", "", "local mode: the `user` deciding")
	fs.StringVar(&o.decision, "decision", "", "approve or reject (Argo mode: read from the suspend node; when given, it must match)")
	fs.StringVar(&o.comment, "comment", "", "local mode: a comment recorded with the decision")
	fs.BoolVar(&o.requireComplete, "require-complete", false, "fail (exit 1) when the gate is still pending after this decision")
	fs.StringVar(&o.outputs, "outputs", "", "`dir`ectory for Argo output parameter files (decision)")
	fs.StringVar(&o.workflow, "workflow", "", "Argo mode: the Workflow `name` holding the suspend node")
	fs.StringVar(&o.nodeID, "node-id", "", "Argo mode: the suspend node's `id`")
	fs.StringVar(&o.namespace, "namespace", "", "Argo mode: the Workflow's `namespace`")
	if err := stepcmd.Parse(fs, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	log := stepcmd.Logger(stderr)

	in, err := input(ctx, o)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	out, err := gate.Run(ctx, in)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Outputs(o.outputs, map[string]string{"decision": out.Approval.Decision}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	b, err := workspace.Marshal(out)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if _, err := stdout.Write(b); err != nil {
		return stepcmd.Fail(stderr, name, exitcode.Infrastructure(err))
	}
	log.Info("gate recorded", "gate", out.Approval.Gate, "decision", out.Approval.Decision,
		"approvers", out.Approval.Approvers, "reason", out.Approval.Reason)
	return stepcmd.Fail(stderr, name, out.Err())
}

// input turns the options into the step's input: the local user's decision,
// or, in Argo mode, what the Workflow recorded on the resumed suspend node.
func input(ctx context.Context, o options) (gate.Input, error) {
	if o.gate == "" {
		return gate.Input{}, exitcode.Inputf("--gate is required")
	}
	in := gate.Input{Workspace: o.workspace, Gate: o.gate, RequireComplete: o.requireComplete}
	if o.workflow == "" {
		if o.nodeID != "" || o.namespace != "" {
			return in, exitcode.Inputf("--node-id and --namespace need --workflow")
		}
		if o.as == "" {
			return in, exitcode.Inputf("--as is required (or --workflow for a gate resumed in Argo)")
		}
		in.Source, in.User, in.Decision, in.Comment = gate.SourceLocal, o.as, o.decision, o.comment
		return in, nil
	}
	if o.as != "" || o.comment != "" {
		return in, exitcode.Inputf("--as and --comment are for local mode; in Argo mode they come from the resumed node")
	}
	if o.nodeID == "" || o.namespace == "" {
		return in, exitcode.Inputf("--workflow needs --node-id and --namespace")
	}
	policy, err := gate.Policy(o.workspace, o.gate)
	if err != nil {
		return in, err
	}
	wf, err := getWorkflow(ctx, o.namespace, o.workflow)
	if err != nil {
		return in, err
	}
	r, err := resumed(wf, o.nodeID, policy)
	if err != nil {
		return in, err
	}
	if o.decision != "" && o.decision != r.Decision {
		return in, exitcode.Inputf("--decision %q does not match the decision %q recorded on node %s", o.decision, r.Decision, o.nodeID)
	}
	in.Source, in.User, in.Decision, in.Comment, in.Claims, in.TimedOut = gate.SourceArgo, r.User, r.Decision, r.Comment, r.Claims, r.TimedOut
	return in, nil
}
