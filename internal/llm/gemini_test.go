package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

const testKey = "test-key-not-a-secret"

// clearEnv keeps the developer's own model settings out of the tests.
func clearEnv(t *testing.T) {
	for _, k := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_REGION", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
}

func newClient(t *testing.T, srv *geminitest.Server, o Options) *Gemini {
	t.Helper()
	clearEnv(t)
	o.APIKey, o.BaseURL = testKey, srv.URL
	if o.BaseDelay == 0 {
		o.BaseDelay = time.Millisecond
	}
	g, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func intentRequest() Request {
	return Request{
		Purpose: "intent", Prompt: prompts.Must(prompts.Intent),
		Input:  map[string]any{"request": "prepare staging for api"},
		Schema: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"goals": {Type: genai.TypeArray, Items: &genai.Schema{Type: genai.TypeString}}}},
	}
}

func TestGenerateSpeaksTheWireProtocol(t *testing.T) {
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: `{"goals":["prepare"]}`}))
	g := newClient(t, srv, Options{Model: "gemini-test"})
	req := intentRequest()
	a, err := g.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != `{"goals":["prepare"]}` {
		t.Errorf("Text = %q", a.Text)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Model != "gemini-test" || r.APIKey != testKey {
		t.Errorf("request for model %q with key %q", r.Model, r.APIKey)
	}
	if r.System != req.Prompt.Text {
		t.Errorf("system instruction is not the prompt file:\n%s", r.System)
	}
	var in map[string]string
	if err := json.Unmarshal([]byte(r.User), &in); err != nil || in["request"] != "prepare staging for api" {
		t.Errorf("user content = %q (%v), want the input as JSON", r.User, err)
	}
	if r.Config.ResponseMIMEType != "application/json" || !strings.Contains(string(r.Config.ResponseSchema), `"goals"`) {
		t.Errorf("generationConfig = %+v, want JSON output with the schema", r.Config)
	}
	if r.Config.Temperature == nil || *r.Config.Temperature != 0 || r.Config.MaxOutputTokens != defaultMaxOutputTokens || r.Config.CandidateCount != 1 {
		t.Errorf("generationConfig = %+v, want temperature 0, one candidate, %d tokens", r.Config, defaultMaxOutputTokens)
	}
	c := a.Call
	wantDigest, _ := RequestDigest("gemini-test", req)
	if c.Model != "gemini-test" || c.ModelVersion != "gemini-test" || c.Prompt != prompts.Intent || c.PromptDigest != req.Prompt.Digest ||
		c.RequestDigest != wantDigest || c.Attempts != 1 || c.FinishReason != "STOP" || c.Error != "" {
		t.Errorf("call = %+v", c)
	}
	if c.PromptTokens <= 0 || c.ResponseTokens <= 0 || c.TotalTokens != c.PromptTokens+c.ResponseTokens {
		t.Errorf("token counts = %d + %d = %d", c.PromptTokens, c.ResponseTokens, c.TotalTokens)
	}
	if c.ResponseDigest != "sha256:"+sha(a.Text) || c.Response != a.Text || c.ResponseRedacted {
		t.Errorf("response record = %q %s %v", c.Response, c.ResponseDigest, c.ResponseRedacted)
	}
}

func TestGenerateTextAnswer(t *testing.T) {
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: "plain words"}))
	g := newClient(t, srv, Options{})
	req := intentRequest()
	req.Schema = nil
	if _, err := g.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Model != DefaultModel || r.Config.ResponseMIMEType != "text/plain" || len(r.Config.ResponseSchema) != 0 {
		t.Errorf("request model %q config %+v, want the default model and plain text", r.Model, r.Config)
	}
}

func TestGenerateRetries(t *testing.T) {
	for _, tc := range []struct {
		name         string
		replies      []geminitest.Reply
		attempts     int
		wantErr      string
		minElapsed   time.Duration
		maxElapsed   time.Duration
		budget       time.Duration
		callTimeout  time.Duration
		wantRequests int
	}{
		{name: "429 with Retry-After, 429 with RetryInfo, then an answer",
			replies: []geminitest.Reply{
				{Status: 429, RetryAfter: "1"},
				{Status: 429, RetryDelay: "0.3s"},
				{Text: "ok"},
			},
			attempts: 3, minElapsed: 1300 * time.Millisecond, maxElapsed: 5 * time.Second, wantRequests: 3},
		{name: "500s until the attempts run out",
			replies:  []geminitest.Reply{{Status: 500}},
			attempts: 3, wantErr: "status 500 INTERNAL after 3 attempt(s)", maxElapsed: 3 * time.Second, wantRequests: 3},
		{name: "503 then an answer",
			replies:  []geminitest.Reply{{Status: 503}, {Text: "ok"}},
			attempts: 2, maxElapsed: 3 * time.Second, wantRequests: 2},
		{name: "400 is not retried",
			replies:  []geminitest.Reply{{Status: 400}},
			attempts: 1, wantErr: "status 400 INVALID_ARGUMENT after 1 attempt(s)", maxElapsed: 2 * time.Second, wantRequests: 1},
		{name: "a Retry-After beyond the budget gives up at once",
			replies:  []geminitest.Reply{{Status: 429, RetryAfter: "30"}},
			attempts: 1, budget: 2 * time.Second, wantErr: "status 429 RESOURCE_EXHAUSTED after 1 attempt(s); waiting 30s to retry would exceed the model budget",
			maxElapsed: time.Second, wantRequests: 1},
		{name: "a hang ends at the call timeout",
			replies:  []geminitest.Reply{{Hang: true}},
			attempts: 1, callTimeout: 300 * time.Millisecond, wantErr: "no answer within 300ms after 1 attempt(s)",
			minElapsed: 300 * time.Millisecond, maxElapsed: 2 * time.Second, wantRequests: 1},
		{name: "a hang ends when the budget is spent",
			replies:  []geminitest.Reply{{Hang: true}},
			attempts: 1, budget: 400 * time.Millisecond, wantErr: "no answer within 400ms after 1 attempt(s)",
			minElapsed: 400 * time.Millisecond, maxElapsed: 2 * time.Second, wantRequests: 1},
		{name: "a malformed body is not retried and not quoted",
			replies:  []geminitest.Reply{{Body: `{"candidates": [{"content": `}},
			attempts: 1, wantErr: "unreadable answer from the model API after 1 attempt(s)", maxElapsed: 2 * time.Second, wantRequests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := geminitest.New(t, geminitest.Script(tc.replies...))
			g := newClient(t, srv, Options{MaxAttempts: 3, Budget: tc.budget, CallTimeout: tc.callTimeout})
			start := time.Now()
			a, err := g.Generate(context.Background(), intentRequest())
			elapsed := time.Since(start)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr || a.Call.Error != tc.wantErr) {
				t.Fatalf("Generate error = %v (call error %q), want %q", err, a.Call.Error, tc.wantErr)
			}
			if a.Call.Attempts != tc.attempts {
				t.Errorf("attempts = %d, want %d", a.Call.Attempts, tc.attempts)
			}
			if n := len(srv.Requests()); n != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", n, tc.wantRequests)
			}
			if elapsed < tc.minElapsed || elapsed > tc.maxElapsed {
				t.Errorf("took %s, want between %s and %s", elapsed, tc.minElapsed, tc.maxElapsed)
			}
			if a.Call.LatencyMS < tc.minElapsed.Milliseconds() {
				t.Errorf("latency %dms, want at least %s", a.Call.LatencyMS, tc.minElapsed)
			}
			for _, leak := range []string{testKey, "Resource has been exhausted", "internal error", "candidates"} {
				if err != nil && strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes %q", err, leak)
				}
			}
		})
	}
}

func TestAnOutageStopsLaterCalls(t *testing.T) {
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Status: 503}))
	g := newClient(t, srv, Options{MaxAttempts: 2})
	if _, err := g.Generate(context.Background(), intentRequest()); err == nil {
		t.Fatal("first call succeeded against a failing server")
	}
	a, err := g.Generate(context.Background(), intentRequest())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(a.Call.Error, "not called") {
		t.Fatalf("second call = %v (%q), want ErrUnavailable without a call", err, a.Call.Error)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("server saw %d requests, want only the first call's 2", n)
	}
}

func TestTheBudgetIsSharedByCalls(t *testing.T) {
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: "ok", Delay: 250 * time.Millisecond}))
	g := newClient(t, srv, Options{Budget: 400 * time.Millisecond})
	if _, err := g.Generate(context.Background(), intentRequest()); err != nil {
		t.Fatalf("first call: %v", err)
	}
	start := time.Now()
	a, err := g.Generate(context.Background(), intentRequest())
	if err == nil || !strings.HasPrefix(a.Call.Error, "no answer within 1") {
		t.Fatalf("second call = %v (%q), want a timeout at what is left of the budget", err, a.Call.Error)
	}
	if time.Since(start) > 400*time.Millisecond {
		t.Errorf("second call took %s, more than the budget left", time.Since(start))
	}
	_, err = g.Generate(context.Background(), intentRequest())
	if err == nil {
		t.Fatal("third call succeeded after the budget was spent")
	}
}

func TestAnswerProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reply   geminitest.Reply
		wantErr string
		check   func(t *testing.T, a Answer)
	}{
		{"cut off", geminitest.Reply{Text: "half an ans", FinishReason: "MAX_TOKENS"}, "the answer ended with MAX_TOKENS",
			func(t *testing.T, a Answer) {
				if a.Call.FinishReason != "MAX_TOKENS" || a.Text != "half an ans" {
					t.Errorf("answer = %+v", a)
				}
			}},
		{"safety stop", geminitest.Reply{Text: "", FinishReason: "SAFETY"}, "the answer ended with SAFETY", nil},
		{"empty", geminitest.Reply{Text: "  "}, "the answer is empty", nil},
		{"a secret-looking answer is recorded redacted", geminitest.Reply{Text: "use key AKIAABCDEFGHIJKLMNOP now"}, "",
			func(t *testing.T, a Answer) {
				if a.Text != "use key AKIAABCDEFGHIJKLMNOP now" {
					t.Errorf("Text = %q, want the answer as given (the caller checks it)", a.Text)
				}
				if a.Call.Response != "use key "+ResponseMarker+" now" || !a.Call.ResponseRedacted || a.Call.ResponseDigest != "sha256:"+sha(a.Text) {
					t.Errorf("recorded %q redacted=%v digest=%s", a.Call.Response, a.Call.ResponseRedacted, a.Call.ResponseDigest)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := geminitest.New(t, geminitest.Script(tc.reply))
			g := newClient(t, srv, Options{})
			a, err := g.Generate(context.Background(), intentRequest())
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Fatalf("Generate error = %v, want %q", err, tc.wantErr)
			}
			if a.Call.Attempts != 1 {
				t.Errorf("attempts = %d, want 1 (answers are not retried)", a.Call.Attempts)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestReplayNeverCallsTheNetwork(t *testing.T) {
	srv := geminitest.New(t, geminitest.Script(geminitest.Reply{Text: "first"}, geminitest.Reply{Status: 500}))
	g := newClient(t, srv, Options{MaxAttempts: 1})
	ok := intentRequest()
	failing := intentRequest()
	failing.Input = map[string]any{"request": "something else"}
	a1, err := g.Generate(context.Background(), ok)
	if err != nil {
		t.Fatal(err)
	}
	a2, err2 := g.Generate(context.Background(), failing)
	if err2 == nil {
		t.Fatal("the second call succeeded")
	}
	seen := len(srv.Requests())

	r := NewReplay(g.Model(), []Call{a1.Call, a2.Call})
	b1, err := r.Generate(context.Background(), ok)
	if err != nil || b1.Text != "first" || !b1.Call.Replayed || b1.Call.RequestDigest != a1.Call.RequestDigest {
		t.Errorf("replay = %+v, %v; want the recorded answer", b1, err)
	}
	_, err = r.Generate(context.Background(), failing)
	if err == nil || err.Error() != err2.Error() {
		t.Errorf("replay of the failed call = %v, want %v", err, err2)
	}
	other := intentRequest()
	other.Input = map[string]any{"request": "never asked"}
	if _, err := r.Generate(context.Background(), other); err == nil || !strings.Contains(err.Error(), "no recorded answer for this intent request") {
		t.Errorf("replay of an unrecorded request = %v", err)
	}
	if n := len(srv.Requests()); n != seen {
		t.Errorf("replay made %d network requests", n-seen)
	}
}

func TestRequestDigestCoversModelPromptAndInput(t *testing.T) {
	base := intentRequest()
	d0, _ := RequestDigest("m", base)
	other := base
	other.Input = map[string]any{"request": "x"}
	d1, _ := RequestDigest("m", other)
	d2, _ := RequestDigest("n", base)
	p := base
	p.Prompt = prompts.Must(prompts.ExplainGate)
	d3, _ := RequestDigest("m", p)
	again, _ := RequestDigest("m", intentRequest())
	if d0 != again {
		t.Errorf("digest is not stable: %s vs %s", d0, again)
	}
	for i, d := range []string{d1, d2, d3} {
		if d == d0 {
			t.Errorf("variant %d has the same digest", i)
		}
	}
}

func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"GEMINI_API_KEY": "k"}, true},
		{map[string]string{"GOOGLE_API_KEY": "k"}, true},
		{map[string]string{"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "p"}, true},
		{map[string]string{"GOOGLE_GENAI_USE_VERTEXAI": "1"}, true},
		{map[string]string{"GOOGLE_GENAI_USE_VERTEXAI": "false"}, false},
		{map[string]string{"GOOGLE_GEMINI_BASE_URL": "http://localhost:1"}, false},
	} {
		if got := Configured(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("Configured(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestNewErrorsHoldNoKey(t *testing.T) {
	clearEnv(t)
	_, err := New(context.Background(), Options{})
	if err == nil || strings.Contains(err.Error(), "ClientConfig") || !strings.Contains(err.Error(), "api key is required") {
		t.Errorf("New without a key = %v, want the SDK's reason without its config dump", err)
	}
	got := clientError(errors.New(`project and location are not supported. ClientConfig: &genai.ClientConfig{APIKey:"AIzaSyA1234567890abcdefghijklmnopqrstuv"}`), "AIzaSyA1234567890abcdefghijklmnopqrstuv")
	if got != "project and location are not supported" {
		t.Errorf("clientError = %q", got)
	}
}

func TestFlagsOpen(t *testing.T) {
	clearEnv(t)
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--model", "gemini-x", "--model-budget", "3s"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if c := f.Open(context.Background(), func(string) string { return "" }, log); c != nil {
		t.Errorf("Open without settings = %v, want no model", c)
	}
	env := map[string]string{"GEMINI_API_KEY": "k"}
	t.Setenv("GEMINI_API_KEY", "sekrit-key-value")
	c := f.Open(context.Background(), func(k string) string { return env[k] }, log)
	g, ok := c.(*Gemini)
	if !ok || g.Model() != "gemini-x" || g.opts.Budget != 3*time.Second || g.opts.CallTimeout != 3*time.Second {
		t.Fatalf("Open = %#v, want a Gemini client for gemini-x with a 3s budget", c)
	}
	if strings.Contains(logs.String(), "sekrit-key-value") {
		t.Errorf("the log holds the API key:\n%s", logs.String())
	}
}
