package argo

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apiv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Names the emitted Workflow and the templates share.
const (
	// Entrypoint is the emitted Workflow's DAG template.
	Entrypoint = "rehearsal"
	// RulesConfigMap holds the rule files; steps mount it at /rules.
	RulesConfigMap = "rehearsal-rules"
	// DefaultGenerateName prefixes the emitted Workflow's name.
	DefaultGenerateName = "rehearsal-run-"
	// DefaultWorkspaceClaim is the claim used when none is handed over.
	DefaultWorkspaceClaim = "rehearsal-workspace"

	LabelRun     = "rehearsal.dev/run"
	LabelRisk    = "rehearsal.dev/risk"
	AnnotRules   = "rehearsal.dev/rules-digest"
	VolWorkspace = "workspace"
	VolRules     = "rules"
	VolTmp       = "tmp"
)

// Options say where and how the emitted Workflow runs.
type Options struct {
	// Namespace of the Workflow; empty leaves it to `argo submit -n`.
	Namespace string `json:"namespace,omitempty"`
	// GenerateName prefixes the Workflow's generated name (DefaultGenerateName).
	GenerateName string `json:"generateName,omitempty"`
	// WorkspaceClaim is the PersistentVolumeClaim holding the workspace: in Argo,
	// the parent's volumeClaimTemplates claim "<parent>-workspace".
	WorkspaceClaim string `json:"workspaceClaim,omitempty"`
	// ServiceAccount runs pods whose template names none.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Run labels the Workflow rehearsal.dev/run (the parent Workflow's name).
	Run string `json:"run,omitempty"`
}

// TaskName turns a node id into a DAG task name Argo accepts: '.' becomes '-',
// and a leading digit gets an "n-" prefix.
func TaskName(id string) string {
	n := strings.ReplaceAll(id, ".", "-")
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "n-" + n
	}
	return n
}

// Render builds the Workflow that runs g: one DAG task per node, by templateRef
// to rehearsal-<step>/<step>, with the node's parameters (and a gate's name and
// timeout) as arguments and its dependencies as `depends`.
func Render(g *workspace.Graph, opts Options) (*wfv1.Workflow, error) {
	if len(g.Nodes) == 0 {
		return nil, errors.New("render: graph has no nodes")
	}
	if opts.GenerateName == "" {
		opts.GenerateName = DefaultGenerateName
	}
	if opts.WorkspaceClaim == "" {
		opts.WorkspaceClaim = DefaultWorkspaceClaim
	}
	tasks := make([]wfv1.DAGTask, 0, len(g.Nodes))
	seen := map[string]string{}
	for _, n := range g.Nodes {
		name := TaskName(n.ID)
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("render: nodes %q and %q both become task %q", prev, n.ID, name)
		}
		seen[name] = n.ID
		var params []wfv1.Parameter
		keys := make([]string, 0, len(n.Parameters))
		for k := range n.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			params = append(params, wfv1.Parameter{Name: k, Value: wfv1.AnyStringPtr(n.Parameters[k])})
		}
		if n.Gate != nil {
			params = append(params, wfv1.Parameter{Name: "gate", Value: wfv1.AnyStringPtr(n.Gate.Name)})
			params = append(params, wfv1.Parameter{Name: "approvers", Value: wfv1.AnyStringPtr(strconv.Itoa(max(1, n.Gate.Approvers)))})
			if n.Gate.Timeout != "" {
				params = append(params, wfv1.Parameter{Name: "timeout", Value: wfv1.AnyStringPtr(n.Gate.Timeout)})
			}
		}
		deps := make([]string, 0, len(n.DependsOn))
		for _, d := range n.DependsOn {
			deps = append(deps, TaskName(d))
		}
		sort.Strings(deps)
		tasks = append(tasks, wfv1.DAGTask{
			Name:        name,
			TemplateRef: &wfv1.TemplateRef{Name: Prefix + n.Step, Template: n.Step},
			Arguments:   wfv1.Arguments{Parameters: params},
			Depends:     strings.Join(deps, " && "),
		})
	}
	labels := map[string]string{LabelRisk: g.ChangeRisk}
	if opts.Run != "" {
		labels[LabelRun] = opts.Run
	}
	var annotations map[string]string
	if g.RulesDigest != "" {
		annotations = map[string]string{AnnotRules: g.RulesDigest}
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: opts.GenerateName,
			Namespace:    opts.Namespace,
			Labels:       labels,
			Annotations:  annotations,
		},
		Spec: wfv1.WorkflowSpec{
			Entrypoint:         Entrypoint,
			ServiceAccountName: opts.ServiceAccount,
			Templates:          []wfv1.Template{{Name: Entrypoint, DAG: &wfv1.DAGTemplate{Tasks: tasks}}},
			Volumes: []apiv1.Volume{
				{Name: VolWorkspace, VolumeSource: apiv1.VolumeSource{PersistentVolumeClaim: &apiv1.PersistentVolumeClaimVolumeSource{ClaimName: opts.WorkspaceClaim}}},
				{Name: VolRules, VolumeSource: apiv1.VolumeSource{ConfigMap: &apiv1.ConfigMapVolumeSource{LocalObjectReference: apiv1.LocalObjectReference{Name: RulesConfigMap}}}},
				{Name: VolTmp, VolumeSource: apiv1.VolumeSource{EmptyDir: &apiv1.EmptyDirVolumeSource{}}},
			},
		},
	}
	return wf, nil
}

// header opens every emitted workflow.yaml.
const header = "# Emitted by the Rehearsal coordinator from graph.json. Do not edit:\n# change the rules and coordinate again.\n"

// Marshal encodes wf as YAML without status or empty timestamps. Keys are sorted,
// so the same Workflow always gives the same bytes.
func Marshal(wf *wfv1.Workflow) ([]byte, error) {
	b, err := json.Marshal(wf)
	if err != nil {
		return nil, fmt.Errorf("encode workflow: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode workflow: %w", err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	// Drop the empty structs Argo's types always encode, so the file reads cleanly.
	if spec, ok := m["spec"].(map[string]any); ok {
		dropEmpty(spec, "arguments")
		if tmpls, ok := spec["templates"].([]any); ok {
			for _, t := range tmpls {
				if tm, ok := t.(map[string]any); ok {
					dropEmpty(tm, "inputs", "outputs", "metadata")
					if dag, ok := tm["dag"].(map[string]any); ok {
						tasks, _ := dag["tasks"].([]any)
						for _, task := range tasks {
							if tk, ok := task.(map[string]any); ok {
								dropEmpty(tk, "arguments")
							}
						}
					}
				}
			}
		}
	}
	y, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode workflow: %w", err)
	}
	return append([]byte(header), y...), nil
}

// Unmarshal decodes a Workflow strictly (the inverse of Marshal).
func Unmarshal(file string, data []byte) (*wfv1.Workflow, error) {
	var wf wfv1.Workflow
	if err := yaml.UnmarshalStrict(data, &wf); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &wf, nil
}

func dropEmpty(m map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := m[k].(map[string]any); ok && len(v) == 0 {
			delete(m, k)
		}
	}
}
