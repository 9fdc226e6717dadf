package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	onRefusal       string
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
	fs.StringVar(&o.onRefusal, "on-refusal", refusalFail, "`what` to do when the policy refuses who decided: "+refusalFail+" (exit 1) or "+refusalReopen+" (report it, exit 0: the gate stays open)")
	fs.StringVar(&o.outputs, "outputs", "", "`dir`ectory for Argo output parameter files (decision, state, message)")
	fs.StringVar(&o.workflow, "workflow", "", "Argo mode: the Workflow `name` holding the suspend node")
	fs.StringVar(&o.nodeID, "node-id", "", "Argo mode: the suspend node's `id`")
	fs.StringVar(&o.namespace, "namespace", "", "Argo mode: the Workflow's `namespace`")
	if err := stepcmd.Parse(fs, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}

	if o.onRefusal != refusalFail && o.onRefusal != refusalReopen {
		return stepcmd.Fail(stderr, name, exitcode.Inputf("--on-refusal %q is not one of %s, %s", o.onRefusal, refusalFail, refusalReopen))
	}
	in, err := input(ctx, o)
	if err == nil {
		var out gate.Output
		out, err = gate.Run(ctx, in)
		if err == nil {
			return recorded(o, out, stdout, stderr)
		}
	}
	var refusal *gate.Refusal
	if o.onRefusal == refusalReopen && errors.As(err, &refusal) {
		return refused(o, refusal, stdout, stderr)
	}
	return stepcmd.Fail(stderr, name, err)
}

// The gate's state after a verify round, as the output parameter `state`:
// Argo's gate template opens another round while it is pending or refused.
const (
	stateApproved = "approved"
	statePending  = "pending"
	stateRefused  = "refused"
	stateRejected = "rejected"
)

// What --on-refusal does with a decision the policy refuses.
const (
	refusalFail   = "fail"
	refusalReopen = "reopen"
)

// recorded reports a recorded decision: the output parameters, the approval as
// JSON on stdout, and exit 1 for a rejected (or required but incomplete) gate.
func recorded(o options, out gate.Output, stdout, stderr io.Writer) int {
	a := out.Approval
	state := statePending
	switch {
	case a.Decision == gate.Reject:
		state = stateRejected
	case out.Complete:
		state = stateApproved
	}
	if err := stepcmd.Outputs(o.outputs, map[string]string{"decision": a.Decision, "state": state, "message": a.Reason}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := write(stdout, out); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	stepcmd.Logger(stderr).Info("gate recorded", "gate", a.Gate, "decision", a.Decision,
		"approvers", a.Approvers, "reason", a.Reason)
	return stepcmd.Fail(stderr, name, out.Err())
}

// refused reports a refusal that leaves the gate open (--on-refusal reopen):
// nothing is recorded; the output parameters and stdout say who was refused
// and why, and the exit is 0 so that the gate template asks again.
func refused(o options, r *gate.Refusal, stdout, stderr io.Writer) int {
	who := r.User
	if who == "" {
		who = "an unknown approver"
	}
	msg := fmt.Sprintf("refused %s: %s; gate %q stays open", who, r.Reason, r.Gate)
	if err := stepcmd.Outputs(o.outputs, map[string]string{"decision": gate.Pending, "state": stateRefused, "message": msg}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := write(stdout, struct {
		Refused *gate.Refusal `json:"refused"`
	}{r}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	stepcmd.Logger(stderr).Warn("decision refused; the gate stays open", "gate", r.Gate, "user", r.User, "reason", r.Reason)
	return exitcode.OK
}

func write(w io.Writer, v any) error {
	b, err := workspace.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return exitcode.Infrastructure(err)
	}
	return nil
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
