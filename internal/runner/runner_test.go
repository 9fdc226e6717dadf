package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func writeGraph(t *testing.T, ws string, nodes ...workspace.Node) {
	t.Helper()
	if err := workspace.WriteJSON(ws, workspace.GraphFile, workspace.Graph{Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
}

func node(id, step string, deps ...string) workspace.Node {
	return workspace.Node{ID: id, Step: step, DependsOn: deps}
}

func gateNode(name string, deps ...string) workspace.Node {
	n := node("gate-"+name, "gate", deps...)
	n.Gate = &workspace.Gate{Name: name, Tier: "high", Approvers: 1}
	return n
}

func TestContinueOrderAndConcurrency(t *testing.T) {
	ws := t.TempDir()
	// a and b are independent; c needs both; the gate guards d.
	writeGraph(t, ws, node("a", "work"), node("b", "work"), node("c", "work", "a", "b"), gateNode("promote", "c"), node("d", "work", "gate-promote"))
	var mu sync.Mutex
	var order []string
	// a and b meet at a barrier: it opens only if both run at the same time.
	var barrier sync.WaitGroup
	barrier.Add(2)
	met := make(chan struct{})
	go func() { barrier.Wait(); close(met) }()
	together := true
	r := &Runner{Workspace: ws, Steps: map[string]StepFunc{"work": func(ctx context.Context, n workspace.Node) (Files, error) {
		mu.Lock()
		order = append(order, n.ID)
		mu.Unlock()
		if n.ID == "a" || n.ID == "b" {
			barrier.Done()
			select {
			case <-met:
			case <-time.After(30 * time.Second): // only reached when run one after the other
				mu.Lock()
				together = false
				mu.Unlock()
			}
		}
		out := n.ID + ".out"
		return Files{Inputs: []string{workspace.GraphFile}, Outputs: []string{out}}, os.WriteFile(filepath.Join(ws, out), []byte(n.ID), 0o644)
	}}}
	res, err := r.Continue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !together {
		t.Errorf("a and b did not run at the same time")
	}
	first := append([]string(nil), order[:2]...)
	sort.Strings(first)
	if strings.Join(first, ",") != "a,b" || order[2] != "c" || len(order) != 3 {
		t.Errorf("order = %v, want a and b, then c, and d held by the gate", order)
	}
	if len(res.Waiting) != 1 || res.Waiting[0].Gate.Name != "promote" || res.Complete() {
		t.Errorf("Continue = %+v, want waiting at gate promote", res)
	}
	// Each node's audit entry holds the digests of the files it read and wrote.
	var e workspace.AuditEntry
	if err := workspace.ReadJSON(ws, workspace.AuditFile("c"), &e); err != nil {
		t.Fatal(err)
	}
	if e.Outputs["c.out"] != workspace.Digest([]byte("c")) || e.Inputs[workspace.GraphFile] == "" || e.ExitCode != 0 {
		t.Errorf("audit entry of c = %+v, want the digests of graph.json and c.out", e)
	}

	// Approve the gate: a second Continue runs only d (a, b, c have audit entries).
	if err := workspace.WriteJSON(ws, workspace.ApprovalFile("promote"), workspace.Approval{Gate: "promote", Decision: "approve", Verified: true}); err != nil {
		t.Fatal(err)
	}
	order = nil
	res, err = r.Continue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "d" || !res.Complete() {
		t.Errorf("after approval: ran %v, result %+v; want only d and complete", order, res)
	}
}

func TestContinueRejectedAndFailed(t *testing.T) {
	ws := t.TempDir()
	writeGraph(t, ws, gateNode("migration"), node("after", "work", "gate-migration"), node("boom", "fail"))
	workspace.WriteJSON(ws, workspace.ApprovalFile("migration"), workspace.Approval{Gate: "migration", Decision: "reject", Verified: true})
	ran := false
	r := &Runner{Workspace: ws, Steps: map[string]StepFunc{
		"work": func(context.Context, workspace.Node) (Files, error) { ran = true; return Files{}, nil },
		"fail": func(context.Context, workspace.Node) (Files, error) {
			return Files{}, exitcode.Infrastructure(errors.New("disk full"))
		},
	}}
	res, err := r.Continue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Errorf("a node behind a rejected gate ran")
	}
	if strings.Join(res.Rejected, ",") != "migration" || res.Failed["boom"] == nil {
		t.Errorf("Continue = %+v, want migration rejected and boom failed", res)
	}
	entries, err := workspace.ReadAudit(ws)
	if err != nil || len(entries) != 1 || entries[0].Node != "boom" || entries[0].ExitCode != exitcode.Infra {
		t.Errorf("audit = %+v (%v), want one entry for boom with the infrastructure exit code", entries, err)
	}
}

func TestContinueUnknownStep(t *testing.T) {
	ws := t.TempDir()
	writeGraph(t, ws, node("scan", "scan"))
	r := &Runner{Workspace: ws, Steps: map[string]StepFunc{}}
	if _, err := r.Continue(context.Background()); err == nil || !strings.Contains(err.Error(), `no local executor for step "scan"`) {
		t.Errorf("Continue = %v, want an error naming the step", err)
	}
}
