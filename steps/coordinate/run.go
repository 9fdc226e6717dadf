package coordinate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/workflowtemplates"
)

// Input is what the coordinator needs.
type Input struct {
	// Workspace is the directory holding change.json; graph.json and
	// workflow.yaml are written there.
	Workspace string `json:"workspace"`
	// Rules is the loaded rule set (route and gates kinds are used).
	Rules *rules.Set `json:"-"`
	// Catalog gives the gate groups and their members.
	Catalog *catalog.Catalog `json:"-"`
	// Templates holds the WorkflowTemplates; nil means the ones built in.
	Templates fs.FS `json:"-"`
	// Options say where the emitted Workflow runs.
	Options argo.Options `json:"options"`
}

// Output summarises what was planned; Params gives it as Argo output parameters.
type Output struct {
	Nodes int      `json:"nodes"`
	Gates []string `json:"gates"`
	Risk  string   `json:"risk"`
	// Workflow is the path of the emitted workflow.yaml; empty when the graph has
	// no nodes (and so nothing to run).
	Workflow string `json:"workflow,omitempty"`
	// RemovedStale is set when a workflow.yaml from an earlier run was removed
	// because this graph has no nodes.
	RemovedStale bool `json:"removedStale,omitempty"`
}

// Params returns the output parameters: nodes (count), gates (comma-joined
// names) and risk.
func (o Output) Params() map[string]string {
	return map[string]string{"nodes": strconv.Itoa(o.Nodes), "gates": strings.Join(o.Gates, ","), "risk": o.Risk}
}

// Run reads change.json, plans the graph, renders and validates the Workflow,
// and writes graph.json and workflow.yaml. A graph that cannot run is refused
// (exit 2) and nothing is written.
func Run(ctx context.Context, in Input) (Output, error) {
	if in.Rules == nil || in.Catalog == nil {
		return Output{}, errors.New("coordinate: rules and catalog are required")
	}
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	change, err := workspace.ReadChange(in.Workspace)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	tfs := in.Templates
	if tfs == nil {
		tfs = workflowtemplates.FS
	}
	ts, err := argo.LoadFS(tfs)
	if err == nil {
		err = ts.Validate()
	}
	if err != nil {
		return Output{}, exitcode.Input(fmt.Errorf("workflow templates: %w", err))
	}
	g, err := Plan(&change, in.Catalog, in.Rules, ts.Steps())
	if err != nil {
		return Output{}, err
	}
	if err := checkArguments(g, in.Rules, ts); err != nil {
		return Output{}, err
	}
	out := Output{Nodes: len(g.Nodes), Gates: []string{}, Risk: g.ChangeRisk}
	for _, n := range g.Nodes {
		if n.Gate != nil {
			out.Gates = append(out.Gates, n.Gate.Name)
		}
	}
	sort.Strings(out.Gates)
	wfPath := filepath.Join(in.Workspace, workspace.WorkflowFile)
	if len(g.Nodes) == 0 {
		if err := os.Remove(wfPath); err == nil {
			out.RemovedStale = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Output{}, fmt.Errorf("remove stale %s: %w", workspace.WorkflowFile, err)
		}
		if err := workspace.WriteJSON(in.Workspace, workspace.GraphFile, g); err != nil {
			return Output{}, err
		}
		return out, nil
	}
	wf, err := argo.Render(g, in.Options)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	if err := ts.ValidateWorkflow(wf); err != nil {
		return Output{}, exitcode.Input(fmt.Errorf("%w (graph from %s)", err, graphRules(g, in.Rules)))
	}
	data, err := argo.Marshal(wf)
	if err != nil {
		return Output{}, err
	}
	if err := workspace.WriteFile(wfPath, data); err != nil {
		return Output{}, err
	}
	if err := workspace.WriteJSON(in.Workspace, workspace.GraphFile, g); err != nil {
		return Output{}, err
	}
	out.Workflow = wfPath
	return out, nil
}

// checkArguments refuses node parameters the step's template does not declare
// and required template inputs no node parameter gives, naming the rules.
func checkArguments(g *workspace.Graph, set *rules.Set, ts *argo.Templates) error {
	var problems []string
	for _, n := range g.Nodes {
		inputs := ts.Inputs(n.Step)
		given := map[string]bool{}
		for k := range n.Parameters {
			given[k] = true
		}
		if n.Gate != nil {
			given["gate"] = true
			given["timeout"] = n.Gate.Timeout != ""
		}
		who := refs(rulesByID(set, n.Rules))
		for _, k := range sortedKeys(n.Parameters) {
			if _, ok := inputs[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s gives node %q parameter %q, which template %s%s does not take (it takes %s)", who, n.ID, k, argo.Prefix, n.Step, list(sortedKeys(inputs))))
			}
		}
		for _, k := range sortedKeys(inputs) {
			if inputs[k] && !given[k] {
				problems = append(problems, fmt.Sprintf("%s adds node %q without parameter %q, which template %s%s requires", who, n.ID, k, argo.Prefix, n.Step))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return exitcode.Input(&Invalid{Problems: problems})
	}
	return nil
}

func graphRules(g *workspace.Graph, set *rules.Set) string {
	var ids []string
	for _, n := range g.Nodes {
		ids = append(ids, n.Rules...)
	}
	slices.Sort(ids)
	return refs(rulesByID(set, slices.Compact(ids)))
}

func rulesByID(set *rules.Set, ids []string) []*rules.Rule {
	var out []*rules.Rule
	for _, f := range set.Files {
		for _, r := range f.Rules {
			if slices.Contains(ids, r.ID) {
				out = append(out, r)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
