// Package geminitest is a fake of the Gemini API for tests: an httptest
// server that speaks the generateContent REST method the way the real API
// does (POST /v1beta/models/{model}:generateContent with an x-goog-api-key
// header; candidates[].content.parts[].text, finishReason, usageMetadata and
// modelVersion in answers; {"error": {code, message, status, details}} bodies
// for errors, Retry-After headers on 429s). Point the SDK at it with
// HTTPOptions.BaseURL or GOOGLE_GEMINI_BASE_URL.
package geminitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one generateContent request as the server received it.
type Request struct {
	Model  string
	APIKey string
	// System and User are the texts of the system instruction and of the
	// user content.
	System string
	User   string
	// Config is the request's generationConfig, decoded.
	Config GenerationConfig
	// Raw is the request body.
	Raw []byte
}

// GenerationConfig is the part of generationConfig tests look at.
type GenerationConfig struct {
	ResponseMIMEType string          `json:"responseMimeType"`
	ResponseSchema   json.RawMessage `json:"responseSchema"`
	MaxOutputTokens  int             `json:"maxOutputTokens"`
	Temperature      *float64        `json:"temperature"`
	CandidateCount   int             `json:"candidateCount"`
}

// Reply is what the server answers to one request.
type Reply struct {
	// Text is the candidate's text.
	Text string
	// FinishReason defaults to STOP.
	FinishReason string
	// Status, when not 0 or 200, answers with an error body of that code and
	// ErrorStatus (e.g. RESOURCE_EXHAUSTED).
	Status      int
	ErrorStatus string
	// RetryAfter sets the Retry-After header; RetryDelay adds a
	// google.rpc.RetryInfo detail (e.g. "0.2s").
	RetryAfter string
	RetryDelay string
	// Body, when set, is sent as is (for malformed answers).
	Body string
	// Hang waits until the client gives up.
	Hang bool
	// Delay waits this long before answering (or until the client gives up).
	Delay time.Duration
}

// Server is the fake Gemini API.
type Server struct {
	*httptest.Server
	respond func(Request) Reply

	mu       sync.Mutex
	requests []Request
	stop     chan struct{}
}

var pathRe = regexp.MustCompile(`^/v1beta/models/([^/:]+):generateContent$`)

// New starts a server that answers each request with respond's reply. It is
// closed when the test ends.
func New(t testing.TB, respond func(Request) Reply) *Server {
	s := &Server{respond: respond, stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.stop)
		s.Server.Close()
	})
	return s
}

// Script returns a respond function that gives the replies in order and
// repeats the last one.
func Script(replies ...Reply) func(Request) Reply {
	var mu sync.Mutex
	i := 0
	return func(Request) Reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(i, len(replies)-1)]
		i++
		return r
	}
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

type part struct {
	Text    string `json:"text,omitempty"`
	Thought bool   `json:"thought,omitempty"`
}

type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

type generateRequest struct {
	Contents          []content        `json:"contents"`
	SystemInstruction *content         `json:"systemInstruction"`
	GenerationConfig  GenerationConfig `json:"generationConfig"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := pathRe.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %s is not a generateContent method", r.Method, r.URL.Path), "", "")
		return
	}
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "", "")
		return
	}
	var body generateRequest
	raw, err := readAll(r)
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil || len(body.Contents) == 0 {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.", "", "")
		return
	}
	req := Request{Model: m[1], APIKey: key, Config: body.GenerationConfig, Raw: raw}
	if body.SystemInstruction != nil {
		req.System = texts(body.SystemInstruction.Parts)
	}
	for _, c := range body.Contents {
		if c.Role == "" || c.Role == "user" {
			req.User += texts(c.Parts)
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	rep := s.respond(req)
	if rep.Hang {
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
		return
	}
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if rep.Body != "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(max(rep.Status, http.StatusOK))
		fmt.Fprint(w, rep.Body)
		return
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		writeError(w, rep.Status, rep.ErrorStatus, errorMessage(rep.Status), rep.RetryDelay, req.Model)
		return
	}
	finish := rep.FinishReason
	if finish == "" {
		finish = "STOP"
	}
	promptTokens := tokens(req.System) + tokens(req.User)
	outTokens := tokens(rep.Text)
	resp := map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"parts": []any{map[string]any{"text": rep.Text}}, "role": "model"},
			"finishReason": finish,
			"index":        0,
		}},
		"usageMetadata": map[string]any{
			"promptTokenCount":     promptTokens,
			"candidatesTokenCount": outTokens,
			"totalTokenCount":      promptTokens + outTokens,
			"promptTokensDetails":  []any{map[string]any{"modality": "TEXT", "tokenCount": promptTokens}},
		},
		"modelVersion": req.Model,
		"responseId":   fmt.Sprintf("fake-%d", len(s.Requests())),
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(resp)
}

func readAll(r *http.Request) ([]byte, error) {
	return io.ReadAll(r.Body)
}

func texts(ps []part) string {
	var b strings.Builder
	for _, p := range ps {
		if !p.Thought {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// tokens approximates a token count the way the API's are sized: about
// four characters per token.
func tokens(s string) int { return (len(s) + 3) / 4 }

func errorMessage(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "Resource has been exhausted (e.g. check quota)."
	case http.StatusInternalServerError:
		return "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	case http.StatusServiceUnavailable:
		return "The model is overloaded. Please try again later."
	}
	return http.StatusText(code)
}

func writeError(w http.ResponseWriter, code int, status, msg, retryDelay, model string) {
	if status == "" {
		status = map[int]string{400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}[code]
	}
	e := map[string]any{"code": code, "message": msg, "status": status}
	if retryDelay != "" {
		e["details"] = []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_free_tier_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				"quotaDimensions": map[string]any{"model": model, "location": "global"},
			}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retryDelay},
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}
