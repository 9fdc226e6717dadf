package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"key AKIAABCDEFGHIJKLMNOP end", "key [redacted] end"},
		{"token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [redacted]"},
		{"google AIzaSyA1234567890abcdefghijklmnopqrstuv.", "google [redacted]."},
		{"slack xoxb-1234567890-abcdef", "slack [redacted]"},
		{"password: hunter22 and more", "password: [redacted] and more"},
		{`"api_key": "s3cr3tvalue"`, `"api_key": "[redacted]"`},
		{"mysql://app:pa55word@db:3306/api", "mysql://app:[redacted]@db:3306/api"},
		{"-----BEGIN RSA PRIVATE KEY-----", "[redacted]"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "jwt [redacted]"},
		{"random Zx8kQ2mN7pL4vB9cR1tY6uW3eA5sD0fG", "random [redacted]"},
		// Not secrets: digests, paths, words, a redacted value.
		{"sha256:0b8a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "sha256:0b8a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"},
		{"services/api/migrations/0003_drop_legacy_sessions_table.sql", "services/api/migrations/0003_drop_legacy_sessions_table.sql"},
		{"password: [redacted]", "password: [redacted]"},
		{"the token budget is low", "the token budget is low"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := LooksSecret(tc.in); got != (tc.in != tc.want) {
			t.Errorf("LooksSecret(%q) = %v", tc.in, got)
		}
	}
	if !LooksSecret("see " + ResponseMarker) {
		t.Errorf("LooksSecret misses the response marker")
	}
}
