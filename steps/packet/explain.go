package packet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/explain"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// ModelCall is a model call in the packet's audit: what was asked, of which
// model, with which prompt, and digests of the request and the answer. The
// answers themselves are in intent.json and llm/explanations.json, which the
// packet's file digests cover, so the packet keeps only their digests.
type ModelCall = workspace.LLMCall

func modelCalls(calls []llm.Call) []ModelCall {
	out := []ModelCall{}
	for _, c := range calls {
		c.Response = ""
		out = append(out, c)
	}
	return out
}

// explainInput is what the explanations are about: the decided packet.
func explainInput(dir string, p Packet, findings *Findings) (explain.Input, error) {
	in := explain.Input{Verdict: p.Verdict, Reason: p.Reason, Change: p.Change, Graph: p.Graph, Approvals: p.Approvals}
	for _, f := range findings.Open() {
		in.Findings = append(in.Findings, explain.Finding{Rule: f.Rule, Severity: f.Severity, Blocker: f.Blocker, File: f.File,
			Line: f.Line, Resource: f.Resource, Message: f.Message, Fix: f.Fix})
	}
	var plan workspace.Plan
	if err := readOptional(dir, workspace.PlanFile, &plan); err != nil {
		return in, err
	}
	if plan.Steps != nil {
		in.Plan = &plan
	}
	in.RuleMessages = map[string]string{}
	for _, r := range p.Change.Rules {
		in.RuleMessages[r.ID] = r.Message
	}
	return in, nil
}

// explainRun writes explanations.json: templates always, the model's text
// where it passes the checks (client nil: templates only). It runs after the
// verdict is decided and cannot change it.
func explainRun(ctx context.Context, dir string, client llm.Client, p Packet, findings *Findings) (explain.Record, error) {
	in, err := explainInput(dir, p, findings)
	if err != nil {
		return explain.Record{}, err
	}
	res, calls := explain.Packet(ctx, client, in)
	rec := explain.Record{Explanations: res, Calls: calls}
	if rec.Calls == nil {
		rec.Calls = []llm.Call{}
	}
	if client != nil {
		rec.Model = client.Model()
	}
	if err := workspace.WriteJSON(dir, workspace.ExplanationsFile, rec); err != nil {
		return rec, exitcode.Infrastructure(err)
	}
	return rec, nil
}

// recordedCalls gathers the model calls of a workspace: intent.json's and
// explanations.json's, in that order.
func recordedCalls(dir string) ([]ModelCall, *explain.Record, error) {
	var calls []llm.Call
	var ir workspace.IntentRecord
	if err := readOptional(dir, workspace.IntentFile, &ir); err != nil {
		return nil, nil, err
	}
	calls = append(calls, ir.Calls...)
	var rec *explain.Record
	if _, err := os.Stat(filepath.Join(dir, workspace.ExplanationsFile)); err == nil {
		rec = &explain.Record{}
		if err := readOptional(dir, workspace.ExplanationsFile, rec); err != nil {
			return nil, nil, err
		}
		calls = append(calls, rec.Calls...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, exitcode.Infrastructure(fmt.Errorf("read %s: %w", workspace.ExplanationsFile, err))
	}
	return modelCalls(calls), rec, nil
}

// ReplayExplanations explains the packet in dir again from the recorded
// model answers (never the network) and reports whether every explanation
// comes out the same.
func ReplayExplanations(ctx context.Context, dir string, p Packet) (same bool, err error) {
	findings, err := readFindings(dir)
	if err != nil {
		return false, err
	}
	_, rec, err := recordedCalls(dir)
	if err != nil || rec == nil {
		return rec == nil && err == nil, err
	}
	in, err := explainInput(dir, p, findings)
	if err != nil {
		return false, err
	}
	var client llm.Client
	if rec.Model != "" {
		client = llm.NewReplay(rec.Model, rec.Calls)
	}
	res, _ := explain.Packet(ctx, client, in)
	a, _ := workspace.Marshal(res)
	b, _ := workspace.Marshal(rec.Explanations)
	return string(a) == string(b), nil
}
