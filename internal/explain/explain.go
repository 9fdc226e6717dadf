// Package explain writes the reviewer-facing explanations of a run: one per
// blocking finding, one per gate, and a summary of the packet. Deterministic
// templates always write them; when a model is configured it may write them
// instead, from redacted, structured inputs only, and its text is used only
// when it passes every check (length, no command, no link, no secret-looking
// string, no suggestion to skip a control or grant an exception, no claim
// that contradicts the verdict, the risk tier or a gate's tier). A dropped
// answer leaves the template text, with a note saying why.
//
// Explanations are words about decisions already made: nothing here reads
// or changes a class, a risk tier, a gate, a blocker or a plan.
//
// The packet step uses it after deciding the verdict:
//
//	res, calls := explain.Packet(ctx, client, in) // client nil: templates only
//	rec := explain.Record{Explanations: res, Calls: calls}
//	workspace.WriteJSON(dir, workspace.ExplanationsFile, rec)
//
// and a replay reproduces the same Result from the record, without the
// network: explain.Packet(ctx, llm.NewReplay(rec.Model, rec.Calls), in).
package explain

import (
	"context"
	"fmt"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

// Finding is one finding with the fixed keys of findings.json.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Blocker  bool   `json:"blocker"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// Input is what the explanations are about. Every field was decided by
// rules and people before; Packet only reads it.
type Input struct {
	// Verdict is approved | rejected | blocked | pending; Reason says why.
	Verdict   string               `json:"verdict"`
	Reason    string               `json:"reason"`
	Change    workspace.Change     `json:"change"`
	Graph     workspace.Graph      `json:"graph"`
	Approvals []workspace.Approval `json:"approvals"`
	// Findings are the scan's findings that no exception covers; blockers
	// are explained, the rest only counted.
	Findings []Finding `json:"findings"`
	// Plan is the deploy plan, when one was made.
	Plan *workspace.Plan `json:"plan,omitempty"`
	// RuleMessages are the messages of the rules the graph names, by id
	// (gate rules fire in the coordinator, which records only their ids).
	RuleMessages map[string]string `json:"ruleMessages,omitempty"`
}

// Kinds of explanation.
const (
	KindFinding = "finding"
	KindGate    = "gate"
	KindSummary = "summary"
)

// Sources of an explanation's text.
const (
	FromTemplate = "template"
	FromModel    = "model"
)

// Explanation is one explanation.
type Explanation struct {
	Kind string `json:"kind"`
	// Subject names what it explains: rule@file:line for a finding, the
	// gate's name, or "packet".
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Source is template or model.
	Source string `json:"source"`
	// Note says why a model's text was not used.
	Note string `json:"note,omitempty"`
}

// Result holds every explanation of a packet.
type Result struct {
	Findings []Explanation `json:"findings"`
	Gates    []Explanation `json:"gates"`
	Summary  Explanation   `json:"summary"`
}

// Record is what the packet step writes to workspace.ExplanationsFile: the
// explanations and the model calls behind them (replayable).
type Record struct {
	Model        string     `json:"model,omitempty"`
	Explanations Result     `json:"explanations"`
	Calls        []llm.Call `json:"calls"`
}

// Length bounds, in characters, of a model's text.
const (
	MaxFindingText = 600
	MaxGateText    = 600
	MaxSummaryText = 1200
)

// maxOutputTokens leaves room for a thinking model's thoughts; the text is
// bounded by the character limits, which Check enforces.
const maxOutputTokens = 2048

// MaxModelFindings is how many blockers are sent to the model; the rest keep
// their template text.
const MaxModelFindings = 10

// Audit purposes of the calls.
const (
	PurposeFinding = "explain-finding"
	PurposeGate    = "explain-gate"
	PurposeSummary = "packet-summary"
)

// Packet writes every explanation of in: with templates, and with client's
// text where it passes the checks. client may be nil (templates only) or an
// llm.Replay (the recorded answers, no network). It never fails: a model
// error or a dropped answer is a note. The calls are returned for the
// packet's audit.
func Packet(ctx context.Context, client llm.Client, in Input) (Result, []llm.Call) {
	res := Templates(in)
	if client == nil {
		return res, nil
	}
	var calls []llm.Call
	ask := func(e *Explanation, purpose, prompt string, input any, limit int, tier string) {
		req := llm.Request{Purpose: purpose, Subject: e.Subject, Prompt: prompts.Must(prompt), Input: input, MaxOutputTokens: maxOutputTokens}
		a, err := client.Generate(ctx, req)
		call := a.Call
		if err != nil {
			e.Note = "model text not used: " + err.Error()
		} else if why := Check(a.Text, e.Kind, in, tier, limit); why != "" {
			e.Note = "model text dropped: " + why
		} else {
			e.Text, e.Source = strings.TrimSpace(a.Text), FromModel
			call.Used = true
		}
		call.Note = e.Note
		calls = append(calls, call)
	}
	blockers := blocking(in.Findings)
	for i := range res.Findings {
		if i >= MaxModelFindings {
			res.Findings[i].Note = fmt.Sprintf("not sent to the model: only the first %d blockers are", MaxModelFindings)
			continue
		}
		ask(&res.Findings[i], PurposeFinding, prompts.ExplainFinding, findingInput(in, blockers[i]), MaxFindingText, "")
	}
	gates := gateNodes(in.Graph)
	for i := range res.Gates {
		g := gates[i].Gate
		ask(&res.Gates[i], PurposeGate, prompts.ExplainGate, gateInput(in, gates[i]), MaxGateText, g.Tier)
	}
	ask(&res.Summary, PurposeSummary, prompts.PacketSummary, summaryInput(in), MaxSummaryText, "")
	return res, calls
}

func blocking(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Blocker {
			out = append(out, f)
		}
	}
	return out
}

func gateNodes(g workspace.Graph) []workspace.Node {
	var out []workspace.Node
	for _, n := range g.Nodes {
		if n.Gate != nil {
			out = append(out, n)
		}
	}
	return out
}

func findingSubject(f Finding) string {
	s := f.Rule + "@" + f.File
	if f.Line > 0 {
		s += fmt.Sprintf(":%d", f.Line)
	}
	return s
}
