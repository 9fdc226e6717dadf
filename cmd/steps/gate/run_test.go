package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/file"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

const suspendNode = "rehearsal-child-x7k2p-3101457222"

// newWorkspace copies the gate step's test workspace (author alice; gate
// "migration": team-api or team-dba, two approvers, not the author, 24h).
func newWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{workspace.ChangeFile, workspace.GraphFile, workspace.CatalogFile} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "steps", "gate", "testdata", "ws", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadWorkflow(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(b, &wf); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return &wf
}

// apiServer serves stored Workflows the way kube-apiserver does, and points
// KUBECONFIG at itself.
func apiServer(t *testing.T, wfs ...*wfv1.Workflow) {
	t.Helper()
	byPath := map[string][]byte{}
	for _, wf := range wfs {
		b, err := json.Marshal(wf)
		if err != nil {
			t.Fatal(err)
		}
		byPath[fmt.Sprintf("/apis/argoproj.io/v1alpha1/namespaces/%s/workflows/%s", wf.Namespace, wf.Name)] = b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, ok := byPath[r.URL.Path]
		if r.Method != http.MethodGet || !ok {
			w.WriteHeader(http.StatusNotFound)
			name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"workflows.argoproj.io %q not found","reason":"NotFound","details":{"name":%q,"group":"argoproj.io","kind":"workflows"},"code":404}`, name, name)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
users:
- name: test
  user: {token: test-token}
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
}

func TestRun(t *testing.T) {
	argo := func(extra ...string) []string {
		return append([]string{"--gate", "migration", "--workflow", "rehearsal-child-x7k2p", "--node-id", suspendNode, "--namespace", "rehearsal"}, extra...)
	}
	mutate := func(name string, f func(wf *wfv1.Workflow)) func(t *testing.T) *wfv1.Workflow {
		return func(t *testing.T) *wfv1.Workflow {
			wf := loadWorkflow(t, name)
			f(wf)
			return wf
		}
	}
	node := func(wf *wfv1.Workflow) *wfv1.NodeStatus {
		n := wf.Status.Nodes[suspendNode]
		return &n
	}
	setNode := func(wf *wfv1.Workflow, n *wfv1.NodeStatus) { wf.Status.Nodes[suspendNode] = *n }

	tests := []struct {
		name         string
		workflow     func(t *testing.T) *wfv1.Workflow // served by the API server; nil = none
		args         []string
		wantCode     int
		wantDecision string // approvals/migration.json and the output parameter; "" = nothing recorded
		wantUser     string
		wantComment  string
		wantStderr   string
	}{
		{name: "local approval", args: []string{"--gate", "migration", "--as", "bob", "--decision", "approve", "--comment", "ok"},
			wantCode: 0, wantDecision: "pending", wantUser: "bob"},
		{name: "local approval, last round", args: []string{"--gate", "migration", "--as", "bob", "--decision", "approve", "--require-complete"},
			wantCode: 1, wantDecision: "pending", wantUser: "bob", wantStderr: `gate "migration" is not complete: needs 2 distinct approvers, has 1 (bob)`},
		{name: "local rejection", args: []string{"--gate", "migration", "--as", "carol", "--decision", "reject"},
			wantCode: 1, wantDecision: "reject", wantUser: "carol", wantStderr: `gate "migration" is rejected: rejected by carol`},
		{name: "the author", args: []string{"--gate", "migration", "--as", "alice", "--decision", "approve"},
			wantCode: 1, wantStderr: `alice is the change's author and may not approve gate "migration"`},
		{name: "decision outside the enum", args: []string{"--gate", "migration", "--as", "bob", "--decision", "maybe"},
			wantCode: 2, wantStderr: `decision "maybe" is not one of approve, reject`},
		{name: "no gate", args: []string{"--as", "bob", "--decision", "approve"}, wantCode: 2, wantStderr: "--gate is required"},
		{name: "no user", args: []string{"--gate", "migration", "--decision", "approve"}, wantCode: 2, wantStderr: "--as is required"},
		{name: "unknown flag", args: []string{"--gate", "migration", "--bogus"}, wantCode: 2, wantStderr: "flag provided but not defined: -bogus"},

		{name: "argo: resumed through argo-server", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}), args: argo(),
			wantCode: 0, wantDecision: "pending", wantUser: "bob", wantComment: "backup verified on staging"},
		{name: "argo: --decision matches the node", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}), args: argo("--decision", "approve"),
			wantCode: 0, wantDecision: "pending", wantUser: "bob"},
		{name: "argo: --decision contradicts the node", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}), args: argo("--decision", "reject"),
			wantCode: 2, wantStderr: `--decision "reject" does not match the decision "approve" recorded on node ` + suspendNode},
		{name: "argo: compressed node status", workflow: mutate("resumed.json", func(wf *wfv1.Workflow) {
			b, err := json.Marshal(wf.Status.Nodes)
			if err != nil {
				panic(err)
			}
			wf.Status.CompressedNodes = file.CompressEncodeString(string(b))
			wf.Status.Nodes = nil
		}), args: argo(), wantCode: 0, wantDecision: "pending", wantUser: "bob"},
		{name: "argo: resumed by the author", workflow: mutate("resumed.json", func(wf *wfv1.Workflow) {
			n := node(wf)
			n.Message = "Resumed by: map[Email:alice@example.com PreferredUsername:alice User:system:serviceaccount:rehearsal:alice]"
			setNode(wf, n)
			wf.Labels["workflows.argoproj.io/actor"] = "system-serviceaccount-rehearsal-alice"
			wf.Labels["workflows.argoproj.io/actor-email"] = "alice.at.example.com"
			wf.Labels["workflows.argoproj.io/actor-preferred-username"] = "alice"
		}), args: argo(), wantCode: 1, wantStderr: `alice is the change's author and may not approve gate "migration"`},
		{name: "argo: actor labels name someone else", workflow: mutate("resumed.json", func(wf *wfv1.Workflow) {
			wf.Labels["workflows.argoproj.io/actor-preferred-username"] = "mallory"
		}), args: argo(), wantCode: 1, wantStderr: "cannot be established"},
		{name: "argo: timed out", workflow: mutate("timedout.json", func(*wfv1.Workflow) {}), args: argo(),
			wantCode: 1, wantDecision: "reject", wantStderr: "timed out after 24h: a gate never approves by itself"},
		{name: "argo: succeeded early with nobody recorded", workflow: mutate("timedout.json", func(wf *wfv1.Workflow) {
			n := node(wf)
			n.FinishedAt = metav1.NewTime(n.StartedAt.Add(5 * time.Minute))
			setNode(wf, n)
		}), args: argo(), wantCode: 1, wantStderr: `no identity recorded for the decision at gate "migration": refusing (fail closed)`},
		{name: "argo: still suspended", workflow: mutate("resumed.json", func(wf *wfv1.Workflow) {
			n := node(wf)
			n.Phase = wfv1.NodeRunning
			n.Message = ""
			setNode(wf, n)
		}), args: argo(), wantCode: 2, wantStderr: "is Running, not resumed"},
		{name: "argo: not a suspend node", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}),
			args:     []string{"--gate", "migration", "--workflow", "rehearsal-child-x7k2p", "--node-id", "rehearsal-child-x7k2p-2871459912", "--namespace", "rehearsal"},
			wantCode: 2, wantStderr: "is a Pod node, not a suspend node"},
		{name: "argo: unknown node", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}),
			args:     []string{"--gate", "migration", "--workflow", "rehearsal-child-x7k2p", "--node-id", "nope", "--namespace", "rehearsal"},
			wantCode: 2, wantStderr: `workflow rehearsal-child-x7k2p has no node "nope"`},
		{name: "argo: workflow not found", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}),
			args:     []string{"--gate", "migration", "--workflow", "gone", "--node-id", suspendNode, "--namespace", "rehearsal"},
			wantCode: 2, wantStderr: "workflow rehearsal/gone not found"},
		{name: "argo: --as is not accepted", workflow: mutate("resumed.json", func(*wfv1.Workflow) {}), args: argo("--as", "bob"),
			wantCode: 2, wantStderr: "--as and --comment are for local mode"},
		{name: "argo: no namespace", args: []string{"--gate", "migration", "--workflow", "w", "--node-id", "n"},
			wantCode: 2, wantStderr: "--workflow needs --node-id and --namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.workflow != nil {
				apiServer(t, tt.workflow(t))
			} else {
				t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
			}
			dir := newWorkspace(t)
			outputs := filepath.Join(t.TempDir(), "outputs")
			args := append([]string{"--workspace", dir, "--outputs", outputs}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr =\n%s\nwant it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			var a workspace.Approval
			err := workspace.ReadJSON(dir, workspace.ApprovalFile("migration"), &a)
			param, _ := os.ReadFile(filepath.Join(outputs, "decision"))
			if tt.wantDecision == "" {
				if err == nil {
					t.Errorf("run(%q) recorded %+v, want nothing recorded", tt.args, a)
				}
				if stdout.Len() != 0 {
					t.Errorf("run(%q) stdout = %q, want empty", tt.args, stdout.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run(%q): read approval: %v", tt.args, err)
			}
			if a.Decision != tt.wantDecision || string(param) != tt.wantDecision {
				t.Errorf("run(%q) decision = %q, output parameter %q, want %q", tt.args, a.Decision, param, tt.wantDecision)
			}
			var out struct {
				Approval workspace.Approval `json:"approval"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Approval.Decision != tt.wantDecision {
				t.Errorf("run(%q) stdout = %q (%v), want the recorded approval", tt.args, stdout.String(), err)
			}
			if tt.wantUser != "" {
				last := a.Records[len(a.Records)-1]
				if last.User != tt.wantUser {
					t.Errorf("run(%q) recorded user %q, want %q", tt.args, last.User, tt.wantUser)
				}
				if last.Comment != tt.wantComment && tt.wantComment != "" {
					t.Errorf("run(%q) recorded comment %q, want %q", tt.args, last.Comment, tt.wantComment)
				}
				if wantSource := map[bool]string{true: "argo", false: "local"}[tt.workflow != nil]; last.Source != wantSource {
					t.Errorf("run(%q) recorded source %q, want %q", tt.args, last.Source, wantSource)
				}
				if tt.workflow != nil && last.Claims["PreferredUsername"] != tt.wantUser {
					t.Errorf("run(%q) recorded claims %v, want argo-server's claims", tt.args, last.Claims)
				}
			}
		})
	}
}

// TestReopen runs the Argo verify step as the gate template does
// (--on-refusal reopen): a refused approver is reported and the gate stays
// open (exit 0, state refused, nothing recorded); everything else behaves as
// without the flag, with the gate's state as an output parameter.
func TestReopen(t *testing.T) {
	author := func(wf *wfv1.Workflow) {
		n := wf.Status.Nodes[suspendNode]
		n.Message = "Resumed by: map[User:system:serviceaccount:rehearsal:alice]"
		wf.Status.Nodes[suspendNode] = n
		wf.Labels["workflows.argoproj.io/actor"] = "system-serviceaccount-rehearsal-alice"
		delete(wf.Labels, "workflows.argoproj.io/actor-email")
		delete(wf.Labels, "workflows.argoproj.io/actor-preferred-username")
	}
	tests := []struct {
		name        string
		file        string
		mutate      func(wf *wfv1.Workflow)
		flag        string
		wantCode    int
		wantState   string // output parameter; "" = none written
		wantMessage string // in the output parameter message (or stderr when none)
		wantRefused string // stdout's refused.user; "-" = stdout holds no refusal
		wantRecord  bool
	}{
		{name: "the author is refused, the gate stays open", file: "resumed.json", mutate: author, flag: "reopen",
			wantState: "refused", wantMessage: `refused alice: alice is the change's author and may not approve gate "migration"; gate "migration" stays open`, wantRefused: "alice"},
		{name: "an unknown identity is refused", file: "resumed.json", flag: "reopen", mutate: func(wf *wfv1.Workflow) {
			wf.Labels["workflows.argoproj.io/actor-preferred-username"] = "mallory"
		}, wantState: "refused", wantMessage: "refused an unknown approver: gate \"migration\": who resumed node", wantRefused: ""},
		{name: "without reopen the author fails the step", file: "resumed.json", mutate: author, flag: "fail",
			wantCode: 1, wantMessage: `alice is the change's author`, wantRefused: "-"},
		{name: "an eligible approval is recorded, the gate pending", file: "resumed.json", flag: "reopen",
			wantState: "pending", wantMessage: "needs 2 distinct approvers, has 1 (bob)", wantRefused: "-", wantRecord: true},
		{name: "a timeout still rejects", file: "timedout.json", flag: "reopen",
			wantCode: 1, wantState: "rejected", wantMessage: "timed out after 24h", wantRefused: "-", wantRecord: true},
		{name: "an unknown mode", file: "resumed.json", flag: "ignore",
			wantCode: 2, wantMessage: `--on-refusal "ignore" is not one of fail, reopen`, wantRefused: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := loadWorkflow(t, tt.file)
			if tt.mutate != nil {
				tt.mutate(wf)
			}
			apiServer(t, wf)
			dir := newWorkspace(t)
			outputs := filepath.Join(t.TempDir(), "outputs")
			args := []string{"--workspace", dir, "--outputs", outputs, "--on-refusal", tt.flag,
				"--gate", "migration", "--workflow", "rehearsal-child-x7k2p", "--node-id", suspendNode, "--namespace", "rehearsal"}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", args, code, tt.wantCode, stderr.String())
			}
			state, _ := os.ReadFile(filepath.Join(outputs, "state"))
			message, _ := os.ReadFile(filepath.Join(outputs, "message"))
			if string(state) != tt.wantState {
				t.Errorf("run(%q) state = %q, want %q", args, state, tt.wantState)
			}
			where := string(message)
			if tt.wantState == "" {
				where = stderr.String()
			}
			if !strings.Contains(where, tt.wantMessage) {
				t.Errorf("run(%q) message = %q, want it to contain %q", args, where, tt.wantMessage)
			}
			var out struct {
				Refused *struct {
					User   string `json:"user"`
					Reason string `json:"reason"`
				} `json:"refused"`
			}
			_ = json.Unmarshal(stdout.Bytes(), &out)
			switch {
			case tt.wantRefused == "-" && out.Refused != nil:
				t.Errorf("run(%q) stdout = %s, want no refusal", args, stdout.String())
			case tt.wantRefused != "-" && (out.Refused == nil || out.Refused.User != tt.wantRefused || out.Refused.Reason == ""):
				t.Errorf("run(%q) stdout = %s, want a refusal of %q with its reason", args, stdout.String(), tt.wantRefused)
			}
			_, err := os.Stat(filepath.Join(dir, workspace.ApprovalFile("migration")))
			if recorded := err == nil; recorded != tt.wantRecord {
				t.Errorf("run(%q) recorded an approval: %v, want %v", args, recorded, tt.wantRecord)
			}
		})
	}
}
