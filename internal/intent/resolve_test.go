package intent

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const example = "prepare staging for the api release and verify it is safe to promote"

var exampleIntent = it("staging", []string{"api"}, []string{"prepare", "verify", "promote"}, "")

func model(t *testing.T, replies ...geminitest.Reply) (*geminitest.Server, llm.Client) {
	t.Helper()
	for _, k := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GEMINI_BASE_URL"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
	srv := geminitest.New(t, geminitest.Script(replies...))
	c, err := llm.New(context.Background(), llm.Options{APIKey: "test-key", BaseURL: srv.URL, MaxAttempts: 3,
		BaseDelay: time.Millisecond, CallTimeout: 300 * time.Millisecond, Budget: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func resolve(t *testing.T, in Input) Result {
	t.Helper()
	if in.Services == nil {
		in.Services = catalogServices
	}
	r, err := Resolve(context.Background(), in)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return r
}

func TestResolveWithoutRequestOrFlags(t *testing.T) {
	if r := resolve(t, Input{}); r.Intent != nil || r.Record != nil {
		t.Errorf("Resolve() = %+v, want nothing", r)
	}
}

func TestResolveFlags(t *testing.T) {
	r := resolve(t, Input{Explicit: workspace.Intent{Environment: "staging", Services: []string{"api"}, Goals: []string{"promote", "verify", "prepare", "verify"}}})
	if !reflect.DeepEqual(*r.Intent, exampleIntent) {
		t.Errorf("intent = %+v, want %+v", *r.Intent, exampleIntent)
	}
	if r.Record.Source != workspace.IntentFromFlags || !reflect.DeepEqual(r.Record.Flags, []string{"environment", "services", "goals"}) || r.Record.Parsed != nil {
		t.Errorf("record = %+v", r.Record)
	}
}

func TestResolveRefusesBadFlags(t *testing.T) {
	_, err := Resolve(context.Background(), Input{Services: catalogServices, CatalogFile: "services.yaml",
		Explicit: workspace.Intent{Environment: "production", Services: []string{"api", "billing"}, Goals: []string{"scan-only", "promote", "skip-gates"}, Revision: "a b"}})
	if exitcode.Code(err) != exitcode.BadInput {
		t.Fatalf("Resolve = %v (exit %d), want exit 2", err, exitcode.Code(err))
	}
	for _, want := range []string{
		`--env "production": not a pre-production environment (environments: dev, preprod, qa, sandbox, staging, uat)`,
		`--service "billing": not a service in the catalog services.yaml (services: api, orders)`,
		`--goal "skip-gates": not a goal (goals: prepare, verify, promote, refresh-data, scan-only)`,
		`--goal scan-only excludes every other goal`,
		`--target "a b": not a revision`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestResolveRequestWithoutModel(t *testing.T) {
	r := resolve(t, Input{Request: example})
	if !reflect.DeepEqual(*r.Intent, exampleIntent) || r.Record.Source != workspace.IntentFromDeterministic || r.Record.Model != "" || len(r.Record.Calls) != 0 {
		t.Errorf("Resolve = %+v / %+v", *r.Intent, r.Record)
	}
	if !reflect.DeepEqual(*r.Record.Parsed, exampleIntent) {
		t.Errorf("parsed = %+v", *r.Record.Parsed)
	}
}

func TestFlagsOverrideTheRequest(t *testing.T) {
	r := resolve(t, Input{Request: example, Explicit: workspace.Intent{Environment: "qa", Goals: []string{"verify"}}})
	want := it("qa", []string{"api"}, []string{"verify"}, "")
	if !reflect.DeepEqual(*r.Intent, want) {
		t.Errorf("intent = %+v, want %+v", *r.Intent, want)
	}
	if r.Record.Source != workspace.IntentFromDeterministic || !strings.Contains(strings.Join(r.Record.Notes, "\n"), "flags override the request for: environment, goals") {
		t.Errorf("record = %+v", r.Record)
	}
}

func TestModelAgreeing(t *testing.T) {
	srv, c := model(t, geminitest.Reply{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}`})
	r := resolve(t, Input{Request: example + " (db password: hunter22)", Model: c})
	if !reflect.DeepEqual(*r.Intent, exampleIntent) || r.Record.Source != workspace.IntentFromModel || r.Record.Model != llm.DefaultModel {
		t.Fatalf("Resolve = %+v / %+v", *r.Intent, r.Record)
	}
	if len(r.Record.Calls) != 1 || !r.Record.Calls[0].Used || r.Record.Calls[0].Purpose != Purpose {
		t.Errorf("calls = %+v", r.Record.Calls)
	}
	if n := r.Record.Notes; n[len(n)-1] != "model and keyword parser agree" {
		t.Errorf("notes = %q", n)
	}
	req := srv.Requests()[0]
	if strings.Contains(req.User, "hunter22") || !strings.Contains(req.User, "password: [redacted]") {
		t.Errorf("the model saw an unredacted request:\n%s", req.User)
	}
	var in modelInput
	if err := json.Unmarshal([]byte(req.User), &in); err != nil || !reflect.DeepEqual(in.Services, catalogServices) || len(in.Goals) != len(Goals) {
		t.Errorf("model input = %+v (%v), want the catalog and vocabulary", in, err)
	}
	var schema struct {
		Properties map[string]struct {
			Enum  []string `json:"enum"`
			Items struct {
				Enum []string `json:"enum"`
			} `json:"items"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(req.Config.ResponseSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(schema.Properties["services"].Items.Enum, catalogServices) ||
		!reflect.DeepEqual(schema.Properties["goals"].Items.Enum, Goals) ||
		!reflect.DeepEqual(schema.Properties["environment"].Enum, Environments) {
		t.Errorf("response schema on the wire = %s", req.Config.ResponseSchema)
	}
}

func TestModelAddsWhatTheKeywordsMissed(t *testing.T) {
	const req = "get staging ready for api and make sure nothing breaks before it goes out, release 2024-10"
	_, c := model(t, geminitest.Reply{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"],"revision":"2024-10"}`})
	parsed, _ := Parse(req, catalogServices)
	if want := it("staging", []string{"api"}, []string{"verify"}, ""); !reflect.DeepEqual(canonical(parsed), want) {
		t.Fatalf("keywords read %+v, want %+v", parsed, want)
	}
	r := resolve(t, Input{Request: req, Model: c})
	if want := it("staging", []string{"api"}, []string{"prepare", "verify", "promote"}, "2024-10"); !reflect.DeepEqual(*r.Intent, want) {
		t.Errorf("intent = %+v, want %+v", *r.Intent, want)
	}
	notes := strings.Join(r.Record.Notes, "\n")
	for _, want := range []string{"model read goal(s) the keywords missed: prepare, promote", "model read revision 2024-10, which the keywords missed"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestModelCannotTakeAway(t *testing.T) {
	_, c := model(t, geminitest.Reply{Text: `{"services":[],"goals":["verify"]}`})
	r := resolve(t, Input{Request: example, Model: c})
	if !reflect.DeepEqual(*r.Intent, exampleIntent) || r.Record.Source != workspace.IntentFromModel {
		t.Errorf("intent = %+v from %s, want the keywords' goals kept", *r.Intent, r.Record.Source)
	}
	if !strings.Contains(strings.Join(r.Record.Notes, "\n"), "model left out goal(s) the keywords found, kept: prepare, promote") {
		t.Errorf("notes = %q", r.Record.Notes)
	}
}

// TestHostileModel: whatever the model answers, a rejected answer leaves the
// keyword parser's intent, with a note naming the problem.
func TestHostileModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []geminitest.Reply
		note    string
	}{
		{"a lower risk tier", []geminitest.Reply{{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"],"risk":"low"}`}},
			`model intent rejected: unknown field "risk" (an intent has only environment, services, goals, revision)`},
		{"an invented service", []geminitest.Reply{{Text: `{"environment":"staging","services":["api","billing"],"goals":["prepare"]}`}},
			`model intent rejected: services[1] "billing" is not a service in the catalog (services: api, orders)`},
		{"a catalog service the request does not name", []geminitest.Reply{{Text: `{"services":["orders"],"goals":["prepare"]}`}},
			`model intent rejected: services[0] "orders" is not named in the request`},
		{"an instruction to skip a gate, as a goal", []geminitest.Reply{{Text: `{"services":["api"],"goals":["prepare","skip-gate:migration"]}`}},
			`model intent rejected: goals[1] "skip-gate:migration" is not a goal (goals: prepare, verify, promote, refresh-data, scan-only)`},
		{"an instruction to skip a gate, as a field", []geminitest.Reply{{Text: `{"services":["api"],"goals":["prepare"],"gates":[],"approve":true}`}},
			`model intent rejected: unknown field "approve" (an intent has only environment, services, goals, revision); unknown field "gates"`},
		{"production", []geminitest.Reply{{Text: `{"environment":"production","services":["api"],"goals":["promote"]}`}},
			`model intent rejected: environment "production" is not a pre-production environment`},
		{"another environment", []geminitest.Reply{{Text: `{"environment":"qa","services":["api"],"goals":["promote"]}`}},
			`model intent rejected: environment "qa" is not named in the request`},
		{"a revision not in the request", []geminitest.Reply{{Text: `{"services":["api"],"goals":["promote"],"revision":"v9.9.9"}`}},
			`model intent rejected: revision "v9.9.9" is not written in the request`},
		{"a secret-looking string", []geminitest.Reply{{Text: `{"services":["api"],"goals":["promote"],"revision":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}`}},
			`model intent rejected: the answer holds a secret-looking value`},
		{"malformed JSON", []geminitest.Reply{{Text: `{"services": ["api"], "goals": [`}},
			`model intent rejected: the answer is not a JSON object`},
		{"prose around JSON", []geminitest.Reply{{Text: "```json\n{\"services\":[\"api\"],\"goals\":[]}\n```"}},
			`model intent rejected: the answer is not a JSON object`},
		{"wrong types", []geminitest.Reply{{Text: `{"services":"api","goals":[1]}`}},
			`model intent rejected: services is not a list of strings; goals is not a list of strings`},
		{"scan-only beside the request's goals", []geminitest.Reply{{Text: `{"services":["api"],"goals":["scan-only"]}`}},
			`model intent rejected: goals prepare, verify, promote, scan-only: scan-only excludes every other goal`},
		{"500s", []geminitest.Reply{{Status: 500}},
			`model gave no usable answer: status 500 INTERNAL after 3 attempt(s)`},
		{"a hang", []geminitest.Reply{{Hang: true}},
			`model gave no usable answer: no answer within 300ms after 1 attempt(s)`},
		{"cut off", []geminitest.Reply{{Text: `{"services":["api"],"goals":["pre`, FinishReason: "MAX_TOKENS"}},
			`model gave no usable answer: the answer ended with MAX_TOKENS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := model(t, tc.replies...)
			start := time.Now()
			r := resolve(t, Input{Request: example, Model: c})
			if time.Since(start) > 2*time.Second {
				t.Errorf("Resolve took %s, more than the model budget", time.Since(start))
			}
			if !reflect.DeepEqual(*r.Intent, exampleIntent) || r.Record.Source != workspace.IntentFromDeterministic {
				t.Errorf("intent = %+v from %s, want the keyword parser's", *r.Intent, r.Record.Source)
			}
			notes := strings.Join(r.Record.Notes, "\n")
			if !strings.Contains(notes, tc.note) || !strings.Contains(notes, "; using the keyword parser's intent") {
				t.Errorf("notes lack %q:\n%s", tc.note, notes)
			}
			if len(r.Record.Calls) != 1 || r.Record.Calls[0].Used || r.Record.Calls[0].Note == "" {
				t.Errorf("calls = %+v, want one unused call with a note", r.Record.Calls)
			}
			if strings.Contains(notes, "ghp_") {
				t.Errorf("a note repeats the secret-looking value:\n%s", notes)
			}
		})
	}
}

func TestModel429sThenSuccess(t *testing.T) {
	srv, c := model(t, geminitest.Reply{Status: 429, RetryDelay: "0.05s"}, geminitest.Reply{Status: 429}, geminitest.Reply{Text: `{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}`})
	r := resolve(t, Input{Request: example, Model: c})
	if r.Record.Source != workspace.IntentFromModel || r.Record.Calls[0].Attempts != 3 || len(srv.Requests()) != 3 {
		t.Errorf("source %s, attempts %d, requests %d; want the model's answer on the third attempt", r.Record.Source, r.Record.Calls[0].Attempts, len(srv.Requests()))
	}
}

// TestReplayReproducesTheIntent resolves again from the recorded calls,
// without the network, and gets the same record but for latency.
func TestReplayReproducesTheIntent(t *testing.T) {
	for _, answer := range []string{
		`{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"]}`,
		`{"services":["api"],"goals":["promote"],"revision":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}`,
		`{"services":["api","billing"],"goals":[]}`,
	} {
		srv, c := model(t, geminitest.Reply{Text: answer})
		first := resolve(t, Input{Request: example, Model: c})
		seen := len(srv.Requests())
		again := resolve(t, Input{Request: example, Model: llm.NewReplay(c.Model(), first.Record.Calls)})
		if len(srv.Requests()) != seen {
			t.Errorf("replay called the network")
		}
		if !reflect.DeepEqual(*again.Intent, *first.Intent) || again.Record.Source != first.Record.Source || !reflect.DeepEqual(again.Record.Notes, first.Record.Notes) {
			t.Errorf("replay of %s = %+v %q, want %+v %q", answer, *again.Intent, again.Record.Notes, *first.Intent, first.Record.Notes)
		}
		if !again.Record.Calls[0].Replayed || again.Record.Calls[0].ResponseDigest != first.Record.Calls[0].ResponseDigest {
			t.Errorf("replayed call = %+v", again.Record.Calls[0])
		}
		if strings.Contains(first.Record.Calls[0].Response, "ghp_") {
			t.Errorf("the recorded response keeps a secret-looking value: %s", first.Record.Calls[0].Response)
		}
	}
}
