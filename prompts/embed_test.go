package prompts

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	for _, id := range []string{Intent, ExplainFinding, ExplainGate, PacketSummary} {
		p, err := Load(id)
		if err != nil {
			t.Fatalf("Load(%q): %v", id, err)
		}
		if p.ID != id || p.Version != 1 || !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != len("sha256:")+64 {
			t.Errorf("Load(%q) = %+v", id, p)
		}
		if strings.TrimSpace(p.Text) == "" {
			t.Errorf("prompt %s is empty", id)
		}
		if again := Must(id); again.Digest != p.Digest {
			t.Errorf("prompt %s digest is not stable", id)
		}
	}
}

func TestLoadRefusesUnknownIDs(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"intent", "an id is name.vN"},
		{"intent.v0", "an id is name.vN"},
		{"intent.v9", `no such prompt file (have explain-finding.v1, explain-gate.v1, intent.v1, packet-summary.v1)`},
		{"../embed.go", "an id is name.vN"},
	} {
		_, err := Load(tc.id)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) = %v, want an error containing %q", tc.id, err, tc.want)
		}
	}
}

func TestEveryFileIsAVersionedPrompt(t *testing.T) {
	ids := IDs()
	if len(ids) < 4 {
		t.Fatalf("IDs() = %v, want at least the four prompts the code uses", ids)
	}
	for _, id := range ids {
		if _, err := Load(id); err != nil {
			t.Errorf("prompt file %s.md: %v", id, err)
		}
	}
}
