package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// modelEnv are the settings that make a run ask a model.
var modelEnv = []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
	"GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_REGION", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL"}

// TestMain keeps the model settings of whoever runs the tests from reaching
// a real model: only the tests that start a fake one set them.
func TestMain(m *testing.M) {
	for _, k := range modelEnv {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

const request = "prepare staging for the api release and verify it is safe to promote"

var explicitFlags = []string{"--env", "staging", "--service", "api", "--goal", "prepare", "--goal", "verify", "--goal", "promote"}

// fakeModel points the SDK's own settings at a fake Gemini API.
func fakeModel(t *testing.T, replies ...geminitest.Reply) *geminitest.Server {
	t.Helper()
	srv := geminitest.New(t, geminitest.Script(replies...))
	t.Setenv("GEMINI_API_KEY", "test-key-from-env")
	t.Setenv("GOOGLE_GEMINI_BASE_URL", srv.URL)
	return srv
}

// outputs are the files a run decides: their bytes must not depend on how the
// request was read.
type outputs struct{ change, graph, workflow []byte }

// runOn runs the sample's destructive migration into a new workspace and
// returns the decided files and intent.json.
func runOn(t *testing.T, repo, cat string, extra ...string) (outputs, workspace.IntentRecord, string) {
	t.Helper()
	ws := t.TempDir()
	args := append([]string{"run", "--repo", repo, "--base", "app", "--head", "migration", "--catalog", cat, "--rules", shippedRules, "--workspace", ws}, extra...)
	_, errs := mustCode(t, exitcode.Pending, args...)
	var o outputs
	for _, f := range []struct {
		name string
		to   *[]byte
	}{{workspace.ChangeFile, &o.change}, {workspace.GraphFile, &o.graph}, {workspace.WorkflowFile, &o.workflow}} {
		b, err := os.ReadFile(filepath.Join(ws, f.name))
		if err != nil {
			t.Fatal(err)
		}
		*f.to = b
	}
	var rec workspace.IntentRecord
	if err := workspace.ReadJSON(ws, workspace.IntentFile, &rec); err != nil {
		t.Fatalf("read intent.json: %v", err)
	}
	var audit workspace.AuditEntry
	if err := workspace.ReadJSON(ws, workspace.AuditFile("classify"), &audit); err != nil || audit.Outputs[workspace.IntentFile] == "" {
		t.Errorf("the classify audit entry does not cover intent.json: %+v (%v)", audit.Outputs, err)
	}
	return o, rec, errs
}

func sameBytes(t *testing.T, what string, got, want outputs, withChange bool) {
	t.Helper()
	if !bytes.Equal(got.graph, want.graph) {
		t.Errorf("%s: graph.json differs:\n%s\nwant:\n%s", what, got.graph, want.graph)
	}
	if !bytes.Equal(got.workflow, want.workflow) {
		t.Errorf("%s: workflow.yaml differs", what)
	}
	if withChange && !bytes.Equal(got.change, want.change) {
		t.Errorf("%s: change.json differs:\n%s\nwant:\n%s", what, got.change, want.change)
	}
}

func changeIntent(t *testing.T, o outputs) (workspace.Change, string) {
	t.Helper()
	var c workspace.Change
	if err := json.Unmarshal(o.change, &c); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Intent)
	return c, string(b)
}

// TestRequestGivesTheSameRunAsFlags: the request read by the keyword parser
// and the same intent given as flags give byte-identical graph.json and
// workflow.yaml, and change.json differs only by the recorded request text.
func TestRequestGivesTheSameRunAsFlags(t *testing.T) {
	repo, cat := sampleRepo(t)
	byFlags, flagRec, _ := runOn(t, repo, cat, explicitFlags...)
	byText, textRec, _ := runOn(t, repo, cat, "--request", request)
	sameBytes(t, "--request vs flags", byText, byFlags, false)
	cf, fi := changeIntent(t, byFlags)
	ct, ti := changeIntent(t, byText)
	if fi != ti || fi != `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}` {
		t.Errorf("change.json intent by flags %s, by request %s", fi, ti)
	}
	if ct.Request != request || cf.Request != "" {
		t.Errorf("change.json requests %q and %q", ct.Request, cf.Request)
	}
	ct.Request = ""
	a, _ := json.Marshal(ct)
	b, _ := json.Marshal(cf)
	if !bytes.Equal(a, b) {
		t.Errorf("change.json differs beyond the request text:\n%s\n%s", a, b)
	}
	if flagRec.Source != workspace.IntentFromFlags || textRec.Source != workspace.IntentFromDeterministic {
		t.Errorf("intent sources %q and %q, want flags and deterministic", flagRec.Source, textRec.Source)
	}
	// The request routes: the plan node names the request's rule.
	if !bytes.Contains(byText.graph, []byte("route.plan-requested")) {
		t.Errorf("graph.json does not show that the request asked for the plan:\n%s", byText.graph)
	}
	without, _, _ := runOn2(t, repo, cat)
	if bytes.Equal(without.graph, byText.graph) {
		t.Errorf("a request changes nothing in graph.json; the route rule did not see it")
	}
}

// runOn2 is runOn for a run without any intent (no intent.json).
func runOn2(t *testing.T, repo, cat string) (outputs, string, string) {
	t.Helper()
	ws := t.TempDir()
	_, errs := mustCode(t, exitcode.Pending, "run", "--repo", repo, "--base", "app", "--head", "migration", "--catalog", cat, "--rules", shippedRules, "--workspace", ws)
	g, _ := os.ReadFile(filepath.Join(ws, workspace.GraphFile))
	if _, err := os.Stat(filepath.Join(ws, workspace.IntentFile)); err == nil {
		t.Errorf("a run without request or intent flags wrote intent.json")
	}
	return outputs{graph: g}, ws, errs
}

const agreeing = `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}`

// TestModelGivesTheSameRunAsFlags: with a model configured (the SDK's own
// GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL settings), the model reads the
// request and the run is byte-identical to the flags' and to the keyword
// parser's.
func TestModelGivesTheSameRunAsFlags(t *testing.T) {
	repo, cat := sampleRepo(t)
	byFlags, _, _ := runOn(t, repo, cat, explicitFlags...)
	byKeywords, _, _ := runOn(t, repo, cat, "--request", request)
	srv := fakeModel(t, geminitest.Reply{Text: agreeing})
	byModel, rec, errs := runOn(t, repo, cat, "--request", request, "--model", "gemini-test")
	sameBytes(t, "model vs flags", byModel, byFlags, false)
	sameBytes(t, "model vs keywords", byModel, byKeywords, true)
	if rec.Source != workspace.IntentFromModel || rec.Model != "gemini-test" || len(rec.Calls) != 1 || !rec.Calls[0].Used {
		t.Errorf("intent.json = %+v, want the model's reading", rec)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Model != "gemini-test" || reqs[0].APIKey != "test-key-from-env" {
		t.Fatalf("the fake model saw %+v", reqs)
	}
	if strings.Contains(errs, "test-key-from-env") {
		t.Errorf("the log holds the API key:\n%s", errs)
	}
	if !strings.Contains(errs, "model configured") {
		t.Errorf("the log does not say a model is used:\n%s", errs)
	}
}

// TestHostileModelChangesNothing: whatever the model answers, and however it
// fails, change.json, graph.json and workflow.yaml are byte-identical to the
// run without a model, and the run takes no longer than the model budget.
func TestHostileModelChangesNothing(t *testing.T) {
	repo, cat := sampleRepo(t)
	baseline, _, _ := runOn(t, repo, cat, "--request", request)
	for _, tc := range []struct {
		name    string
		replies []geminitest.Reply
		source  string
		note    string
	}{
		{"a lower risk tier", []geminitest.Reply{{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"],"risk":"low"}`}},
			workspace.IntentFromDeterministic, `unknown field "risk"`},
		{"invented services", []geminitest.Reply{{Text: `{"environment":"staging","services":["api","payments"],"goals":["prepare"]}`}},
			workspace.IntentFromDeterministic, `services[1] "payments" is not a service in the catalog`},
		{"an instruction to skip a gate", []geminitest.Reply{{Text: `{"services":["api"],"goals":["prepare","skip-gate:migration"],"gates":{"migration":"skip"}}`}},
			workspace.IntentFromDeterministic, `unknown field "gates"`},
		{"a secret-looking string", []geminitest.Reply{{Text: `{"services":["api"],"goals":["promote"],"revision":"AKIAABCDEFGHIJKLMNOP"}`}},
			workspace.IntentFromDeterministic, "the answer holds a secret-looking value"},
		{"malformed JSON", []geminitest.Reply{{Text: `{"services":["api"],"goals":["prepare"`}},
			workspace.IntentFromDeterministic, "the answer is not a JSON object"},
		{"429s then success", []geminitest.Reply{{Status: 429, RetryDelay: "0.1s"}, {Status: 429, RetryAfter: "1"}, {Text: agreeing}},
			workspace.IntentFromModel, "model and keyword parser agree"},
		{"500s", []geminitest.Reply{{Status: 500}},
			workspace.IntentFromDeterministic, "model gave no usable answer: status 500 INTERNAL after "},
		{"a hang beyond the budget", []geminitest.Reply{{Hang: true}},
			workspace.IntentFromDeterministic, "no answer within 1.5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeModel(t, tc.replies...)
			start := time.Now()
			got, rec, errs := runOn(t, repo, cat, "--request", request, "--model-budget", "1.5s")
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("the run took %s with a 1.5s model budget", d)
			}
			sameBytes(t, tc.name, got, baseline, true)
			if rec.Source != tc.source || !strings.Contains(strings.Join(rec.Notes, "\n"), tc.note) {
				t.Errorf("intent.json source %s notes %q, want %s with %q", rec.Source, rec.Notes, tc.source, tc.note)
			}
			if len(srv.Requests()) == 0 {
				t.Errorf("the model was never asked")
			}
			b, _ := json.Marshal(rec)
			if bytes.Contains(b, []byte("AKIAABCDEFGHIJKLMNOP")) || strings.Contains(errs, "AKIAABCDEFGHIJKLMNOP") {
				t.Errorf("a secret-looking value reached intent.json or the log")
			}
		})
	}
}

func TestNoModelWithoutSettings(t *testing.T) {
	repo, cat := sampleRepo(t)
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: agreeing}))
	t.Setenv("GOOGLE_GEMINI_BASE_URL", srv.URL) // an endpoint, but no key
	_, rec, _ := runOn(t, repo, cat, "--request", request)
	if rec.Source != workspace.IntentFromDeterministic || rec.Model != "" || len(srv.Requests()) != 0 {
		t.Errorf("without a key: source %s, model %q, %d requests; want the keyword parser alone", rec.Source, rec.Model, len(srv.Requests()))
	}
}

func TestBadIntentFlags(t *testing.T) {
	repo, cat := sampleRepo(t)
	_, errs := mustCode(t, exitcode.BadInput, "run", "--repo", repo, "--base", "app", "--head", "migration", "--catalog", cat,
		"--rules", shippedRules, "--workspace", t.TempDir(), "--service", "payments", "--goal", "skip-gates", "--env", "production")
	for _, want := range []string{`--service "payments": not a service in the catalog`, `--goal "skip-gates": not a goal`, `--env "production": not a pre-production environment`} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// TestReplayKeepsTheIntent: packet replay re-decides the recorded change,
// intent included, and reproduces the run without asking any model.
func TestReplayKeepsTheIntent(t *testing.T) {
	repo, cat := sampleRepo(t)
	srv := fakeModel(t, geminitest.Reply{Text: agreeing})
	ws := t.TempDir()
	mustCode(t, exitcode.OK, "run", "--repo", repo, "--base", "app", "--head", "migration", "--catalog", cat, "--rules", shippedRules,
		"--workspace", ws, "--request", request, "--approve", "migration=bob", "--approve", "migration=frank")
	asked := len(srv.Requests())
	mustCode(t, exitcode.OK, "packet", "verify", ws)
	mustCode(t, exitcode.OK, "packet", "replay", ws, "--rules", shippedRules)
	if len(srv.Requests()) != asked {
		t.Errorf("packet verify or replay asked the model")
	}
}
