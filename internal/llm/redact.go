package llm

import (
	"regexp"
	"strings"
	"unicode"
)

// Markers that replace secret-looking values.
const (
	// Marker replaces a secret-looking value in anything sent to the model.
	Marker = "[redacted]"
	// ResponseMarker replaces one in a model answer before it is recorded;
	// a recorded answer that holds it is secret-looking, so a replay drops it
	// exactly as the original run did.
	ResponseMarker = "[secret-looking value removed]"
)

// secretPatterns match values that look like credentials. Each pattern's
// last group, when it has groups, is the value; otherwise the whole match is.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`),                                   // AWS access key id
	regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,}\b`),                                  // GitHub token
	regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{22,}\b`),                                // GitHub fine-grained token
	regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}\b`),                                      // Google API key
	regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`),                               // Slack token
	regexp.MustCompile(`\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b`),                        // Stripe key
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), // JWT
	regexp.MustCompile(`-----BEGIN[A-Z ]* PRIVATE KEY-----`),                              // PEM private key
	regexp.MustCompile(`\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@`),                     // password in a URL
	regexp.MustCompile(`(?i)\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret|private[_-]?key)\b["']?\s*[:=]\s*["']?([^\s"',;\[][^\s"',;]{5,})`),
}

// longToken finds candidates for high-entropy strings.
var longToken = regexp.MustCompile(`[A-Za-z0-9+/_\-]{32,}={0,2}`)

// highEntropy reports whether s mixes upper case, lower case and digits the
// way generated keys do (a hex digest, a path or a word does not).
func highEntropy(s string) bool {
	var upper, lower, digit int
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			upper++
		case unicode.IsLower(r):
			lower++
		case unicode.IsDigit(r):
			digit++
		}
	}
	return upper >= 4 && lower >= 4 && digit >= 4
}

// span is a byte range of a secret-looking value.
type span struct{ from, to int }

func secretSpans(s string) []span {
	var out []span
	for _, re := range secretPatterns {
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			from, to := m[0], m[1]
			if n := len(m); n > 2 && m[n-2] >= 0 {
				from, to = m[n-2], m[n-1]
			}
			out = append(out, span{from, to})
		}
	}
	for _, m := range longToken.FindAllStringIndex(s, -1) {
		if highEntropy(s[m[0]:m[1]]) {
			out = append(out, span{m[0], m[1]})
		}
	}
	return out
}

// LooksSecret reports whether s holds a secret-looking value or the marker
// of one removed from an answer.
func LooksSecret(s string) bool {
	return strings.Contains(s, ResponseMarker) || len(secretSpans(s)) > 0
}

// Redact replaces every secret-looking value in s by Marker.
func Redact(s string) string {
	out, _ := redact(s, Marker)
	return out
}

// redact replaces every secret-looking value in s by marker and says how
// many it replaced.
func redact(s, marker string) (string, int) {
	spans := secretSpans(s)
	if len(spans) == 0 {
		return s, 0
	}
	// Merge overlapping spans, then rebuild.
	covered := make([]bool, len(s))
	for _, sp := range spans {
		for i := sp.from; i < sp.to; i++ {
			covered[i] = true
		}
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && covered[i] {
			i++
		}
		b.WriteString(marker)
		n++
	}
	return b.String(), n
}
