package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/fixtures"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
)

const shippedRules = "../../rules"

// rehearsal runs the CLI in-process and returns the exit code and outputs.
func rehearsal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustCode(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errs := rehearsal(t, args...)
	if code != want {
		t.Fatalf("rehearsal %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

// sampleRepo generates the sample repository and writes its catalog.
func sampleRepo(t *testing.T) (repo, cat string) {
	t.Helper()
	dir := t.TempDir()
	repo = filepath.Join(dir, "repo")
	if _, err := sample.Generate(context.Background(), fixtures.Sample(), repo); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../fixtures/sample/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat = filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(cat, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, cat
}

func TestDemoFlow(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	out, _ := mustCode(t, exitcode.Pending, "run", "--demo", "--rules", shippedRules, "--workspace", ws)
	for _, want := range []string{`stopped at gate "migration" (tier critical)`, "needs 2 approval(s) from team-api, not alice", "rehearsal approve --workspace " + ws + " --gate migration"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.PacketFile)); err == nil {
		t.Errorf("a packet was written while a gate is open")
	}

	// The author may not approve: exit 1, nothing recorded.
	_, errs := mustCode(t, exitcode.Negative, "approve", "--workspace", ws, "--gate", "migration", "--as", "alice")
	if !strings.Contains(errs, "alice is the change's author") {
		t.Errorf("author refusal says %q", errs)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.ApprovalFile("migration"))); err == nil {
		t.Errorf("the refused approval was recorded")
	}
	// A decision outside the enum is bad input.
	mustCode(t, exitcode.BadInput, "approve", "--workspace", ws, "--gate", "migration", "--as", "bob", "--decision", "maybe")

	mustCode(t, exitcode.Pending, "approve", "--workspace", ws, "--gate", "migration", "--as", "bob", "--comment", "checked")
	out, _ = mustCode(t, exitcode.OK, "approve", "--workspace", ws, "--gate", "migration", "--as", "frank")
	if !strings.Contains(out, "verdict: approved") {
		t.Errorf("final approve output:\n%s", out)
	}
	var p packet.Packet
	if err := workspace.ReadJSON(ws, workspace.PacketFile, &p); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, e := range p.Audit {
		nodes = append(nodes, e.Node)
		if e.Step == "classify" && e.Outputs[workspace.ChangeFile] == "" {
			t.Errorf("classify audit entry lacks the change.json digest: %+v", e)
		}
	}
	// Scan runs before the gate, so reviewers see its findings; mask and
	// plan run in parallel after it, so either may start first.
	ran := slices.Clone(nodes)
	if len(ran) == 7 {
		slices.Sort(ran[5:])
	}
	if got, want := strings.Join(ran, ","), "classify,coordinate,scan,gate-migration.bob,gate-migration.frank,mask,plan"; got != want {
		t.Errorf("packet audit nodes = %s, want %s (mask and plan in either order)", strings.Join(nodes, ","), want)
	}
	// The test-data architect masked the bundled shop data on the embedded
	// server after the gate, and verified it.
	if d := p.Summary.Dataset; d == nil || !d.Verified || d.Tables == 0 || d.TargetRows == 0 || p.Files[workspace.DatasetFile] == "" {
		t.Errorf("packet dataset summary = %+v, want a verified dataset", d)
	}
	// The security guardian scanned the manifests snapshot; its findings are
	// in the packet, and the sample manifests have no blocker.
	if p.Summary.Findings == nil || p.Summary.Findings.Blockers != 0 || p.Files[workspace.FindingsFile] == "" || p.Files[workspace.SARIFFile] == "" {
		t.Errorf("packet findings summary = %+v, files %v; want the scan's findings without blockers", p.Summary.Findings, p.Files)
	}
	// The plan node ran after the migration gate, on the manifests snapshot
	// of the head revision, and its outputs are in the packet.
	for _, f := range []string{workspace.PlanFile, workspace.RunbookFile, "rollouts/api.yaml", "manifests/deploy/api/deployment.yaml"} {
		if p.Files[f] == "" {
			t.Errorf("packet does not list %s: %v", f, p.Files)
		}
	}
	var plan workspace.Plan
	if err := workspace.ReadJSON(ws, workspace.PlanFile, &plan); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, st := range plan.Steps {
		actions = append(actions, st.ID)
	}
	if got, want := strings.Join(actions, ","), "migrate-api,deploy-api,verify-api,contract-api"; got != want {
		t.Errorf("demo plan steps = %s, want %s (expand, canary deploy, verify, gated contract)", got, want)
	}
	out, _ = mustCode(t, exitcode.OK, "packet", "verify", ws)
	if !strings.Contains(out, "verified: verdict approved") {
		t.Errorf("verify output:\n%s", out)
	}
	out, _ = mustCode(t, exitcode.OK, "packet", "replay", ws, "--rules", shippedRules)
	if !strings.Contains(out, "replay identical") {
		t.Errorf("replay output:\n%s", out)
	}

	// One changed byte in an approval is caught.
	path := filepath.Join(ws, workspace.ApprovalFile("migration"))
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("frank"), []byte("frenk"), 1), 0o644)
	out, errs = mustCode(t, exitcode.Negative, "packet", "verify", ws)
	if !strings.Contains(out+errs, "approvals/migration.json") {
		t.Errorf("tampered packet: verify did not name the file:\n%s%s", out, errs)
	}
	os.WriteFile(path, b, 0o644)

	// A replay with one rule changed names the rule.
	rules := t.TempDir()
	for _, f := range []string{"classify.yaml", "route.yaml", "gates.yaml", "plan.yaml"} {
		src, _ := os.ReadFile(filepath.Join(shippedRules, f))
		os.WriteFile(filepath.Join(rules, f), src, 0o644)
	}
	g, _ := os.ReadFile(filepath.Join(rules, "gates.yaml"))
	os.WriteFile(filepath.Join(rules, "gates.yaml"), bytes.Replace(g, []byte("change.risk == 'critical' && change.facts.exists(k, k == 'destructive')"), []byte("false"), 1), 0o644)
	out, _ = mustCode(t, exitcode.Negative, "packet", "replay", ws, "--rules", rules)
	for _, want := range []string{"node gate-migration is gone: rule gate.destructive-migration-critical no longer puts it there"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay with a changed rule lacks %q:\n%s", want, out)
		}
	}
	os.WriteFile(filepath.Join(rules, "gates.yaml"), g, 0o644)
	// A changed plan rule: the critical service is no longer canaried.
	mustReplace(t, filepath.Join(rules, "plan.yaml"), "service.tier == 'critical'\n", "false\n")
	out, _ = mustCode(t, exitcode.Negative, "packet", "replay", ws, "--rules", rules)
	if want := "plan: service api strategy canary by rule plan.strategy.risky-canary, recorded canary by rule plan.strategy.critical-canary"; !strings.Contains(out, want) {
		t.Errorf("replay with a changed plan rule lacks %q:\n%s", want, out)
	}
}

func mustReplace(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApproveRefusesChangedRules: the plan node that runs after the gate uses
// the rules the run was coordinated with; other rules are refused.
func TestApproveRefusesChangedRules(t *testing.T) {
	ws := t.TempDir()
	mustCode(t, exitcode.Pending, "run", "--demo", "--rules", shippedRules, "--workspace", ws)
	mustCode(t, exitcode.Pending, "approve", "--workspace", ws, "--gate", "migration", "--as", "bob")
	rules := t.TempDir()
	for _, f := range []string{"classify.yaml", "classify_test.yaml", "gates.yaml", "gates_test.yaml", "route.yaml", "route_test.yaml", "plan.yaml", "plan_test.yaml"} {
		src, _ := os.ReadFile(filepath.Join(shippedRules, f))
		os.WriteFile(filepath.Join(rules, f), src, 0o644)
	}
	p, _ := os.ReadFile(filepath.Join(rules, "plan.yaml"))
	os.WriteFile(filepath.Join(rules, "plan.yaml"), bytes.Replace(p, []byte("latencyP95: 300ms"), []byte("latencyP95: 900ms"), 1), 0o644)
	_, errs := mustCode(t, exitcode.BadInput, "approve", "--workspace", ws, "--gate", "migration", "--as", "frank", "--rules", rules)
	if !strings.Contains(errs, "are not the rules this run was coordinated with") {
		t.Errorf("approve with changed rules says %q", errs)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.PlanFile)); err == nil {
		t.Errorf("plan.json was written with rules the run was not coordinated with")
	}
}

func TestRunWithApproveFlags(t *testing.T) {
	ws := t.TempDir()
	mustCode(t, exitcode.OK, "run", "--demo", "--rules", shippedRules, "--workspace", ws,
		"--approve", "migration=bob", "--approve", "migration=frank")
	mustCode(t, exitcode.OK, "packet", "verify", ws)
}

func TestRejectWritesPacket(t *testing.T) {
	ws := t.TempDir()
	mustCode(t, exitcode.Pending, "run", "--demo", "--rules", shippedRules, "--workspace", ws)
	out, _ := mustCode(t, exitcode.Negative, "approve", "--workspace", ws, "--gate", "migration", "--as", "bob", "--decision", "reject", "--comment", "no backup")
	if !strings.Contains(out, "verdict: rejected") {
		t.Errorf("reject output:\n%s", out)
	}
	var p packet.Packet
	if err := workspace.ReadJSON(ws, workspace.PacketFile, &p); err != nil || p.Verdict != "rejected" {
		t.Fatalf("packet verdict = %q (%v), want rejected", p.Verdict, err)
	}
	// The rule that placed the gate names the remediation the rejection opens.
	want := []packet.Task{{Gate: "migration", ID: "rework-migration", Groups: []string{"team-api"},
		Task: "rewrite the migration as expand/contract so no step destroys data the running version reads"}}
	if !reflect.DeepEqual(p.Summary.Remediation, want) {
		t.Errorf("packet remediation = %+v, want %+v", p.Summary.Remediation, want)
	}
	md, _ := os.ReadFile(filepath.Join(ws, workspace.PacketMD))
	if !strings.Contains(string(md), "## Remediation") || !strings.Contains(string(md), "rework-migration") {
		t.Errorf("packet.md has no remediation section:\n%s", md)
	}
	mustCode(t, exitcode.OK, "packet", "verify", ws)
}

func TestDocsChangeNeedsNoGate(t *testing.T) {
	repo, cat := sampleRepo(t)
	ws := t.TempDir()
	out, _ := mustCode(t, exitcode.OK, "run", "--repo", repo, "--base", "initial", "--head", "docs", "--catalog", cat, "--rules", shippedRules, "--workspace", ws)
	if !strings.Contains(out, "verdict: approved") {
		t.Errorf("docs run output:\n%s", out)
	}
	var c workspace.Change
	if err := workspace.ReadJSON(ws, workspace.ChangeFile, &c); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Classes, ",") != "docs" || c.Risk != "low" {
		t.Errorf("docs change: classes %v risk %s, want [docs] low", c.Classes, c.Risk)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.WorkflowFile)); err == nil {
		t.Errorf("a docs change emitted a workflow with nothing to run")
	}
}

func TestBadInput(t *testing.T) {
	repo, cat := sampleRepo(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing revision", []string{"run", "--repo", repo, "--base", "v9", "--head", "docs", "--catalog", cat, "--rules", shippedRules}, "v9"},
		{"no source", []string{"run", "--rules", shippedRules}, "give exactly one of"},
		{"malformed --approve", []string{"run", "--demo", "--approve", "migration"}, "want GATE=USER"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
		{"approve without a run", []string{"approve", "--gate", "g", "--as", "bob"}, "holds no run"},
		{"rules with errors", []string{"rules", "test", "../rules/testdata/bad-cel-type"}, "classify.yaml:6:31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--workspace", t.TempDir())
			if tt.args[0] == "rules" {
				args = tt.args
			}
			_, errs := mustCode(t, exitcode.BadInput, args...)
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", errs, tt.want)
			}
		})
	}
}

func TestWorkspaceWithARunIsRefused(t *testing.T) {
	ws := t.TempDir()
	mustCode(t, exitcode.Pending, "run", "--demo", "--rules", shippedRules, "--workspace", ws)
	before, _ := os.ReadFile(filepath.Join(ws, workspace.ChangeFile))
	_, errs := mustCode(t, exitcode.BadInput, "run", "--demo", "--rules", shippedRules, "--workspace", ws)
	if !strings.Contains(errs, "already holds a run") {
		t.Errorf("stderr = %q", errs)
	}
	after, _ := os.ReadFile(filepath.Join(ws, workspace.ChangeFile))
	if !bytes.Equal(before, after) {
		t.Errorf("the refused run changed change.json")
	}
}

func TestRulesTest(t *testing.T) {
	out, _ := mustCode(t, exitcode.OK, "rules", "test", shippedRules)
	if !strings.Contains(out, " passed, 0 warnings, 0 failures") {
		t.Errorf("rules test output:\n%s", out)
	}
	out, _ = mustCode(t, exitcode.Negative, "rules", "test", "../rules/testdata/failing-case")
	if !strings.Contains(out, "FAIL - ../rules/testdata/failing-case/classify_test.yaml:4 - expects the wrong class") || !strings.Contains(out, "1 tests, 0 passed, 0 warnings, 1 failures") {
		t.Errorf("failing case output:\n%s", out)
	}
}

func TestRenderPrintsTheWorkflow(t *testing.T) {
	out, _ := mustCode(t, exitcode.OK, "render", "--demo", "--rules", shippedRules, "--workspace", t.TempDir(), "--namespace", "rehearsal")
	for _, want := range []string{"kind: Workflow", "namespace: rehearsal", "rehearsal-gate"} {
		if !strings.Contains(out, want) {
			t.Errorf("render output lacks %q:\n%s", want, out)
		}
	}
}
