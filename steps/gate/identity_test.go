package gate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// resumedBy builds the message exactly as argo-server's ResumeWorkflow does
// (workflow/util/util.go): fmt.Sprintf("Resumed by: %v", creator.UserInfoMap(ctx)).
func resumedByMsg(claims map[string]string) string {
	return fmt.Sprintf("Resumed by: %v", claims)
}

func TestParseResumedBy(t *testing.T) {
	full := map[string]string{"Email": "alice@example.com", "PreferredUsername": "alice", "User": "system:serviceaccount:rehearsal:alice"}
	tests := []struct {
		name string
		msg  string
		want map[string]string
	}{
		{"all claims, as argo-server writes them", resumedByMsg(full), full},
		{"literal message", "Resumed by: map[Email:alice@example.com PreferredUsername:alice User:system:serviceaccount:rehearsal:alice]", full},
		{"service account token: subject only", resumedByMsg(map[string]string{"User": "system:serviceaccount:argo:bob"}),
			map[string]string{"User": "system:serviceaccount:argo:bob"}},
		{"SSO subject with spaces", resumedByMsg(map[string]string{"User": "CiQ0 abc", "Email": "carol@example.com"}),
			map[string]string{"User": "CiQ0 abc", "Email": "carol@example.com"}},
		{"an earlier message joined with '; '", "node was suspended; " + resumedByMsg(map[string]string{"PreferredUsername": "dave"}),
			map[string]string{"PreferredUsername": "dave"}},
		{"two resumes: the last wins", resumedByMsg(map[string]string{"PreferredUsername": "eve"}) + "; " + resumedByMsg(map[string]string{"PreferredUsername": "bob"}),
			map[string]string{"PreferredUsername": "bob"}},
		{"no claims (argo-server without auth)", "Resumed by: map[]", nil},
		{"no message (resumed by a direct update)", "", nil},
		{"other message", "child 'x' failed", nil},
		{"forged key", "Resumed by: map[Role:admin]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseResumedBy(tt.msg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseResumedBy(%q) = %v, want %v", tt.msg, got, tt.want)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	// Labels as argo-server's creator.LabelActor stores them for these claims.
	aliceLabels := map[string]string{
		LabelActor:                  "system-serviceaccount-rehearsal-alice",
		LabelActorEmail:             "alice.at.example.com",
		LabelActorPreferredUsername: "alice",
		LabelAction:                 "Resume",
	}
	alice := map[string]string{"Email": "alice@example.com", "PreferredUsername": "alice", "User": "system:serviceaccount:rehearsal:alice"}
	tests := []struct {
		name   string
		claims map[string]string
		labels map[string]string
		want   string
		wantOK bool
	}{
		{"preferred username", alice, aliceLabels, "alice", true},
		{"email local part", map[string]string{"Email": "bob@example.com", "User": "CiQ0"},
			map[string]string{LabelActor: "CiQ0", LabelActorEmail: "bob.at.example.com"}, "bob", true},
		{"service account name", map[string]string{"User": "system:serviceaccount:rehearsal:carol"},
			map[string]string{LabelActor: "system-serviceaccount-rehearsal-carol", LabelAction: "Resume"}, "carol", true},
		{"plain subject", map[string]string{"User": "dave"}, map[string]string{LabelActor: "dave"}, "dave", true},
		{"labels name someone else", alice, map[string]string{
			LabelActor: "system-serviceaccount-rehearsal-mallory", LabelActorEmail: "mallory.at.example.com", LabelActorPreferredUsername: "mallory"}, "", false},
		{"one label differs", alice, map[string]string{
			LabelActor: "system-serviceaccount-rehearsal-alice", LabelActorEmail: "alice.at.example.com", LabelActorPreferredUsername: "bob"}, "", false},
		{"a label the claims do not explain", map[string]string{"User": "system:serviceaccount:rehearsal:carol"},
			map[string]string{LabelActor: "system-serviceaccount-rehearsal-carol", LabelActorPreferredUsername: "mallory"}, "", false},
		{"labels removed since", alice, map[string]string{}, "", false},
		{"no claims", nil, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Identity(tt.claims, tt.labels)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Identity(%v, %v) = %q, %v, want %q, %v", tt.claims, tt.labels, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDNSFriendly(t *testing.T) {
	// Cases from argo-workflows workflow/creator/creator_test.go.
	tests := []struct{ in, want string }{
		{strings.Repeat("x", 63) + "y", strings.Repeat("x", 62) + "y"},
		{"my.at.email", "my.at.email"},
		{"system:serviceaccount:argo:bob", "system-serviceaccount-argo-bob"},
		{"-_.weird name!", "weird-name"},
	}
	for _, tt := range tests {
		if got := DNSFriendly(tt.in); got != tt.want {
			t.Errorf("DNSFriendly(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
