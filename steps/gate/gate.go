// Package gate verifies a human decision at an approval gate against the gate's
// policy (group membership, not the change's author, distinct approvers, timeout)
// and records the outcome in approvals/<gate>.json. A decision the policy
// refuses is never recorded.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Decisions a person may make at a gate, and the recorded outcomes.
const (
	Approve = "approve"
	Reject  = "reject"
	Pending = "pending"
)

// Where a decision came from.
const (
	SourceLocal = "local"
	SourceArgo  = "argo"
)

// NodePrefix prefixes the graph node id of a gate: gate-<name>.
const NodePrefix = "gate-"

// Input is one decision to verify and record.
type Input struct {
	Workspace string `json:"workspace"`
	// Gate is the gate's name (its node is gate-<name> in graph.json).
	Gate     string `json:"gate"`
	User     string `json:"user"`
	Decision string `json:"decision"`
	Comment  string `json:"comment,omitempty"`
	// Source is "local" or "argo".
	Source string `json:"source"`
	// Claims are the identity claims Argo recorded for who resumed the gate.
	Claims map[string]string `json:"claims,omitempty"`
	// TimedOut says the gate's deadline passed without anyone deciding.
	TimedOut bool `json:"timedOut,omitempty"`
	// RequireComplete makes a gate that is still pending after this decision a
	// negative outcome (the last approval round in Argo).
	RequireComplete bool `json:"requireComplete,omitempty"`
}

// Output is the gate's recorded state after the decision.
type Output struct {
	Approval workspace.Approval `json:"approval"`
	// Complete is true when the gate is approved and verified.
	Complete bool `json:"complete"`
	// RequireComplete echoes the input, so ExitCode can judge a pending gate.
	RequireComplete bool `json:"requireComplete,omitempty"`
}

// ExitCode is 1 when the gate is rejected, or still pending when it had to be
// complete; 0 otherwise.
func (o Output) ExitCode() int {
	switch {
	case o.Approval.Decision == Reject:
		return exitcode.Negative
	case o.Approval.Decision == Pending && o.RequireComplete:
		return exitcode.Negative
	}
	return exitcode.OK
}

// Err returns the negative outcome as an error (nil when ExitCode is 0), for
// callers that report through errors.
func (o Output) Err() error {
	if o.ExitCode() == exitcode.OK {
		return nil
	}
	if o.Approval.Decision == Pending {
		return exitcode.Verdict(fmt.Errorf("gate %q is not complete: %s", o.Approval.Gate, o.Approval.Reason))
	}
	return exitcode.Verdict(fmt.Errorf("gate %q is rejected: %s", o.Approval.Gate, o.Approval.Reason))
}

// Refusal is the error Run returns when the policy refuses the person who
// decided (the change's author, someone outside the gate's groups, the same
// approver twice, nobody known): nothing is recorded, the gate's state is
// unchanged, and someone else may still decide. Argo's gate template branches
// on it to re-open the gate.
type Refusal struct {
	Gate string `json:"gate"`
	// User is who was refused; empty when nobody is known to have decided.
	User   string `json:"user"`
	Reason string `json:"reason"`
}

func (r *Refusal) Error() string { return r.Reason }

// Refuse returns the negative verdict (exit 1) refusing user at gate, with err
// as the reason.
func Refuse(gate, user string, err error) error {
	return exitcode.Verdict(&Refusal{Gate: gate, User: user, Reason: err.Error()})
}

// Run verifies in's decision against the gate's policy and records it. A
// refused decision returns a *Refusal (exit 1) and leaves the approvals file as
// it was; bad input returns exit 2. A recorded outcome returns a nil error: check
// Output.ExitCode for a rejected or incomplete gate.
func Run(ctx context.Context, in Input) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	if in.Source != SourceLocal && in.Source != SourceArgo {
		return Output{}, exitcode.Inputf("source %q is not one of %s, %s", in.Source, SourceLocal, SourceArgo)
	}
	if !in.TimedOut && in.Decision != Approve && in.Decision != Reject {
		return Output{}, exitcode.Inputf("decision %q is not one of %s, %s", in.Decision, Approve, Reject)
	}
	policy, err := Policy(in.Workspace, in.Gate)
	if err != nil {
		return Output{}, err
	}
	change, err := workspace.ReadChange(in.Workspace)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	cat, err := ReadCatalog(in.Workspace)
	if err != nil {
		return Output{}, err
	}
	prev, err := readApproval(in.Workspace, policy)
	if err != nil {
		return Output{}, err
	}
	if prev.Decision == Reject || (prev.Decision == Approve && prev.Verified) {
		return Output{}, exitcode.Verdict(fmt.Errorf("gate %q is already %s; no further decisions are recorded", policy.Name, done(prev.Decision)))
	}

	next := prev
	next.Records = slices.Clone(prev.Records)
	next.Approvers = slices.Clone(prev.Approvers)
	if in.TimedOut {
		next.Decision = Reject
		next.Verified = true
		next.Reason = TimedOutReason(policy.Timeout)
	} else {
		if err := Eligible(policy, change.Author, cat, in.User, in.Decision); err != nil {
			return Output{}, Refuse(policy.Name, in.User, err)
		}
		if in.Decision == Approve && slices.Contains(prev.Approvers, in.User) {
			return Output{}, Refuse(policy.Name, in.User, fmt.Errorf("%s has already approved gate %q; the same person cannot count twice", in.User, policy.Name))
		}
		next.Records = append(next.Records, workspace.Decision{
			User: in.User, Decision: in.Decision, Comment: in.Comment, Source: in.Source, Claims: in.Claims,
		})
		next.Decision, next.Verified, next.Reason = outcome(policy, &next, in)
	}
	if err := Check(policy, change.Author, cat, next); err != nil {
		return Output{}, fmt.Errorf("gate %q: recorded state would be inconsistent: %w", policy.Name, err)
	}
	if err := workspace.WriteJSON(in.Workspace, workspace.ApprovalFile(policy.Name), next); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	return Output{
		Approval:        next,
		Complete:        next.Decision == Approve && next.Verified,
		RequireComplete: in.RequireComplete,
	}, nil
}

// outcome folds an accepted decision into the gate's state.
func outcome(policy workspace.Gate, a *workspace.Approval, in Input) (decision string, verified bool, reason string) {
	if in.Decision == Reject {
		r := fmt.Sprintf("rejected by %s", in.User)
		if in.Comment != "" {
			r += ": " + in.Comment
		}
		return Reject, true, r
	}
	a.Approvers = append(a.Approvers, in.User)
	need := Needed(policy)
	if len(a.Approvers) >= need {
		return Approve, true, fmt.Sprintf("approved by %s", strings.Join(a.Approvers, ", "))
	}
	return Pending, false, fmt.Sprintf("needs %d distinct approvers, has %d (%s)", need, len(a.Approvers), strings.Join(a.Approvers, ", "))
}

func done(decision string) string {
	if decision == Reject {
		return "rejected"
	}
	return "approved"
}

// TimedOutReason is the reason recorded when a gate's deadline passes.
func TimedOutReason(timeout string) string {
	if timeout == "" {
		timeout = "its deadline"
	}
	return fmt.Sprintf("timed out after %s: a gate never approves by itself", timeout)
}

// Needed is how many distinct approvers the policy requires (at least one).
func Needed(policy workspace.Gate) int {
	return max(policy.Approvers, 1)
}

// Policy returns the policy of the gate called name from the workspace's
// graph.json. An unknown gate is bad input naming the gates there are.
func Policy(dir, name string) (workspace.Gate, error) {
	var g workspace.Graph
	if err := workspace.ReadJSON(dir, workspace.GraphFile, &g); err != nil {
		return workspace.Gate{}, exitcode.Input(fmt.Errorf("read graph: %w", err))
	}
	return PolicyIn(g, name)
}

// PolicyIn returns the policy of the gate called name in g.
func PolicyIn(g workspace.Graph, name string) (workspace.Gate, error) {
	var names []string
	for _, n := range g.Nodes {
		if n.Gate == nil {
			continue
		}
		if n.Gate.Name == name && n.ID == NodePrefix+name {
			return *n.Gate, nil
		}
		names = append(names, n.Gate.Name)
	}
	known := "there are no gates"
	if len(names) > 0 {
		slices.Sort(names)
		known = "gates: " + strings.Join(names, ", ")
	}
	return workspace.Gate{}, exitcode.Inputf("%s: unknown gate %q (%s)", workspace.GraphFile, name, known)
}

// ReadCatalog reads the catalog classify recorded in the workspace.
func ReadCatalog(dir string) (*catalog.Catalog, error) {
	var c catalog.Catalog
	if err := workspace.ReadJSON(dir, workspace.CatalogFile, &c); err != nil {
		return nil, exitcode.Input(fmt.Errorf("read catalog: %w", err))
	}
	return &c, nil
}

// readApproval returns the gate's recorded state, or a fresh pending one.
func readApproval(dir string, policy workspace.Gate) (workspace.Approval, error) {
	var a workspace.Approval
	err := workspace.ReadJSON(dir, workspace.ApprovalFile(policy.Name), &a)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return workspace.Approval{Gate: policy.Name, Decision: Pending, Approvers: []string{}, Policy: policy, Records: []workspace.Decision{}}, nil
	case err != nil:
		return a, exitcode.Input(fmt.Errorf("read approval: %w", err))
	}
	if a.Approvers == nil {
		a.Approvers = []string{}
	}
	if a.Records == nil {
		a.Records = []workspace.Decision{}
	}
	if err := samePolicy(a.Policy, policy); err != nil {
		return a, exitcode.Input(fmt.Errorf("%s: %w", filepath.Join(dir, workspace.ApprovalFile(policy.Name)), err))
	}
	return a, nil
}
