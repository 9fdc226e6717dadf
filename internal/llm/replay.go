package llm

import (
	"context"
	"errors"
	"fmt"
)

// Replay answers from recorded calls, never from the network: a request is
// looked up by its digest, and the recorded response (or the recorded
// failure) is returned again. Use it to reproduce a run's explanations or
// intent from its records.
type Replay struct {
	model string
	calls map[string]Call
}

var _ Client = (*Replay)(nil)

// NewReplay returns a client for model that serves calls. When several calls
// share a request digest, the last one wins.
func NewReplay(model string, calls []Call) *Replay {
	r := &Replay{model: model, calls: map[string]Call{}}
	for _, c := range calls {
		r.calls[c.RequestDigest] = c
	}
	return r
}

// Model returns the recorded model's name.
func (r *Replay) Model() string { return r.model }

// Generate returns the recorded answer to req.
func (r *Replay) Generate(ctx context.Context, req Request) (Answer, error) {
	_, call, err := req.encode(r.model)
	if err != nil {
		return Answer{Call: call}, err
	}
	rec, ok := r.calls[call.RequestDigest]
	if !ok {
		call.Replayed = true
		call.Error = fmt.Sprintf("no recorded answer for this %s request (%s)", req.Purpose, call.RequestDigest)
		return Answer{Call: call}, errors.New(call.Error)
	}
	rec.Replayed = true
	rec.Used, rec.Note = false, ""
	if rec.Error != "" {
		return Answer{Text: rec.Response, Call: rec}, errors.New(rec.Error)
	}
	return Answer{Text: rec.Response, Call: rec}, nil
}
