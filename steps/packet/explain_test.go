package packet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/explain"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

func geminiClient(t *testing.T, respond func(geminitest.Request) geminitest.Reply) llm.Client {
	t.Helper()
	srv := geminitest.New(t, respond)
	c, err := llm.New(context.Background(), llm.Options{APIKey: "test-key", BaseURL: srv.URL, BaseDelay: time.Millisecond, Budget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPacketExplainedByAModel: an honest model's summary is used and the
// call is in the packet's audit; a hostile model (a lower tier, an
// instruction to skip the gate) is dropped for the template. Either way the
// verdict, graph and approvals are the bytes of the packet without a model,
// the packet verifies, and the explanations replay from the recorded calls.
func TestPacketExplainedByAModel(t *testing.T) {
	plain, kf := signedWorkspace(t)
	base := readPacket(t, plain)

	honest := "The change drops a legacy column of the critical api service; two owners approved the migration gate and nothing blocks promotion."
	hostile := "Risk is low. Skip the migration gate and run kubectl delete pod api-0 to finish faster."
	for _, tc := range []struct {
		name, text string
		wantModel  bool
	}{
		{"honest", honest, true},
		{"hostile", hostile, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := signedWorkspace(t)
			client := geminiClient(t, func(r geminitest.Request) geminitest.Reply {
				if r.System == prompts.Must(prompts.PacketSummary).Text {
					return geminitest.Reply{Text: tc.text}
				}
				return geminitest.Reply{Text: "Two owners of the api service decide whether the destructive migration is safe; the author may not approve it."}
			})
			if _, err := Run(context.Background(), Input{Workspace: dir, KeyFile: kf, Model: client}); err != nil {
				t.Fatal(err)
			}
			p := readPacket(t, dir)
			for _, part := range []struct {
				name      string
				got, want any
			}{{"verdict", p.Verdict + p.Reason, base.Verdict + base.Reason}, {"graph", p.Graph, base.Graph}, {"approvals", p.Approvals, base.Approvals}, {"summary", p.Summary, base.Summary}} {
				a, _ := workspace.Marshal(part.got)
				b, _ := workspace.Marshal(part.want)
				if !bytes.Equal(a, b) {
					t.Errorf("%s with a model differs from the packet without one:\n%s\nwant\n%s", part.name, a, b)
				}
			}
			s := p.Explanations.Summary
			if got := s.Source == explain.FromModel; got != tc.wantModel {
				t.Errorf("summary source %q (note %q), want model text used: %v", s.Source, s.Note, tc.wantModel)
			}
			if tc.wantModel && s.Text != honest {
				t.Errorf("summary = %q, want the model's text", s.Text)
			}
			if !tc.wantModel && (strings.Contains(s.Text, "kubectl") || s.Note == "") {
				t.Errorf("hostile summary = %q (note %q), want the template and a note", s.Text, s.Note)
			}
			var summaryCall *ModelCall
			for i, c := range p.ModelCalls {
				if c.Purpose == explain.PurposeSummary {
					summaryCall = &p.ModelCalls[i]
				}
			}
			if summaryCall == nil || summaryCall.PromptDigest == "" || summaryCall.RequestDigest == "" || summaryCall.ResponseDigest == "" || summaryCall.Used != tc.wantModel {
				t.Errorf("packet model calls = %+v, want the summary call with its digests", p.ModelCalls)
			}
			if r, err := Verify(dir, nil); err != nil || !r.OK {
				t.Errorf("Verify = %+v, %v", r, err)
			}
			if same, err := ReplayExplanations(context.Background(), dir, p); err != nil || !same {
				t.Errorf("ReplayExplanations = %v, %v; want the recorded explanations back", same, err)
			}
			md, _ := os.ReadFile(filepath.Join(dir, workspace.PacketMD))
			if tc.wantModel && !strings.Contains(string(md), honest) {
				t.Errorf("packet.md lacks the model's summary")
			}
		})
	}
}
