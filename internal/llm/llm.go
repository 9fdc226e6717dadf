// Package llm wraps the Gemini API (google.golang.org/genai) for the few
// things Rehearsal asks a model: read a request into an intent, and explain
// findings, gates and a packet. Every call has a timeout, retries 429 and 5xx
// answers with backoff (honouring Retry-After), and spends from one budget per
// run; an outage costs at most that budget and never fails the run. Every call
// leaves an audit record (Call) with the model, the prompt file's id and
// digest, request and response digests, latency and token counts; a Replay
// client answers from those records without the network.
//
// Nothing here decides anything: callers validate every answer and fall back
// to deterministic text or parsing when it does not pass.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/genai"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

// DefaultModel is the model used when none is named.
const DefaultModel = "gemini-2.5-flash"

// Call is the audit record of one model call.
type Call = workspace.LLMCall

// Request is one question to the model: a versioned prompt (the system
// instruction) and a structured, already redacted input (the user message,
// sent as JSON).
type Request struct {
	// Purpose and Subject go into the audit record.
	Purpose string
	Subject string
	Prompt  prompts.Prompt
	// Input is marshalled to canonical JSON; it must hold no secret.
	Input any
	// Schema, when set, asks for JSON matching it (structured output);
	// otherwise the answer is plain text.
	Schema *genai.Schema
	// MaxOutputTokens bounds the answer (0: 1024).
	MaxOutputTokens int32
}

// Answer is the model's text with the call's audit record.
type Answer struct {
	Text string
	Call Call
}

// Client asks a model. Generate returns an error when there is no answer to
// use (the Answer's Call still records what happened); the error's text is
// safe to log and record: it holds no secret and no response body.
type Client interface {
	Model() string
	Generate(ctx context.Context, req Request) (Answer, error)
}

// ErrBudget is returned, wrapped, when the run's model budget is spent.
var ErrBudget = errors.New("model budget exhausted")

// ErrUnavailable is returned, wrapped, when an earlier call of the run found
// the model unavailable; later calls do not try again.
var ErrUnavailable = errors.New("model unavailable earlier in this run")

const defaultMaxOutputTokens = 1024

// canonical is the request in the form its digest covers.
type canonical struct {
	Model           string          `json:"model"`
	Prompt          string          `json:"prompt"`
	PromptDigest    string          `json:"promptDigest"`
	Input           json.RawMessage `json:"input"`
	Schema          *genai.Schema   `json:"schema,omitempty"`
	MaxOutputTokens int32           `json:"maxOutputTokens"`
	Temperature     float32         `json:"temperature"`
}

// encode returns the user message (the input as JSON) and the call record
// started with the request's identity.
func (r Request) encode(model string) (user string, call Call, err error) {
	in, err := workspace.Marshal(r.Input)
	if err != nil {
		return "", Call{}, fmt.Errorf("encode %s input: %w", r.Purpose, err)
	}
	max := r.MaxOutputTokens
	if max <= 0 {
		max = defaultMaxOutputTokens
	}
	c := canonical{Model: model, Prompt: r.Prompt.ID, PromptDigest: r.Prompt.Digest,
		Input: json.RawMessage(in), Schema: r.Schema, MaxOutputTokens: max}
	b, err := workspace.Marshal(c)
	if err != nil {
		return "", Call{}, fmt.Errorf("encode %s request: %w", r.Purpose, err)
	}
	return string(in), Call{
		Purpose: r.Purpose, Subject: r.Subject, Model: model,
		Prompt: r.Prompt.ID, PromptDigest: r.Prompt.Digest, RequestDigest: workspace.Digest(b),
	}, nil
}

// RequestDigest returns the digest a call for req to model records; a
// replay looks the recorded call up by it.
func RequestDigest(model string, req Request) (string, error) {
	_, c, err := req.encode(model)
	return c.RequestDigest, err
}

// record fills the response part of call: digest, the text (secret-looking
// values replaced) and the redaction flag.
func record(call *Call, text string) {
	call.ResponseDigest = workspace.Digest([]byte(text))
	red, n := redact(text, ResponseMarker)
	call.Response = red
	call.ResponseRedacted = n > 0
}
