// Package argo loads and validates Rehearsal's Argo WorkflowTemplates and renders
// the child Workflow the coordinator emits, from Argo's own Go types, checked by
// Argo's own validator.
package argo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	"sigs.k8s.io/yaml"
)

// Prefix is how every Rehearsal WorkflowTemplate's name starts: the template for
// step "gate" is the WorkflowTemplate "rehearsal-gate" with a template "gate".
const Prefix = "rehearsal-"

// StepLabel marks a WorkflowTemplate as a step the coordinator may route to; its
// value is the step name.
const StepLabel = "rehearsal.dev/step"

// kustomization is the kustomize file that sits beside the templates; it is not one.
const kustomization = "kustomization.yaml"

// Templates is a set of WorkflowTemplates by name. It serves Argo's validator as
// the in-memory store that templateRefs resolve against.
type Templates struct {
	byName map[string]*wfv1.WorkflowTemplate
	files  map[string]string // template name → file it came from
}

var _ templateresolution.WorkflowTemplateNamespacedGetter = (*Templates)(nil)

// LoadDir loads every *.yaml WorkflowTemplate in dir.
func LoadDir(dir string) (*Templates, error) {
	t, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load templates %s: %w", dir, err)
	}
	return t, nil
}

// LoadFS loads every *.yaml WorkflowTemplate at the top of fsys (kustomization.yaml
// excepted). Each file holds one WorkflowTemplate, decoded strictly: an unknown
// field is an error naming the file. All problems are reported at once.
func LoadFS(fsys fs.FS) (*Templates, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	t := &Templates{byName: map[string]*wfv1.WorkflowTemplate{}, files: map[string]string{}}
	var errs []error
	for _, n := range names {
		if n == kustomization {
			continue
		}
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		wt, err := Parse(n, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := t.files[wt.Name]; ok {
			errs = append(errs, fmt.Errorf("%s: WorkflowTemplate %q is also defined in %s", n, wt.Name, prev))
			continue
		}
		t.byName[wt.Name] = wt
		t.files[wt.Name] = n
	}
	if len(t.byName) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no WorkflowTemplates (*.yaml) found"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Parse decodes one WorkflowTemplate from file's data, refusing unknown fields.
func Parse(file string, data []byte) (*wfv1.WorkflowTemplate, error) {
	var wt wfv1.WorkflowTemplate
	if err := yaml.UnmarshalStrict(data, &wt); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if wt.APIVersion != "argoproj.io/v1alpha1" || wt.Kind != "WorkflowTemplate" {
		return nil, fmt.Errorf("%s: want apiVersion argoproj.io/v1alpha1, kind WorkflowTemplate; got %q, %q", file, wt.APIVersion, wt.Kind)
	}
	if wt.Name == "" {
		return nil, fmt.Errorf("%s: WorkflowTemplate has no metadata.name", file)
	}
	return &wt, nil
}

// Get returns the WorkflowTemplate called name (Argo's template getter).
func (t *Templates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	wt, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("WorkflowTemplate %q not found", name)
	}
	return wt.DeepCopy(), nil
}

// Names returns the WorkflowTemplate names, sorted.
func (t *Templates) Names() []string {
	var out []string
	for n := range t.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// File returns the file a WorkflowTemplate was loaded from.
func (t *Templates) File(name string) string { return t.files[name] }

// Steps returns, sorted, the steps the templates provide: every WorkflowTemplate
// labelled rehearsal.dev/step=<step>, named rehearsal-<step>, with a template <step>.
func (t *Templates) Steps() []string {
	var out []string
	for name, wt := range t.byName {
		step := wt.Labels[StepLabel]
		if step == "" || name != Prefix+step || wt.GetTemplateByName(step) == nil {
			continue
		}
		out = append(out, step)
	}
	sort.Strings(out)
	return out
}

// Step returns the template that runs step.
func (t *Templates) Step(step string) (*wfv1.Template, bool) {
	if !slices.Contains(t.Steps(), step) {
		return nil, false
	}
	return t.byName[Prefix+step].GetTemplateByName(step), true
}

// Inputs returns the input parameters of step's template: every name, and
// whether each one is required (has no default).
func (t *Templates) Inputs(step string) map[string]bool {
	tmpl, ok := t.Step(step)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, p := range tmpl.Inputs.Parameters {
		out[p.Name] = p.Default == nil && p.Value == nil
	}
	return out
}

// Validate checks every template with Argo's validator, resolving templateRefs
// against the set. All problems are reported at once, each naming its file.
func (t *Templates) Validate() error {
	var errs []error
	for _, name := range t.Names() {
		wt := t.byName[name].DeepCopy()
		if err := validate.ValidateWorkflowTemplate(t, &templateresolution.NullClusterWorkflowTemplateGetter{}, wt, nil, validate.ValidateOpts{}); err != nil {
			errs = append(errs, fmt.Errorf("%s: WorkflowTemplate %s: %w", t.files[name], name, err))
		}
	}
	return errors.Join(errs...)
}

// ValidateWorkflow checks wf with Argo's validator against the set, as a
// submission would be checked.
func (t *Templates) ValidateWorkflow(wf *wfv1.Workflow) error {
	if err := validate.ValidateWorkflow(t, &templateresolution.NullClusterWorkflowTemplateGetter{}, wf.DeepCopy(), nil, validate.ValidateOpts{Submit: true}); err != nil {
		return fmt.Errorf("argo rejects the workflow: %w", err)
	}
	return nil
}
