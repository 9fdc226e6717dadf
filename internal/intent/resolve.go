// Package intent turns a release request into a structured intent
// (environment, services, goals, target revision) that the route rules can
// read as `change.intent`. A deterministic keyword parser always reads the
// request; when a model is configured it reads the request too, with
// structured output, and its answer is validated — known values only, names
// and revisions written in the request — and merged so that it can add goals
// the keywords missed but never take away what they found. A rejected or
// missing answer falls back to the parser, with a note. Explicit flags
// override both, field by field. intent.json records the result, the source
// (flags, deterministic, model), the notes and the model calls; change.json
// records only the intent, so that the same request gives the same
// change.json whichever way it was read.
package intent

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

// Input is what Resolve reads.
type Input struct {
	// Request is the plain-language request ("" for none).
	Request string
	// Explicit is what the intent flags say; a set field overrides the
	// request's.
	Explicit workspace.Intent
	// Services are the catalog's service names; CatalogFile names the
	// catalog in messages.
	Services    []string
	CatalogFile string
	// Model reads the request too when set; nil uses the keyword parser alone.
	Model llm.Client
}

// Result is the resolved intent and its record; both are nil when there was
// neither a request nor an intent flag.
type Result struct {
	Intent *workspace.Intent
	Record *workspace.IntentRecord
}

// Purpose is the audit purpose of the intent call.
const Purpose = "intent"

// Resolve reads the request and the explicit intent. Its only error is bad
// explicit input (exit code 2); a model that fails or answers wrongly is a
// note, never an error.
func Resolve(ctx context.Context, in Input) (Result, error) {
	if err := CheckExplicit(in.Explicit, in.Services, in.CatalogFile); err != nil {
		return Result{}, err
	}
	flags := explicitFields(in.Explicit)
	if strings.TrimSpace(in.Request) == "" && len(flags) == 0 {
		return Result{}, nil
	}
	rec := &workspace.IntentRecord{Request: in.Request, Source: workspace.IntentFromFlags, Flags: flags, Notes: []string{}}
	it := workspace.Intent{Services: []string{}, Goals: []string{}}
	if strings.TrimSpace(in.Request) != "" {
		p := parse(in.Request, in.Services)
		pi := canonical(p.intent)
		rec.Parsed = &pi
		rec.Notes = append(rec.Notes, p.notes...)
		it, rec.Source = pi, workspace.IntentFromDeterministic
		if in.Model != nil {
			rec.Model = in.Model.Model()
			if mi, ok := ask(ctx, in, p, rec); ok {
				it, rec.Source = mi, workspace.IntentFromModel
			}
		}
	}
	it = override(it, in.Explicit)
	if len(flags) > 0 && rec.Source != workspace.IntentFromFlags {
		rec.Notes = append(rec.Notes, "flags override the request for: "+strings.Join(flags, ", "))
	}
	it = canonical(it)
	rec.Intent = it
	return Result{Intent: &it, Record: rec}, nil
}

// explicitFields names the fields the explicit intent sets.
func explicitFields(e workspace.Intent) []string {
	var out []string
	if e.Environment != "" {
		out = append(out, "environment")
	}
	if len(e.Services) > 0 {
		out = append(out, "services")
	}
	if len(e.Goals) > 0 {
		out = append(out, "goals")
	}
	if e.Revision != "" {
		out = append(out, "revision")
	}
	return out
}

func override(it, e workspace.Intent) workspace.Intent {
	if e.Environment != "" {
		it.Environment = e.Environment
	}
	if len(e.Services) > 0 {
		it.Services = slices.Clone(e.Services)
	}
	if len(e.Goals) > 0 {
		it.Goals = slices.Clone(e.Goals)
	}
	if e.Revision != "" {
		it.Revision = e.Revision
	}
	return it
}

// modelInput is what the model sees: the redacted request and the
// vocabulary it must choose from.
type modelInput struct {
	Request      string            `json:"request"`
	Services     []string          `json:"services"`
	Environments []string          `json:"environments"`
	Goals        map[string]string `json:"goals"`
}

// ModelRequest returns the model request that reads text.
func ModelRequest(text string, services []string) (llm.Request, error) {
	schema, err := ResponseSchema(services)
	if err != nil {
		return llm.Request{}, err
	}
	return llm.Request{
		Purpose: Purpose,
		Prompt:  prompts.Must(prompts.Intent),
		Input: modelInput{Request: llm.Redact(text), Services: slices.Clone(services),
			Environments: Environments, Goals: GoalMeanings},
		Schema: schema,
		// Room for a thinking model's thoughts; the answer itself is short.
		MaxOutputTokens: 2048,
	}, nil
}

// ask calls the model, validates and merges its answer, and records the
// call in rec. ok is false when the parser's intent stands; the reason is in
// rec.Notes and in the call's note.
func ask(ctx context.Context, in Input, p parsed, rec *workspace.IntentRecord) (workspace.Intent, bool) {
	req, err := ModelRequest(in.Request, in.Services)
	if err != nil {
		rec.Notes = append(rec.Notes, "model not asked: "+err.Error())
		return workspace.Intent{}, false
	}
	a, err := in.Model.Generate(ctx, req)
	call := a.Call
	reject := func(why string) (workspace.Intent, bool) {
		call.Used, call.Note = false, why
		rec.Calls = append(rec.Calls, call)
		rec.Notes = append(rec.Notes, why+"; using the keyword parser's intent")
		return workspace.Intent{}, false
	}
	if err != nil {
		return reject("model gave no usable answer: " + err.Error())
	}
	mi, problems := checkModel(a.Text, p, in.Services)
	if len(problems) > 0 {
		return reject("model intent rejected: " + strings.Join(problems, "; "))
	}
	merged, notes, conflict := merge(canonical(p.intent), mi)
	if conflict != "" {
		return reject("model intent rejected: " + conflict)
	}
	call.Used = true
	rec.Calls = append(rec.Calls, call)
	rec.Notes = append(rec.Notes, notes...)
	return merged, true
}

// merge adds the model's reading to the parser's: the model may add goals,
// services, an environment or a revision the keywords missed (all already
// checked against the request), never remove one.
func merge(parsed, model workspace.Intent) (workspace.Intent, []string, string) {
	out := parsed
	var notes []string
	if out.Environment == "" && model.Environment != "" {
		out.Environment = model.Environment
		notes = append(notes, fmt.Sprintf("model read environment %s, which the keywords missed", model.Environment))
	}
	if out.Revision == "" && model.Revision != "" {
		out.Revision = model.Revision
		notes = append(notes, fmt.Sprintf("model read revision %s, which the keywords missed", model.Revision))
	}
	var added, missed []string
	for _, g := range model.Goals {
		if !slices.Contains(parsed.Goals, g) {
			added = append(added, g)
		}
	}
	for _, g := range parsed.Goals {
		if !slices.Contains(model.Goals, g) {
			missed = append(missed, g)
		}
	}
	goals := append(slices.Clone(parsed.Goals), added...)
	if slices.Contains(goals, GoalScanOnly) && len(goals) > 1 {
		return parsed, nil, fmt.Sprintf("goals %s: %s excludes every other goal", strings.Join(canonical(workspace.Intent{Goals: goals}).Goals, ", "), GoalScanOnly)
	}
	out.Goals = goals
	if len(added) > 0 {
		notes = append(notes, "model read goal(s) the keywords missed: "+strings.Join(added, ", "))
	}
	if len(missed) > 0 {
		notes = append(notes, "model left out goal(s) the keywords found, kept: "+strings.Join(missed, ", "))
	}
	var svcAdded []string
	for _, s := range model.Services {
		if !slices.Contains(parsed.Services, s) {
			svcAdded = append(svcAdded, s)
		}
	}
	out.Services = append(slices.Clone(parsed.Services), svcAdded...)
	if len(svcAdded) > 0 {
		notes = append(notes, "model read service(s) the keywords ignored: "+strings.Join(svcAdded, ", "))
	}
	if len(notes) == 0 {
		notes = append(notes, "model and keyword parser agree")
	}
	return canonical(out), notes, ""
}
