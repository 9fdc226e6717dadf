// Package runner is the local driver behind `rehearsal run` and `rehearsal
// approve`: it executes graph.json in dependency order, in-process, with the same
// step packages and workspace files as the Argo templates. Independent nodes run
// concurrently. It is a thin driver for trying the product, not a workflow
// engine: no retries, no scheduling. A node's state lives in the workspace (its
// audit entry, or for a gate its approval record), so a run can stop at a gate
// and be continued by another process.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/version"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// StepFunc executes one node of a step kind in the workspace and names the
// workspace files it read and wrote, for the node's audit entry.
type StepFunc func(ctx context.Context, node workspace.Node) (Files, error)

// Files are workspace-relative paths a step read (Inputs) and wrote (Outputs).
type Files struct {
	Inputs, Outputs []string
}

// Runner executes a workspace's graph.
type Runner struct {
	Workspace string
	// Steps executes nodes by step name. Gate nodes are not executed: their state
	// is their approval record.
	Steps map[string]StepFunc
	Log   *slog.Logger
	// Now is the clock for audit entries.
	Now func() time.Time
}

// Result says where the run stands.
type Result struct {
	Done     []string         // node ids complete
	Waiting  []workspace.Node // gate nodes awaiting approval
	Rejected []string         // gates rejected
	Failed   map[string]error // nodes whose step failed
}

// Complete reports whether every node is done.
func (r Result) Complete() bool {
	return len(r.Waiting) == 0 && len(r.Rejected) == 0 && len(r.Failed) == 0
}

// Continue runs every node whose dependencies are done, level by level, until
// nothing more can run.
func (r *Runner) Continue(ctx context.Context) (Result, error) {
	var g workspace.Graph
	if err := workspace.ReadJSON(r.Workspace, workspace.GraphFile, &g); err != nil {
		return Result{}, fmt.Errorf("read graph: %w", err)
	}
	res := Result{Failed: map[string]error{}}
	done := map[string]bool{}
	blocked := map[string]bool{} // waiting, rejected or failed: their dependants do not run
	succeeded, err := r.succeededNodes()
	if err != nil {
		return res, err
	}
	for {
		var ready []workspace.Node
		for _, n := range g.Nodes {
			if done[n.ID] || blocked[n.ID] {
				continue
			}
			if !depsDone(n, done) {
				continue
			}
			ready = append(ready, n)
		}
		if len(ready) == 0 {
			break
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, n := range ready {
			if n.Gate != nil {
				st, err := r.gateState(n)
				if err != nil {
					return res, err
				}
				switch st {
				case "approved":
					done[n.ID] = true
				case "rejected":
					blocked[n.ID] = true
					res.Rejected = append(res.Rejected, n.Gate.Name)
				default:
					blocked[n.ID] = true
					res.Waiting = append(res.Waiting, n)
				}
				continue
			}
			if succeeded[n.ID] {
				done[n.ID] = true
				continue
			}
			fn, ok := r.Steps[n.Step]
			if !ok {
				return res, fmt.Errorf("node %s: no local executor for step %q", n.ID, n.Step)
			}
			wg.Add(1)
			go func(n workspace.Node) {
				defer wg.Done()
				err := r.exec(ctx, n, fn)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					blocked[n.ID] = true
					res.Failed[n.ID] = err
					return
				}
				done[n.ID] = true
			}(n)
		}
		wg.Wait()
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	for _, n := range g.Nodes {
		if done[n.ID] {
			res.Done = append(res.Done, n.ID)
		}
	}
	sort.Slice(res.Waiting, func(i, j int) bool { return res.Waiting[i].ID < res.Waiting[j].ID })
	sort.Strings(res.Rejected)
	return res, nil
}

func depsDone(n workspace.Node, done map[string]bool) bool {
	for _, d := range n.DependsOn {
		if !done[d] {
			return false
		}
	}
	return true
}

// gateState reads a gate's approval record: approved, rejected or pending.
func (r *Runner) gateState(n workspace.Node) (string, error) {
	var a workspace.Approval
	err := workspace.ReadJSON(r.Workspace, workspace.ApprovalFile(n.Gate.Name), &a)
	if errors.Is(err, fs.ErrNotExist) {
		return "pending", nil
	}
	if err != nil {
		return "", fmt.Errorf("read approval of gate %s: %w", n.Gate.Name, err)
	}
	switch {
	case a.Decision == "reject":
		return "rejected", nil
	case a.Decision == "approve" && a.Verified:
		return "approved", nil
	}
	return "pending", nil
}

// succeededNodes reads the audit entries once: the nodes that already ran to
// success in an earlier Continue (this one tracks its own in done).
func (r *Runner) succeededNodes() (map[string]bool, error) {
	entries, err := workspace.ReadAudit(r.Workspace)
	if err != nil {
		return nil, err
	}
	ok := map[string]bool{}
	for _, e := range entries {
		if e.ExitCode == 0 {
			ok[e.Node] = true
		}
	}
	return ok, nil
}

func (r *Runner) exec(ctx context.Context, n workspace.Node, fn StepFunc) error {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	start := now().UTC()
	if r.Log != nil {
		r.Log.Info("node started", "node", n.ID, "step", n.Step)
	}
	files, err := fn(ctx, n)
	entry := workspace.AuditEntry{Step: n.Step, Node: n.ID, Start: workspace.AuditTime(start), End: workspace.AuditTime(now()),
		ExitCode: exitcode.Code(err), Version: version.Version}
	if werr := workspace.Record(r.Workspace, entry, files.Inputs, files.Outputs); werr != nil {
		return errors.Join(err, werr)
	}
	if r.Log != nil {
		r.Log.Info("node finished", "node", n.ID, "step", n.Step, "error", err)
	}
	return err
}
