package workspace

// Files the intent parser and the model wrapper write.
const (
	// IntentFile is intent.json: how the request was read, by what, with notes
	// and the model calls it took.
	IntentFile = "intent.json"
	// LLMDir holds records of model calls made after classify (for example
	// the packet's explanations): llm/<name>.json.
	LLMDir = "llm"
	// ExplanationsFile is where the packet step records its explanations and
	// the model calls behind them.
	ExplanationsFile = LLMDir + "/explanations.json"
)

// Intent sources: where IntentRecord.Source says the intent came from.
const (
	IntentFromFlags         = "flags"         // no request text: explicit flags only
	IntentFromDeterministic = "deterministic" // the keyword parser read the request
	IntentFromModel         = "model"         // the model read the request and passed validation
)

// Intent is what a request asks for, in structured form: the pre-production
// environment, the services it names, the goals, and the target revision.
// It travels in change.json (CEL rules see it as `change.intent`); it never
// says how it was obtained, so that a request read by the keyword parser and
// the same request read by a model give the same change.json. Goals are in
// the canonical order of the goal vocabulary, services sorted by name.
type Intent struct {
	Environment string   `json:"environment,omitempty"`
	Services    []string `json:"services"`
	Goals       []string `json:"goals"`
	Revision    string   `json:"revision,omitempty"`
}

// IntentRecord is intent.json: the resolved intent with its provenance.
type IntentRecord struct {
	// Request is the plain-language request as given (empty with flags only).
	Request string `json:"request,omitempty"`
	// Intent is what change.json records.
	Intent Intent `json:"intent"`
	// Source is flags | deterministic | model.
	Source string `json:"source"`
	// Flags names the intent fields explicit flags set; they override what
	// the request says.
	Flags []string `json:"flags,omitempty"`
	// Parsed is what the keyword parser read from the request.
	Parsed *Intent `json:"parsed,omitempty"`
	// Model is the model asked to read the request, when one was configured.
	Model string `json:"model,omitempty"`
	// Notes say what was ignored, rejected or merged, and why.
	Notes []string `json:"notes"`
	// Calls are the model calls made to read the request.
	Calls []LLMCall `json:"calls,omitempty"`
}

// LLMCall is the audit record of one model call: which model, which prompt
// (file version and digest), digests of the request and the response, how
// long it took, how many tokens it used, and whether its answer was used.
// A replay serves Response again instead of calling the network.
type LLMCall struct {
	// Purpose is what the call was for: intent, explain-finding,
	// explain-gate or packet-summary; Subject names the finding or gate.
	Purpose string `json:"purpose"`
	Subject string `json:"subject,omitempty"`
	Model   string `json:"model"`
	// ModelVersion is the version the API reported.
	ModelVersion string `json:"modelVersion,omitempty"`
	// Prompt is the prompt file's id (e.g. intent.v1) and PromptDigest its
	// SHA-256.
	Prompt       string `json:"prompt"`
	PromptDigest string `json:"promptDigest"`
	// RequestDigest is the SHA-256 of the canonical request (model, prompt,
	// redacted input, response schema, limits); a replay looks calls up by it.
	RequestDigest string `json:"requestDigest"`
	// ResponseDigest is the SHA-256 of the text the model returned.
	ResponseDigest string `json:"responseDigest,omitempty"`
	// Response is that text; when it held secret-looking strings they are
	// replaced by a marker and ResponseRedacted is set.
	Response         string `json:"response,omitempty"`
	ResponseRedacted bool   `json:"responseRedacted,omitempty"`
	FinishReason     string `json:"finishReason,omitempty"`
	// LatencyMS covers every attempt and the waits between them.
	LatencyMS      int64 `json:"latencyMs"`
	Attempts       int   `json:"attempts"`
	PromptTokens   int32 `json:"promptTokens"`
	ResponseTokens int32 `json:"responseTokens"`
	TotalTokens    int32 `json:"totalTokens"`
	// Error says why the call gave no answer (never a secret, never a body).
	Error string `json:"error,omitempty"`
	// Used says whether the answer was used; Note says why it was not.
	Used bool   `json:"used"`
	Note string `json:"note,omitempty"`
	// Replayed is set when the answer came from a recorded call.
	Replayed bool `json:"replayed,omitempty"`
}
