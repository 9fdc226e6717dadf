package argo

import (
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rehearsal-dev/rehearsal/workflowtemplates"
)

func TestShippedTemplatesValidate(t *testing.T) {
	ts, err := LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatalf("LoadFS(workflowtemplates) = %v", err)
	}
	if err := ts.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	want := []string{"classify", "coordinate", "env", "gate", "mask", "packet", "plan", "scan"}
	if got := ts.Steps(); !slices.Equal(got, want) {
		t.Errorf("Steps() = %q, want %q", got, want)
	}
}

func TestLoadFSErrors(t *testing.T) {
	good, err := workflowtemplates.FS.ReadFile("rehearsal-packet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"unknown field", fstest.MapFS{"bad.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: x}\nspec: {entrypint: a}\n")}}, `bad.yaml: error unmarshaling JSON: while decoding JSON: json: unknown field "entrypint"`},
		{"wrong kind", fstest.MapFS{"wf.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: x}\n")}}, `wf.yaml: want apiVersion argoproj.io/v1alpha1, kind WorkflowTemplate`},
		{"no name", fstest.MapFS{"a.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\n")}}, "a.yaml: WorkflowTemplate has no metadata.name"},
		{"twice", fstest.MapFS{"a.yaml": {Data: good}, "b.yaml": {Data: good}}, `b.yaml: WorkflowTemplate "rehearsal-packet" is also defined in a.yaml`},
		{"empty", fstest.MapFS{"kustomization.yaml": {Data: []byte("resources: []\n")}}, "no WorkflowTemplates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFS(tc.fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFS(%s) = %v, want an error containing %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestValidateNamesTheFile(t *testing.T) {
	bad := "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: rehearsal-bad}\nspec:\n  templates:\n    - name: bad\n      container: {image: x, args: [\"{{inputs.parameters.nope}}\"]}\n"
	ts, err := LoadFS(fstest.MapFS{"bad.yaml": {Data: []byte(bad)}})
	if err != nil {
		t.Fatal(err)
	}
	err = ts.Validate()
	if err == nil || !strings.Contains(err.Error(), "bad.yaml: WorkflowTemplate rehearsal-bad:") || !strings.Contains(err.Error(), "inputs.parameters.nope") {
		t.Errorf("Validate() = %v, want an error naming bad.yaml and the unresolved variable", err)
	}
}

func TestInputs(t *testing.T) {
	ts, err := LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"gate": true, "approvers": false, "timeout": false}
	if got := ts.Inputs("gate"); !maps.Equal(got, want) {
		t.Errorf("Inputs(gate) = %v, want %v", got, want)
	}
	if got := ts.Inputs("nope"); got != nil {
		t.Errorf("Inputs(nope) = %v, want nil", got)
	}
}

// TestReleaseAsSubmitted validates what `argo submit --from
// workflowtemplate/rehearsal-release -p …` creates: the parent resolves its
// templateRefs to the step templates.
func TestReleaseAsSubmitted(t *testing.T) {
	ts, err := LoadFS(workflowtemplates.FS)
	if err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{Spec: wfv1.WorkflowSpec{
		WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "rehearsal-release"},
		Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
			{Name: "repo", Value: wfv1.AnyStringPtr("/repo")},
			{Name: "base", Value: wfv1.AnyStringPtr("v1")},
			{Name: "head", Value: wfv1.AnyStringPtr("v2")},
		}},
	}}
	if err := ts.ValidateWorkflow(wf); err != nil {
		t.Errorf("ValidateWorkflow(release with repo, base, head) = %v", err)
	}
	wf.Spec.Arguments.Parameters = wf.Spec.Arguments.Parameters[:2]
	if err := ts.ValidateWorkflow(wf); err == nil || !strings.Contains(err.Error(), "head") {
		t.Errorf("ValidateWorkflow(release without head) = %v, want an error naming head", err)
	}
}
