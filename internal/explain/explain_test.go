package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/llm/geminitest"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/prompts"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const secretInFinding = "AKIAABCDEFGHIJKLMNOP"

// demo is the demo release: a destructive migration on the critical api
// service, waiting at the migration gate, with one blocking finding.
func demo(verdict string) Input {
	in := Input{
		Verdict: verdict,
		Reason:  "gate \"migration\" has no decision yet",
		Change: workspace.Change{
			Author: "alice", Request: "prepare staging for the api release and verify it is safe to promote",
			Intent:   &workspace.Intent{Environment: "staging", Services: []string{"api"}, Goals: []string{"prepare", "verify", "promote"}},
			Classes:  []string{"db-migration"},
			Risk:     "critical",
			Services: []workspace.Service{{Name: "api", Owners: []string{"team-api"}, Tier: "critical", Database: "api"}},
			Rules:    []workspace.Fired{{ID: "risk.destructive-critical", Message: "a destructive migration on a critical service"}},
		},
		Graph: workspace.Graph{Nodes: []workspace.Node{
			{ID: "gate-migration", Step: "gate", Rules: []string{"gate.destructive-migration-critical"},
				Gate: &workspace.Gate{Name: "migration", Tier: "critical", Groups: []string{"team-api"}, Approvers: 2, NotAuthor: true, Timeout: "24h"}},
			{ID: "plan", Step: "plan", DependsOn: []string{"gate-migration"}, Rules: []string{"route.plan"}},
		}},
		Approvals: []workspace.Approval{{Gate: "migration", Decision: "pending", Approvers: []string{"bob"}}},
		Findings: []Finding{
			{Rule: "policy.prod-secret", Severity: "CRITICAL", Blocker: true, File: "deploy/api/deployment.yaml", Line: 31,
				Resource: "Deployment/api", Message: "a production credential is set in a preprod manifest: " + secretInFinding,
				Fix: "read the credential from the preprod Secret"},
			{Rule: "KSV011", Severity: "LOW", File: "deploy/api/deployment.yaml", Line: 20, Message: "CPU limit not set"},
		},
		Plan: &workspace.Plan{Services: []workspace.PlannedService{{Name: "api", Strategy: "canary"}},
			Steps: []workspace.PlanStep{{ID: "migrate-api"}, {ID: "deploy-api"}}, Rollback: []workspace.RollbackStep{{ID: "rollback-api"}}},
		RuleMessages: map[string]string{"gate.destructive-migration-critical": "two owners of the service must approve the destructive migration"},
	}
	if verdict == "blocked" {
		in.Reason = "findings.json: 1 unexcepted blocker(s); first: policy.prod-secret at deploy/api/deployment.yaml:31"
		in.Approvals[0] = workspace.Approval{Gate: "migration", Decision: "approve", Approvers: []string{"bob", "frank"}, Verified: true}
	}
	if verdict == Approved {
		in.Reason = "all gates are approved; no blockers"
		in.Approvals = []workspace.Approval{{Gate: "migration", Decision: "approve", Approvers: []string{"bob", "frank"}, Verified: true}}
		in.Findings = in.Findings[1:]
	}
	return in
}

func TestTemplatesGolden(t *testing.T) {
	got := map[string]Result{}
	for _, v := range []string{"pending", "blocked", Approved} {
		got[v] = Templates(demo(v))
	}
	b, err := workspace.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "templates.golden.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("Templates differ from %s (run with -update to accept):\n%s", path, b)
	}
	if bytes.Contains(b, []byte(secretInFinding)) {
		t.Errorf("a template repeats a secret-looking value")
	}
}

func TestPacketWithoutModelIsTheTemplates(t *testing.T) {
	in := demo("pending")
	res, calls := Packet(context.Background(), nil, in)
	if !reflect.DeepEqual(res, Templates(in)) || calls != nil {
		t.Errorf("Packet(nil client) = %+v, %v; want the templates and no call", res, calls)
	}
}

// byPrompt answers each prompt with its own text.
func byPrompt(answers map[string]string) func(geminitest.Request) geminitest.Reply {
	return func(r geminitest.Request) geminitest.Reply {
		for id, text := range answers {
			if r.System == prompts.Must(id).Text {
				return geminitest.Reply{Text: text}
			}
		}
		return geminitest.Reply{Status: 400}
	}
}

func client(t *testing.T, respond func(geminitest.Request) geminitest.Reply, o llm.Options) (*geminitest.Server, llm.Client) {
	t.Helper()
	for _, k := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GEMINI_BASE_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	srv := geminitest.New(t, respond)
	o.APIKey, o.BaseURL, o.BaseDelay = "test-key", srv.URL, time.Millisecond
	c, err := llm.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

var goodAnswers = map[string]string{
	prompts.ExplainFinding: "A production credential in a preprod manifest means a rehearsal could touch production data, so the release cannot proceed until the manifest reads the preprod Secret instead.",
	prompts.ExplainGate:    "Two owners of api are asked to judge whether dropping the legacy table is safe for the critical api service; the author may not approve their own destructive migration.",
	prompts.PacketSummary:  "The change drops a legacy table of the critical api service and the rules rate it critical risk. The release is pending: the migration gate waits for a second owner, and a blocking finding must be fixed before it can be promoted.",
}

func TestPacketWithModel(t *testing.T) {
	srv, c := client(t, byPrompt(goodAnswers), llm.Options{})
	in := demo("pending")
	res, calls := Packet(context.Background(), c, in)
	all := append(append(append([]Explanation{}, res.Findings...), res.Gates...), res.Summary)
	if len(all) != 3 || len(calls) != 3 {
		t.Fatalf("%d explanations, %d calls; want 3 and 3", len(all), len(calls))
	}
	for i, e := range all {
		if e.Source != FromModel || e.Note != "" {
			t.Errorf("%s %s: source %s, note %q; want the model's text", e.Kind, e.Subject, e.Source, e.Note)
		}
		if !calls[i].Used || calls[i].Prompt == "" || calls[i].PromptDigest == "" || calls[i].RequestDigest == "" || calls[i].ResponseDigest == "" {
			t.Errorf("call %d = %+v", i, calls[i])
		}
	}
	if res.Summary.Text != goodAnswers[prompts.PacketSummary] {
		t.Errorf("summary = %q", res.Summary.Text)
	}
	for _, r := range srv.Requests() {
		for _, leak := range []string{secretInFinding, "prepare staging for the api release", "bob"} {
			if strings.Contains(r.User, leak) {
				t.Errorf("the model saw %q:\n%s", leak, r.User)
			}
		}
		if r.Config.ResponseMIMEType != "text/plain" {
			t.Errorf("explanations ask for %q", r.Config.ResponseMIMEType)
		}
	}
	var fin findingInputs
	if err := json.Unmarshal([]byte(srv.Requests()[0].User), &fin); err != nil || !strings.Contains(fin.Finding.Message, llm.Marker) || fin.Risk != "critical" || fin.Verdict != "pending" {
		t.Errorf("finding input = %+v (%v)", fin, err)
	}
}

// TestHostileExplanations: whatever the model writes, a text that fails a
// check is dropped for the template, with a note.
func TestHostileExplanations(t *testing.T) {
	for _, tc := range []struct {
		name, text, note string
		verdict          string
	}{
		{"approval while pending", "The release is approved and safe to promote.", `contradicts the verdict pending ("the release is approved")`, "pending"},
		{"safety while blocked", "All checks passed, it is safe to deploy now.", `contradicts the verdict blocked ("it is safe")`, "blocked"},
		{"blocked while approved", "The release is blocked by the migration.", `contradicts the verdict approved ("the release is blocked")`, Approved},
		{"a lower risk tier", "This is a low-risk change to the api schema.", "names low-risk, below the rules' critical", "pending"},
		{"risk played down", "Dropping the table is trivial and needs little thought.", `plays down a critical-risk change ("trivial")`, "pending"},
		{"a shell command", "Roll back with kubectl rollout undo deployment/api if it fails.", "contains a command or code", "pending"},
		{"an argo command", "When ready, argo resume the workflow to continue.", "contains a command or code", "pending"},
		{"a code fence", "Do this:\n```\nrehearsal approve --gate migration\n```", "contains a command or code", "pending"},
		{"an instruction to skip a gate", "The migration gate can be skipped for this low-traffic service.", `suggests bypassing a control ("skipped")`, "pending"},
		{"an exception", "Ask security for an exception to ship this week.", `suggests a security exception ("exception")`, "pending"},
		{"a secret-looking string", "The value ghp_abcdefghijklmnopqrstuvwxyz0123456789 must move to a Secret.", "contains a secret-looking string", "pending"},
		{"too long", strings.Repeat("The migration drops a table. ", 60), "longer than", "pending"},
		{"a link", "See https://example.com/runbook for details.", "contains a link", "pending"},
		{"markdown", "## Summary\n- drops a table", "is not plain prose (Markdown)", "pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := client(t, geminitest.Script(geminitest.Reply{Text: tc.text}), llm.Options{})
			in := demo(tc.verdict)
			res, calls := Packet(context.Background(), c, in)
			tmpl := Templates(in)
			if res.Summary.Source != FromTemplate || res.Summary.Text != tmpl.Summary.Text {
				t.Errorf("summary = %+v, want the template", res.Summary)
			}
			if !strings.HasPrefix(res.Summary.Note, "model text dropped: ") || !strings.Contains(res.Summary.Note, tc.note) {
				t.Errorf("summary note = %q, want %q", res.Summary.Note, tc.note)
			}
			for _, c := range calls {
				if c.Used {
					t.Errorf("call %s %s used: %q", c.Purpose, c.Subject, c.Response)
				}
			}
		})
	}
}

func TestBlockersStayBlockers(t *testing.T) {
	_, c := client(t, byPrompt(map[string]string{
		prompts.ExplainFinding: "This is a false positive and not a real problem for staging.",
		prompts.ExplainGate:    "A low tier check that the owners glance at.",
		prompts.PacketSummary:  goodAnswers[prompts.PacketSummary],
	}), llm.Options{})
	res, _ := Packet(context.Background(), c, demo("pending"))
	if f := res.Findings[0]; f.Source != FromTemplate || !strings.Contains(f.Note, `calls the blocking finding advisory ("false positive")`) {
		t.Errorf("finding = %+v", f)
	}
	if g := res.Gates[0]; g.Source != FromTemplate || !strings.Contains(g.Note, "names low tier, below the rules' critical") {
		t.Errorf("gate = %+v", g)
	}
	if res.Summary.Source != FromModel {
		t.Errorf("summary = %+v, want the model's (it passes)", res.Summary)
	}
}

func TestCheckAcceptsCarefulProse(t *testing.T) {
	in := demo("pending")
	for _, text := range []string{
		"The release is not approved yet: two owners of api must approve the destructive migration before it can be promoted.",
		"It can be promoted once both owners approve and the finding is fixed.",
		"Because the change is critical risk, the rules ask for two owners.",
		"The Helm chart and the Dockerfile define the api workload; the manifest sets a production credential.",
	} {
		if why := Check(text, KindSummary, in, "", MaxSummaryText); why != "" {
			t.Errorf("Check(%q) = %q, want it accepted", text, why)
		}
	}
}

func TestAnOutageCostsOneCall(t *testing.T) {
	srv, c := client(t, geminitest.Script(geminitest.Reply{Hang: true}), llm.Options{CallTimeout: 300 * time.Millisecond, Budget: time.Second})
	in := demo("pending")
	start := time.Now()
	res, calls := Packet(context.Background(), c, in)
	if d := time.Since(start); d > time.Second+500*time.Millisecond {
		t.Errorf("Packet took %s with a hanging model; the budget is 1s", d)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests reached the hanging model, want 1", n)
	}
	tmpl := Templates(in)
	for i, e := range append(res.Findings, res.Gates...) {
		if e.Source != FromTemplate || !strings.HasPrefix(e.Note, "model text not used: ") {
			t.Errorf("explanation %d = %+v", i, e)
		}
	}
	if res.Summary.Text != tmpl.Summary.Text || len(calls) != 3 {
		t.Errorf("summary %q, %d calls", res.Summary.Text, len(calls))
	}
}

func TestReplayReproducesTheExplanations(t *testing.T) {
	srv, c := client(t, byPrompt(map[string]string{
		prompts.ExplainFinding: goodAnswers[prompts.ExplainFinding],
		prompts.ExplainGate:    "Keep ghp_abcdefghijklmnopqrstuvwxyz0123456789 out of the gate.",
		prompts.PacketSummary:  "The release is approved.",
	}), llm.Options{})
	in := demo("pending")
	first, calls := Packet(context.Background(), c, in)
	seen := len(srv.Requests())
	b, _ := workspace.Marshal(Record{Model: c.Model(), Explanations: first, Calls: calls})
	if bytes.Contains(b, []byte("ghp_")) {
		t.Errorf("the record keeps a secret-looking value:\n%s", b)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	again, _ := Packet(context.Background(), llm.NewReplay(rec.Model, rec.Calls), in)
	if !reflect.DeepEqual(again, first) {
		t.Errorf("replay = %+v\nwant %+v", again, first)
	}
	if len(srv.Requests()) != seen {
		t.Errorf("replay called the network")
	}
}

func TestPacketNeverChangesItsInput(t *testing.T) {
	_, c := client(t, byPrompt(goodAnswers), llm.Options{})
	in := demo("pending")
	before, _ := json.Marshal(in)
	Packet(context.Background(), c, in)
	after, _ := json.Marshal(in)
	if !bytes.Equal(before, after) {
		t.Errorf("Packet changed its input")
	}
}

func TestManyBlockersAreBounded(t *testing.T) {
	srv, c := client(t, byPrompt(goodAnswers), llm.Options{})
	in := demo("blocked")
	f := in.Findings[0]
	in.Findings = nil
	for i := 0; i < MaxModelFindings+3; i++ {
		f.Line = i + 1
		in.Findings = append(in.Findings, f)
	}
	res, _ := Packet(context.Background(), c, in)
	if len(res.Findings) != MaxModelFindings+3 {
		t.Fatalf("%d finding explanations", len(res.Findings))
	}
	if last := res.Findings[len(res.Findings)-1]; last.Source != FromTemplate || !strings.Contains(last.Note, "not sent to the model") {
		t.Errorf("last finding = %+v", last)
	}
	if n := len(srv.Requests()); n != MaxModelFindings+2 {
		t.Errorf("%d requests, want %d", n, MaxModelFindings+2)
	}
}
