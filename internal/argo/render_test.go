package argo

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/workflowtemplates"
)

func TestTaskName(t *testing.T) {
	for in, want := range map[string]string{"scan": "scan", "mask.db": "mask-db", "2fa": "n-2fa", "gate-x": "gate-x"} {
		if got := TaskName(in); got != want {
			t.Errorf("TaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

func testGraph() *workspace.Graph {
	return &workspace.Graph{RulesDigest: "sha256:abc", ChangeRisk: "critical", Nodes: []workspace.Node{
		{ID: "gate-migration", Step: "gate", DependsOn: []string{}, Gate: &workspace.Gate{Name: "migration", Tier: "critical", Groups: []string{"team-api"}, Approvers: 2}},
		{ID: "report.a", Step: "packet", DependsOn: []string{"gate-migration"}},
		{ID: "gate-promote", Step: "gate", DependsOn: []string{"report.a", "gate-migration"}, Gate: &workspace.Gate{Name: "promote", Tier: "high", Timeout: "1h"}},
	}}
}

func TestRender(t *testing.T) {
	wf, err := Render(testGraph(), Options{Namespace: "rehearsal", WorkspaceClaim: "parent-workspace", Run: "parent", ServiceAccount: "runner"})
	if err != nil {
		t.Fatalf("Render = %v", err)
	}
	if wf.GenerateName != DefaultGenerateName || wf.Namespace != "rehearsal" || wf.Labels[LabelRun] != "parent" || wf.Labels[LabelRisk] != "critical" {
		t.Errorf("Render metadata = %+v", wf.ObjectMeta)
	}
	if wf.Spec.ServiceAccountName != "runner" {
		t.Errorf("Render serviceAccountName = %q, want runner", wf.Spec.ServiceAccountName)
	}
	if c := wf.Spec.Volumes[0].PersistentVolumeClaim; c == nil || c.ClaimName != "parent-workspace" {
		t.Errorf("Render workspace volume = %+v, want claim parent-workspace", wf.Spec.Volumes[0])
	}
	type task struct{ name, ref, depends, args string }
	var got []task
	for _, tk := range wf.Spec.Templates[0].DAG.Tasks {
		var args []string
		for _, p := range tk.Arguments.Parameters {
			args = append(args, p.Name+"="+p.Value.String())
		}
		got = append(got, task{tk.Name, tk.TemplateRef.Name + "/" + tk.TemplateRef.Template, tk.Depends, strings.Join(args, ",")})
	}
	want := []task{
		{"gate-migration", "rehearsal-gate/gate", "", "gate=migration,approvers=2"},
		{"report-a", "rehearsal-packet/packet", "gate-migration", ""},
		{"gate-promote", "rehearsal-gate/gate", "gate-migration && report-a", "gate=promote,approvers=1,timeout=1h"},
	}
	if len(got) != len(want) {
		t.Fatalf("Render tasks = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Render task %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	ts, err := LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ValidateWorkflow(wf); err != nil {
		t.Errorf("ValidateWorkflow(Render) = %v", err)
	}
	// Round trip: the YAML decodes strictly to the same Workflow.
	data, err := Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal("workflow.yaml", data)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal) = %v", err)
	}
	again, _ := Marshal(back)
	if string(again) != string(data) {
		t.Errorf("Marshal(Unmarshal(Marshal(wf))) differs:\n%s\nvs\n%s", again, data)
	}
	for _, absent := range []string{"status:", "creationTimestamp", "inputs: {}", "arguments: {}"} {
		if strings.Contains(string(data), absent) {
			t.Errorf("Marshal output contains %q:\n%s", absent, data)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := Render(&workspace.Graph{}, Options{}); err == nil {
		t.Error("Render(no nodes) = nil error, want one")
	}
	g := &workspace.Graph{Nodes: []workspace.Node{{ID: "a.b", Step: "packet"}, {ID: "a-b", Step: "packet"}}}
	if _, err := Render(g, Options{}); err == nil || !strings.Contains(err.Error(), `both become task "a-b"`) {
		t.Errorf("Render(colliding ids) = %v", err)
	}
}

// TestValidateWorkflowRefusesMissingInput: the validator resolves templateRefs
// against the loaded set, so a task without a required input is refused.
func TestValidateWorkflowRefusesMissingInput(t *testing.T) {
	ts, err := LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := Render(&workspace.Graph{Nodes: []workspace.Node{{ID: "g", Step: "gate", Gate: nil}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ValidateWorkflow(wf); err == nil || !strings.Contains(err.Error(), "gate") {
		t.Errorf("ValidateWorkflow(gate task without gate parameter) = %v, want an error", err)
	}
	wf.Spec.Templates[0].DAG.Tasks[0].TemplateRef = &wfv1.TemplateRef{Name: "rehearsal-nope", Template: "nope"}
	if err := ts.ValidateWorkflow(wf); err == nil || !strings.Contains(err.Error(), "rehearsal-nope") {
		t.Errorf("ValidateWorkflow(unknown templateRef) = %v, want an error naming it", err)
	}
}
