package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genai"
)

// Defaults of Options.
const (
	DefaultBudget      = 45 * time.Second
	DefaultCallTimeout = 20 * time.Second
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 8 * time.Second
)

// Options configure a Gemini client. Credentials, backend (Gemini API or
// Vertex AI) and the endpoint come from the SDK's own environment settings
// (GEMINI_API_KEY or GOOGLE_API_KEY; GOOGLE_GENAI_USE_VERTEXAI with
// GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION; GOOGLE_GEMINI_BASE_URL)
// unless APIKey or BaseURL say otherwise.
type Options struct {
	// Model is the model name (default DefaultModel).
	Model string
	// Budget is the total time every call of the run may take, retries and
	// waits included (default DefaultBudget). Once spent, calls fail at once.
	Budget time.Duration
	// CallTimeout bounds one attempt (default DefaultCallTimeout).
	CallTimeout time.Duration
	// MaxAttempts bounds the attempts of one call (default DefaultMaxAttempts).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the exponential backoff between attempts;
	// a longer Retry-After (header or RetryInfo) is honoured when the budget
	// allows it.
	BaseDelay, MaxDelay time.Duration
	// APIKey and BaseURL override the environment (BaseURL is the SDK's
	// HTTPOptions.BaseURL).
	APIKey, BaseURL string
	// Log receives a line per retry; nil logs nothing.
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
}

// Configured reports whether the environment configures a model: an API key
// (GEMINI_API_KEY or GOOGLE_API_KEY) or the Vertex AI backend
// (GOOGLE_GENAI_USE_VERTEXAI or GOOGLE_GENAI_USE_ENTERPRISE set to true or 1).
// Without one, Rehearsal uses no model at all.
func Configured(getenv func(string) string) bool {
	if getenv("GEMINI_API_KEY") != "" || getenv("GOOGLE_API_KEY") != "" {
		return true
	}
	for _, k := range []string{"GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"} {
		if v := strings.ToLower(getenv(k)); v == "1" || v == "true" {
			return true
		}
	}
	return false
}

// Gemini is a Client for the Gemini API or Vertex AI. Calls are made one at a
// time; they share the budget.
type Gemini struct {
	client *genai.Client
	opts   Options

	mu    sync.Mutex
	spent time.Duration
	down  string // why the model is considered unavailable; "" while it is not
}

var _ Client = (*Gemini)(nil)

// New returns a Gemini client. Its error never holds the API key.
func New(ctx context.Context, o Options) (*Gemini, error) {
	o.defaults()
	cc := &genai.ClientConfig{APIKey: o.APIKey, HTTPOptions: genai.HTTPOptions{BaseURL: o.BaseURL}}
	c, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("configure the model client: %s", clientError(err, o.APIKey))
	}
	// The SDK keeps cc and the HTTP client it settled on; wrap its transport
	// to see the Retry-After header of each answer.
	if cc.HTTPClient != nil {
		base := cc.HTTPClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		cc.HTTPClient.Transport = captureTransport{base: base}
	}
	return &Gemini{client: c, opts: o}, nil
}

// clientError keeps the first sentence of an SDK configuration error: the
// SDK appends the whole ClientConfig, API key included.
func clientError(err error, key string) string {
	msg := err.Error()
	if i := strings.Index(msg, "ClientConfig"); i >= 0 {
		msg = strings.TrimRight(msg[:i], " .:\n")
	}
	if key != "" {
		msg = strings.ReplaceAll(msg, key, Marker)
	}
	return Redact(msg)
}

// Model returns the model name.
func (g *Gemini) Model() string { return g.opts.Model }

// Generate asks the model, retrying 429 and 5xx answers within the budget.
func (g *Gemini) Generate(ctx context.Context, req Request) (Answer, error) {
	user, call, err := req.encode(g.opts.Model)
	if err != nil {
		return Answer{Call: call}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down != "" {
		call.Error = fmt.Sprintf("%s (%s); not called", ErrUnavailable, g.down)
		return Answer{Call: call}, &callError{msg: call.Error, cause: ErrUnavailable}
	}
	start := time.Now()
	defer func() { g.spent += time.Since(start) }()
	remaining := func() time.Duration { return g.opts.Budget - g.spent - time.Since(start) }
	if remaining() <= 0 {
		call.Error = fmt.Sprintf("%s (%s spent); not called", ErrBudget, g.opts.Budget)
		return Answer{Call: call}, &callError{msg: call.Error, cause: ErrBudget}
	}
	cfg := g.config(req)
	contents := []*genai.Content{{Role: genai.RoleUser, Parts: []*genai.Part{{Text: user}}}}
	fail := func(msg string, cause error) (Answer, error) {
		call.LatencyMS = time.Since(start).Milliseconds()
		call.Error = msg
		if cause == nil || !errors.Is(cause, context.Canceled) {
			g.down = msg
		}
		return Answer{Call: call}, &callError{msg: msg, cause: cause}
	}
	for attempt := 1; ; attempt++ {
		call.Attempts = attempt
		timeout := min(g.opts.CallTimeout, remaining())
		if timeout <= 0 {
			return fail(fmt.Sprintf("%s after %d attempt(s)", ErrBudget, attempt-1), ErrBudget)
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		seen := &retryAfter{}
		actx = context.WithValue(actx, retryAfterKey{}, seen)
		resp, err := g.client.Models.GenerateContent(actx, g.opts.Model, contents, cfg)
		cancel()
		if err == nil {
			call.LatencyMS = time.Since(start).Milliseconds()
			return g.answer(call, resp)
		}
		if ctx.Err() != nil {
			return fail("the run was cancelled", ctx.Err())
		}
		f := describe(err, timeout)
		if !f.retry || attempt >= g.opts.MaxAttempts {
			return fail(fmt.Sprintf("%s after %d attempt(s)", f.msg, attempt), nil)
		}
		wait := g.backoff(attempt)
		if ra := max(parseRetryAfter(seen.header, time.Now()), f.retryAfter); ra > wait {
			wait = ra
		}
		if wait >= remaining() {
			return fail(fmt.Sprintf("%s after %d attempt(s); waiting %s to retry would exceed the model budget", f.msg, attempt, wait.Round(time.Millisecond)), ErrBudget)
		}
		if g.opts.Log != nil {
			g.opts.Log.Info("model call retry", "purpose", req.Purpose, "attempt", attempt, "error", f.msg, "wait", wait.Round(time.Millisecond).String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail("the run was cancelled", ctx.Err())
		case <-t.C:
		}
	}
}

func (g *Gemini) config(req Request) *genai.GenerateContentConfig {
	max := req.MaxOutputTokens
	if max <= 0 {
		max = defaultMaxOutputTokens
	}
	zero := float32(0)
	off := false
	cfg := &genai.GenerateContentConfig{
		SystemInstruction:     &genai.Content{Parts: []*genai.Part{{Text: req.Prompt.Text}}},
		Temperature:           &zero,
		MaxOutputTokens:       max,
		CandidateCount:        1,
		AutomaticContinuation: &off,
		ResponseMIMEType:      "text/plain",
	}
	if req.Schema != nil {
		cfg.ResponseMIMEType = "application/json"
		cfg.ResponseSchema = req.Schema
	}
	return cfg
}

// answer turns a response into an Answer: the first candidate's text (not its
// thoughts), finish reason, model version and token counts.
func (g *Gemini) answer(call Call, resp *genai.GenerateContentResponse) (Answer, error) {
	call.ModelVersion = resp.ModelVersion
	if u := resp.UsageMetadata; u != nil {
		call.PromptTokens, call.ResponseTokens, call.TotalTokens = u.PromptTokenCount, u.CandidatesTokenCount, u.TotalTokenCount
	}
	if len(resp.Candidates) == 0 || resp.Candidates[0] == nil {
		why := "no candidate in the answer"
		if pf := resp.PromptFeedback; pf != nil && pf.BlockReason != "" {
			why = "the prompt was blocked: " + string(pf.BlockReason)
		}
		call.Error = why
		return Answer{Call: call}, errors.New(why)
	}
	c := resp.Candidates[0]
	call.FinishReason = string(c.FinishReason)
	var b strings.Builder
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			if p != nil && !p.Thought {
				b.WriteString(p.Text)
			}
		}
	}
	text := b.String()
	record(&call, text)
	if c.FinishReason != "" && c.FinishReason != genai.FinishReasonStop {
		call.Error = "the answer ended with " + string(c.FinishReason)
		return Answer{Text: text, Call: call}, errors.New(call.Error)
	}
	if strings.TrimSpace(text) == "" {
		call.Error = "the answer is empty"
		return Answer{Call: call}, errors.New(call.Error)
	}
	return Answer{Text: text, Call: call}, nil
}

// backoff is the exponential delay before the attempt after attempt, with
// jitter between half and all of it.
func (g *Gemini) backoff(attempt int) time.Duration {
	d := g.opts.BaseDelay << (attempt - 1)
	if d > g.opts.MaxDelay || d <= 0 {
		d = g.opts.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// failure is what went wrong with one attempt, in words safe to record.
type failure struct {
	msg        string
	retry      bool
	retryAfter time.Duration
}

// describe classifies an attempt's error. API errors keep their code and
// status only: their message may quote the request.
func describe(err error, timeout time.Duration) failure {
	var api genai.APIError
	if errors.As(err, &api) {
		status := api.Status
		if status == "" || (status[0] >= '0' && status[0] <= '9') {
			status = http.StatusText(api.Code)
		}
		return failure{
			msg:        strings.TrimSpace(fmt.Sprintf("status %d %s", api.Code, status)),
			retry:      api.Code == http.StatusRequestTimeout || api.Code == http.StatusTooManyRequests || api.Code >= 500,
			retryAfter: retryInfo(api.Details),
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failure{msg: fmt.Sprintf("no answer within %s", timeout.Round(time.Millisecond))}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return failure{msg: "cannot reach the model API", retry: true}
	}
	return failure{msg: "unreadable answer from the model API"}
}

// retryInfo reads google.rpc.RetryInfo's retryDelay from error details.
func retryInfo(details []map[string]any) time.Duration {
	for _, d := range details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		if s, ok := d["retryDelay"].(string); ok {
			if v, err := time.ParseDuration(s); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// callError is a failed call: a message safe to record, and the sentinel
// (ErrBudget, ErrUnavailable, a context error) behind it, if any.
type callError struct {
	msg   string
	cause error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.cause }

type retryAfterKey struct{}

// retryAfter receives the Retry-After header of an attempt's answer.
type retryAfter struct{ header string }

// captureTransport records each answer's Retry-After header into the
// request context's retryAfter.
type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if resp != nil {
		if ra, ok := req.Context().Value(retryAfterKey{}).(*retryAfter); ok {
			ra.header = resp.Header.Get("Retry-After")
		}
	}
	return resp, err
}
