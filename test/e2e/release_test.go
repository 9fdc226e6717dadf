//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// The sample change: a destructive migration on the critical api service,
// authored by alice. The rules make it risk critical, with the two-person gate
// "migration" for team-api (alice, bob, frank), not the author.
const (
	base = "app"
	head = "migration"
	gate = "migration"
)

// TestRelease drives the sample release twice at once, approved by two owners
// after the author was refused, and rejected by an owner; meanwhile the
// nightly CronWorkflow fires on its (forced) schedule.
func TestRelease(t *testing.T) {
	t.Run("approved by two owners after the author is refused", func(t *testing.T) {
		t.Parallel()
		testApproved(t)
	})
	t.Run("rejected by an owner", func(t *testing.T) {
		t.Parallel()
		testRejected(t)
	})
	t.Run("the nightly CronWorkflow fires and completes", func(t *testing.T) {
		t.Parallel()
		testNightly(t)
	})
}

func testApproved(t *testing.T) {
	start := time.Now()
	parent := submitRelease(t, base, head)
	child := waitChild(t, parent)
	first := waitSuspended(t, child)
	timing(t, "submit -> child created -> gate suspended", time.Since(start))

	// The author may not approve her own change: verify refuses, records
	// nothing, says so, and the gate opens again.
	decide(t, child, first.ID, "alice", "approve", "my own change, looks fine")
	rs := waitRounds(t, child, 1)
	if rs[0].Phase != wfv1.NodeSucceeded || rs[0].State != "refused" ||
		!strings.Contains(rs[0].Message, "refused alice: alice is the change's author and may not approve gate \"migration\"") {
		t.Fatalf("round 1 (alice) = %+v, want a refusal naming alice as the author, the run going on", rs[0])
	}
	second := waitSuspended(t, child, first.ID)

	decide(t, child, second.ID, "bob", "approve", "expand/contract checked")
	rs = waitRounds(t, child, 2)
	if rs[1].State != "pending" || !strings.Contains(rs[1].Message, "needs 2 distinct approvers, has 1 (bob)") {
		t.Fatalf("round 2 (bob) = %+v, want pending, one more approver needed", rs[1])
	}
	third := waitSuspended(t, child, first.ID, second.ID)

	resumed := time.Now()
	decide(t, child, third.ID, "frank", "approve", "backup verified")
	wf := waitFinished(t, parent)
	timing(t, "last resume -> release Succeeded (gate, child, packet)", time.Since(resumed))
	timing(t, "whole approved release (3 gate rounds)", time.Since(start))
	if wf.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("release %s ended %s (%s), want Succeeded", parent, wf.Status.Phase, wf.Status.Message)
	}
	if c, err := workflow(context.Background(), child); err != nil || c.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("child %s = %v (%v), want Succeeded", child, c.Status.Phase, err)
	}
	if rs := waitRounds(t, child, 3); rs[2].State != "approved" || rs[2].Message != "approved by bob, frank" {
		t.Errorf("round 3 (frank) = %+v, want approved by bob, frank", rs[2])
	}
	if got := output(nodeByName(t, wf, "packet"), "verdict"); got != "approved" {
		t.Errorf("packet step verdict = %q, want approved", got)
	}

	dir := workspaceDir(t, parent)
	p := readPacket(t, dir)
	if p.Verdict != "approved" {
		t.Errorf("packet verdict = %q (%s), want approved", p.Verdict, p.Reason)
	}
	a := approval(t, p)
	if !slices.Equal(a.Approvers, []string{"bob", "frank"}) || !a.Verified || a.Decision != "approve" {
		t.Errorf("packet approval = %+v, want approved and verified by bob, frank", a)
	}
	for _, r := range a.Records {
		if r.User == "alice" {
			t.Errorf("packet records alice's refused decision %+v; a refusal must record nothing", r)
		}
		if r.Source != "argo" || !strings.HasPrefix(r.Claims["User"], "system:serviceaccount:"+cfg.namespace+":") {
			t.Errorf("record %+v: want source argo with argo server's claims", r)
		}
	}
	// The specialists ran as pods of the child Workflow: the security
	// guardian before the gate, the test-data architect (without the
	// database Secrets: the embedded demo) and the deploy designer after it.
	if p.Summary.Findings == nil || p.Summary.Findings.Blockers != 0 {
		t.Errorf("packet findings summary = %+v, want the scan's findings without blockers", p.Summary.Findings)
	}
	if d := p.Summary.Dataset; d == nil || !d.Verified || d.TargetRows == 0 {
		t.Errorf("packet dataset summary = %+v, want a verified dataset", d)
	}
	if p.Summary.Plan == nil || len(p.Summary.Plan.Services) == 0 {
		t.Errorf("packet plan summary = %+v, want the deploy plan", p.Summary.Plan)
	}
	verifyPacket(t, dir)
}

func testRejected(t *testing.T) {
	start := time.Now()
	parent := submitRelease(t, base, head)
	child := waitChild(t, parent)
	n := waitSuspended(t, child)
	timing(t, "submit -> gate suspended (reject path)", time.Since(start))
	resumed := time.Now()
	decide(t, child, n.ID, "bob", "reject", "no backup of the orders table")
	wf := waitFinished(t, parent)
	timing(t, "resume (reject) -> release Failed", time.Since(resumed))
	if wf.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("release %s ended %s, want Failed", parent, wf.Status.Phase)
	}
	if rs := rounds(mustWorkflow(t, child)); len(rs) != 1 || rs[0].Phase != wfv1.NodeFailed || rs[0].State != "rejected" {
		t.Errorf("verify rounds = %+v, want one Failed round with state rejected", rs)
	}
	if got := nodeByName(t, wf, "packet").Phase; got != wfv1.NodeFailed {
		t.Errorf("packet step %s, want Failed (exit 1: verdict rejected) after running", got)
	}
	dir := workspaceDir(t, parent)
	p := readPacket(t, dir)
	if p.Verdict != "rejected" {
		t.Errorf("packet verdict = %q, want rejected", p.Verdict)
	}
	a := approval(t, p)
	if a.Decision != "reject" || !a.Verified || !strings.Contains(a.Reason, "rejected by bob: no backup of the orders table") {
		t.Errorf("packet approval = %+v, want bob's verified rejection with his comment", a)
	}
	verifyPacket(t, dir)
}

// TestRulesSwap changes a rule in the rules ConfigMap, with no image rebuilt:
// the gate rule for destructive migrations on critical services no longer
// fires, so the same change now gets a graph without the gate: no approval is
// asked for (and, while no specialist step is routed, no child Workflow at
// all), and the packet records the new rules digest.
func TestRulesSwap(t *testing.T) {
	ctx := context.Background()
	before := rulesConfigMap(t, nil)
	original, err := os.ReadFile(filepath.Join(root, "rules", "gates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const rule = "when: change.risk == 'critical' && change.facts.exists(k, k == 'destructive')"
	if !strings.Contains(string(original), rule) {
		t.Fatalf("rules/gates.yaml no longer holds %q; update this test's swap", rule)
	}
	swapped := strings.Replace(string(original), rule, `when: "false" # swapped by the e2e test`, 1)
	applyRules(t, rulesConfigMap(t, map[string]string{"gates.yaml": swapped}))
	t.Cleanup(func() { applyRules(t, before) })

	start := time.Now()
	parent := submitRelease(t, base, head)
	wf := waitFinished(t, parent)
	timing(t, "release with the swapped rules (no gate)", time.Since(start))
	if wf.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("release %s ended %s (%s), want Succeeded", parent, wf.Status.Phase, wf.Status.Message)
	}
	coordinate := nodeByName(t, wf, "coordinate")
	if got := output(coordinate, "gates"); got != "" {
		t.Errorf("coordinate placed gates %q, want none", got)
	}
	dir := workspaceDir(t, parent)
	var g workspace.Graph
	if err := workspace.ReadJSON(dir, workspace.GraphFile, &g); err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Gate != nil || n.Step == "gate" {
			t.Errorf("graph.json node %s is a gate, want none", n.ID)
		}
	}
	l, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelRun + "=" + parent})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) == 0 {
		if n := nodeByName(t, wf, "child"); n.Phase != wfv1.NodeSkipped || len(l.Items) != 0 {
			t.Errorf("empty graph: child step %s with %d child Workflows, want Skipped and none", n.Phase, len(l.Items))
		}
	}
	for _, c := range l.Items {
		for _, n := range c.Status.Nodes {
			if n.Type == wfv1.NodeTypeSuspend {
				t.Errorf("child %s has suspend node %s, want no gate", c.Name, n.Name)
			}
		}
	}
	t.Logf("with the swapped rules: %d graph nodes, %d child Workflows, no gate", len(g.Nodes), len(l.Items))
	p := readPacket(t, dir)
	if len(p.Approvals) != 0 || p.Verdict != "approved" {
		t.Errorf("packet: %d approvals, verdict %s; want no approvals, approved", len(p.Approvals), p.Verdict)
	}
	if g.RulesDigest == "" || g.RulesDigest != p.RulesDigest {
		t.Errorf("graph rules digest %q, packet %q: want the swapped set's digest in both", g.RulesDigest, p.RulesDigest)
	}
	verifyPacket(t, dir)
	// The repository's rules (what the other runs used) have another digest.
	out, err := execOut(cli, "rules", "test", filepath.Join(root, "rules"))
	if err != nil {
		t.Fatalf("rehearsal rules test rules/: %v\n%s", err, out)
	}
	if strings.Contains(out, p.RulesDigest) {
		t.Errorf("the repository's rules have the swapped digest %s; the swap changed nothing", p.RulesDigest)
	}
}

// testNightly makes the project's CronWorkflow fire on its schedule: the
// schedule is forced to every minute (and the repository to the sample's, a
// docs-only change, which needs no gate) until the cron controller has
// started one Workflow; then the CronWorkflow is put back as deployed. The
// Workflow runs the release template and completes.
func testNightly(t *testing.T) {
	name := fireCron(t, "rehearsal-nightly", map[string]string{"repo": repoURL, "base": "initial", "head": "docs"})
	fired := time.Now()
	wf := waitFinished(t, name)
	timing(t, "nightly CronWorkflow run (docs change, no gate)", time.Since(fired))
	if wf.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("nightly run %s ended %s (%s), want Succeeded", name, wf.Status.Phase, wf.Status.Message)
	}
	if wf.Annotations["workflows.argoproj.io/scheduled-time"] == "" {
		t.Errorf("run %s has no scheduled-time annotation; the cron controller did not start it", name)
	}
	if got := output(nodeByName(t, wf, "classify"), "risk"); got != "low" {
		t.Errorf("classify risk = %q, want low (docs only)", got)
	}
	p := readPacket(t, workspaceDir(t, name))
	if p.Verdict != "approved" {
		t.Errorf("packet verdict = %q, want approved", p.Verdict)
	}
}

func approval(t *testing.T, p packetFile) workspace.Approval {
	t.Helper()
	for _, a := range p.Approvals {
		if a.Gate == gate {
			return a
		}
	}
	t.Fatalf("packet has no approval for gate %q: %+v", gate, p.Approvals)
	return workspace.Approval{}
}

func mustWorkflow(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	wf, err := workflow(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

// rulesConfigMap builds the rules ConfigMap from the files rules/kustomization.yaml
// lists, with the contents in replace taking the place of those files.
func rulesConfigMap(t *testing.T, replace map[string]string) []byte {
	t.Helper()
	dir := filepath.Join(root, "rules")
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil || len(k.ConfigMapGenerator) != 1 {
		t.Fatalf("rules/kustomization.yaml: %v (want one configMapGenerator)", err)
	}
	data := map[string]string{}
	for _, f := range k.ConfigMapGenerator[0].Files {
		c, ok := replace[f]
		if !ok {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			c = string(b)
		}
		data[f] = c
	}
	cm := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": k.ConfigMapGenerator[0].Name, "namespace": cfg.namespace},
		"data":     data,
	}
	out, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func applyRules(t *testing.T, manifest []byte) {
	t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", cfg.kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(string(manifest))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply the rules ConfigMap: %v\n%s", err, out)
	}
}

// execOut runs a program and returns its combined output.
func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// fireCron makes a deployed CronWorkflow fire on its schedule: the schedule
// is forced to every minute (and the given workflow arguments set) until the
// cron controller has started one Workflow; then the CronWorkflow is put
// back as deployed. It returns the Workflow's name.
func fireCron(t *testing.T, cronName string, args map[string]string) string {
	t.Helper()
	ctx := context.Background()
	crons := argoCS.ArgoprojV1alpha1().CronWorkflows(cfg.namespace)
	cron, err := crons.Get(ctx, cronName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deployed := cron.Spec.DeepCopy()
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		// The cron controller writes the CronWorkflow's status meanwhile:
		// read and write again on a conflict.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			c, err := crons.Get(ctx, cronName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			c.Spec = *deployed
			_, err = crons.Update(ctx, c, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Errorf("restore CronWorkflow %s: %v", cronName, err)
		}
	}
	t.Cleanup(restore)
	selector := "workflows.argoproj.io/cron-workflow=" + cronName
	before, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	earlier := map[string]bool{}
	for _, w := range before.Items {
		earlier[w.Name] = true
	}
	forced := time.Now()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := crons.Get(ctx, cronName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Spec.Schedules = []string{"* * * * *"}
		for i, p := range c.Spec.WorkflowSpec.Arguments.Parameters {
			if v, ok := args[p.Name]; ok {
				c.Spec.WorkflowSpec.Arguments.Parameters[i].Value = wfv1.AnyStringPtr(v)
			}
		}
		_, err = crons.Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("force the schedule of CronWorkflow %s: %v", cronName, err)
	}
	var name string
	waitFor(t, "CronWorkflow "+cronName+" to fire (within the next minute)", 90*time.Second, func(ctx context.Context) (bool, error) {
		l, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		for _, w := range l.Items {
			if !earlier[w.Name] {
				name = w.Name
				return true, nil
			}
		}
		return false, nil
	})
	restore() // one run is enough; Forbid keeps a second from overlapping meanwhile
	t.Logf("CronWorkflow %s fired %s after %.1fs", cronName, name, time.Since(forced).Seconds())
	t.Cleanup(func() {
		if t.Failed() {
			dump(t, name)
		}
	})
	return name
}
