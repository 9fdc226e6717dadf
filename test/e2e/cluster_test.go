//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
)

var metav1GetOptions = metav1.GetOptions{}

// Labels the release sets on the child Workflow it creates.
const labelRun = "rehearsal.dev/run"

// submitRelease submits the sample change the way a CI job does:
// `argo submit --from workflowtemplate/rehearsal-release -p …`. It returns the
// parent Workflow's name, and dumps the run's nodes if the test fails.
func submitRelease(t *testing.T, base, head string) string {
	t.Helper()
	out, err := argoCLI(context.Background(), "submit", "--from", "workflowtemplate/rehearsal-release",
		"-p", "repo="+repoURL, "-p", "base="+base, "-p", "head="+head, "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(out))
	t.Logf("submitted %s (%s..%s)", name, base, head)
	t.Cleanup(func() {
		if t.Failed() {
			dump(t, name)
		}
	})
	return name
}

// workflow reads a Workflow with its node status decompressed.
func workflow(ctx context.Context, name string) (*wfv1.Workflow, error) {
	wf, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if err := packer.DecompressWorkflow(wf); err != nil {
		return nil, err
	}
	return wf, nil
}

// waitFor polls cond until it holds, failing the test after timeout with
// what it waited for and the last error.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, err)
		}
		time.Sleep(poll)
	}
}

// waitFinished waits until the Workflow has finished and returns it.
func waitFinished(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	var wf *wfv1.Workflow
	waitFor(t, "workflow "+name+" to finish", waitWorkflow, func(ctx context.Context) (bool, error) {
		var err error
		wf, err = workflow(ctx, name)
		return err == nil && wf.Status.Fulfilled() && !wf.Status.FinishedAt.IsZero(), err
	})
	return wf
}

// waitChild waits for the Workflow the parent's coordinator emitted and the
// `child` step created (labelled with the parent's name, owned by it).
func waitChild(t *testing.T, parent string) string {
	t.Helper()
	var child string
	waitFor(t, "the child Workflow of "+parent, waitStep, func(ctx context.Context) (bool, error) {
		l, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelRun + "=" + parent})
		if err != nil || len(l.Items) == 0 {
			return false, err
		}
		if len(l.Items) > 1 {
			return false, fmt.Errorf("%d child Workflows", len(l.Items))
		}
		c := l.Items[0]
		if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].Name != parent {
			t.Fatalf("child %s has owner references %+v, want the parent %s", c.Name, c.OwnerReferences, parent)
		}
		child = c.Name
		return true, nil
	})
	return child
}

// waitSuspended waits until the Workflow has a gate waiting for a decision (a
// running suspend node) other than the ones in seen, and returns it.
func waitSuspended(t *testing.T, name string, seen ...string) wfv1.NodeStatus {
	t.Helper()
	var node wfv1.NodeStatus
	waitFor(t, "a suspended approval node in "+name, waitStep, func(ctx context.Context) (bool, error) {
		wf, err := workflow(ctx, name)
		if err != nil {
			return false, err
		}
		if wf.Status.Fulfilled() {
			t.Fatalf("workflow %s finished %s (%s) while a gate was expected to wait", name, wf.Status.Phase, wf.Status.Message)
		}
		for _, n := range wf.Status.Nodes {
			if n.Type == wfv1.NodeTypeSuspend && n.Phase == wfv1.NodeRunning && !slices.Contains(seen, n.ID) {
				node = n
				return true, nil
			}
		}
		return false, nil
	})
	return node
}

// round is what one verify step of a gate reported.
type round struct {
	Phase   wfv1.NodePhase
	State   string
	Message string
}

// rounds returns the gate's verify steps that have finished, in order.
func rounds(wf *wfv1.Workflow) []round {
	var nodes []wfv1.NodeStatus
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && n.DisplayName == "verify" && n.Fulfilled() {
			nodes = append(nodes, n)
		}
	}
	slices.SortFunc(nodes, func(a, b wfv1.NodeStatus) int { return a.StartedAt.Compare(b.StartedAt.Time) })
	var rs []round
	for _, n := range nodes {
		r := round{Phase: n.Phase}
		if n.Outputs != nil {
			for _, p := range n.Outputs.Parameters {
				if p.Value == nil {
					continue
				}
				switch p.Name {
				case "state":
					r.State = p.Value.String()
				case "message":
					r.Message = p.Value.String()
				}
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// waitRounds waits until n verify steps have finished and returns them.
func waitRounds(t *testing.T, name string, n int) []round {
	t.Helper()
	var rs []round
	waitFor(t, fmt.Sprintf("%d verify rounds in %s", n, name), waitStep, func(ctx context.Context) (bool, error) {
		wf, err := workflow(ctx, name)
		if err != nil {
			return false, err
		}
		rs = rounds(wf)
		return len(rs) >= n, nil
	})
	return rs
}

// decide resumes the suspend node as the ServiceAccount user, through argo
// server's REST API with the user's bearer token, exactly as the UI's
// "Resume" with its form does: set the node's output parameters, then resume
// it (both select the node by id).
func decide(t *testing.T, wfName, nodeID, user, decision, comment string) {
	t.Helper()
	ctx := context.Background()
	exp := int64(600)
	tok, err := kubeCS.CoreV1().ServiceAccounts(cfg.namespace).CreateToken(ctx, user,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	params, err := json.Marshal(map[string]string{"decision": decision, "comment": comment})
	if err != nil {
		t.Fatal(err)
	}
	selector := "id=" + nodeID
	api := fmt.Sprintf("%s/api/v1/workflows/%s/%s", cfg.argoServer, cfg.namespace, wfName)
	put(t, tok.Status.Token, api+"/set", map[string]string{
		"namespace": cfg.namespace, "name": wfName, "nodeFieldSelector": selector, "outputParameters": string(params),
	})
	put(t, tok.Status.Token, api+"/resume", map[string]string{
		"namespace": cfg.namespace, "name": wfName, "nodeFieldSelector": selector,
	})
	t.Logf("%s resumed %s node %s: %s (%s)", user, wfName, nodeID, decision, comment)
}

// argoServerClient talks to argo server on loopback; its certificate is the
// self-signed one argo server makes at start-up.
var argoServerClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback, test cluster
}

func put(t *testing.T, token, url string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := argoServerClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s = %s: %s", url, resp.Status, rb)
	}
}

// nodeByName returns the node of wf with that display name.
func nodeByName(t *testing.T, wf *wfv1.Workflow, display string) wfv1.NodeStatus {
	t.Helper()
	for _, n := range wf.Status.Nodes {
		if n.DisplayName == display {
			return n
		}
	}
	t.Fatalf("workflow %s has no node %q", wf.Name, display)
	return wfv1.NodeStatus{}
}

func output(n wfv1.NodeStatus, name string) string {
	if n.Outputs == nil {
		return ""
	}
	for _, p := range n.Outputs.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}

// workspaceDir is the run's workspace as it stays on the node after the run:
// the hostPath of the PersistentVolume that was bound to the parent's claim
// (Argo deletes the claim; the volume keeps its name, reclaim policy Retain).
func workspaceDir(t *testing.T, parent string) string {
	t.Helper()
	pvs, err := kubeCS.CoreV1().PersistentVolumes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claim := parent + "-workspace"
	for _, pv := range pvs.Items {
		if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Name == claim && pv.Spec.HostPath != nil {
			return pv.Spec.HostPath.Path
		}
	}
	t.Fatalf("no PersistentVolume was bound to the claim %s", claim)
	return ""
}

// readPacket reads packet.json from a workspace.
func readPacket(t *testing.T, dir string) packetFile {
	t.Helper()
	var p packetFile
	b, err := os.ReadFile(filepath.Join(dir, "packet.json"))
	if err != nil {
		t.Fatalf("read the packet: %v", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("decode %s: %v", filepath.Join(dir, "packet.json"), err)
	}
	return p
}

// packetFile is the part of packet.json the tests check.
type packetFile struct {
	Verdict     string               `json:"verdict"`
	Reason      string               `json:"reason"`
	RulesDigest string               `json:"rulesDigest"`
	Approvals   []workspace.Approval `json:"approvals"`
	Graph       workspace.Graph      `json:"graph"`
	Summary     packet.Summary       `json:"summary"`
}

// verifyPacket runs `rehearsal packet verify DIR` (the CLI built from this
// tree) and requires it to pass.
func verifyPacket(t *testing.T, dir string) {
	t.Helper()
	out, err := execOut(cli, "packet", "verify", dir)
	if err != nil {
		t.Fatalf("rehearsal packet verify %s: %v\n%s", dir, err, out)
	}
	t.Logf("rehearsal packet verify: %s", strings.TrimSpace(out))
}

// dump logs every node of a run and of its child, for a failed test.
func dump(t *testing.T, parent string) {
	ctx := context.Background()
	names := []string{parent}
	if l, err := argoCS.ArgoprojV1alpha1().Workflows(cfg.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelRun + "=" + parent}); err == nil {
		for _, c := range l.Items {
			names = append(names, c.Name)
		}
	}
	for _, name := range names {
		wf, err := workflow(ctx, name)
		if err != nil {
			t.Logf("workflow %s: %v", name, err)
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "workflow %s: %s %s\n", name, wf.Status.Phase, wf.Status.Message)
		nodes := make([]wfv1.NodeStatus, 0, len(wf.Status.Nodes))
		for _, n := range wf.Status.Nodes {
			nodes = append(nodes, n)
		}
		slices.SortFunc(nodes, func(a, b wfv1.NodeStatus) int { return a.StartedAt.Compare(b.StartedAt.Time) })
		for _, n := range nodes {
			fmt.Fprintf(&b, "  %-40s %-9s %-10s %s\n", n.Name, n.Type, n.Phase, n.Message)
		}
		t.Log(b.String())
	}
}
