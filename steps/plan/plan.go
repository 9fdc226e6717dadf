// Package plan is the deploy designer: from the classified change, the service
// catalog and the Kubernetes manifests it builds the service topology, orders
// the release (migrations before their consumers, destructive migrations split
// into expand and a gated contract), lets the plan rules choose each service's
// strategy, thresholds and flag states, and writes plan.json, runbook.md and
// Argo Rollouts manifests (rollouts/*.yaml). Every decision names its rule.
package plan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// ManifestsDir is where a workspace keeps the manifests snapshot.
const ManifestsDir = workspace.ManifestsDir

// Input is what the deploy designer needs.
type Input struct {
	// Workspace holds change.json; plan.json, runbook.md and rollouts/ are
	// written there.
	Workspace string `json:"workspace"`
	// Rules is the loaded rule set (the plan kind is used).
	Rules *rules.Set `json:"-"`
	// Catalog is the service catalog.
	Catalog *catalog.Catalog `json:"-"`
	// Manifests is the directory whose files the catalog's `manifests` globs
	// name (usually the repository root); empty plans from the catalog alone.
	Manifests string `json:"manifests,omitempty"`
	Options
}

// Options tune the emitted artifacts.
type Options struct {
	// Prometheus is the address the AnalysisTemplates query (DefaultPrometheus).
	Prometheus string `json:"prometheus,omitempty"`
}

// Output summarises the plan; Params gives it as Argo output parameters.
type Output struct {
	Services   int      `json:"services"`
	Steps      int      `json:"steps"`
	Strategies []string `json:"strategies"` // service=strategy, in deploy order
	Gated      []string `json:"gated"`      // step ids that need their own approval
	Advisories int      `json:"advisories"`
	Rollouts   []string `json:"rollouts"` // files written under rollouts/
}

// Params returns the output parameters: services, steps, strategies
// (comma-joined service=strategy), gated (comma-joined step ids), advisories.
func (o Output) Params() map[string]string {
	return map[string]string{
		"services": strconv.Itoa(o.Services), "steps": strconv.Itoa(o.Steps),
		"strategies": strings.Join(o.Strategies, ","), "gated": strings.Join(o.Gated, ","),
		"advisories": strconv.Itoa(o.Advisories),
	}
}

// Run reads change.json and the manifests, designs the plan and writes
// plan.json, runbook.md and rollouts/*.yaml. Bad input (an unreadable change,
// an unparseable manifest, an unknown service address, a dependency cycle, a
// strategy the workload cannot use) is exit 2 and nothing is written.
func Run(ctx context.Context, in Input) (Output, error) {
	if in.Rules == nil || in.Catalog == nil {
		return Output{}, errors.New("plan: rules and catalog are required")
	}
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	change, err := workspace.ReadChange(in.Workspace)
	if err != nil {
		return Output{}, exitcode.Input(err)
	}
	var fsys fs.FS
	if in.Manifests != "" {
		if st, err := os.Stat(in.Manifests); err != nil || !st.IsDir() {
			return Output{}, exitcode.Inputf("manifests %s: not a directory", in.Manifests)
		}
		fsys = os.DirFS(in.Manifests)
	}
	m, err := LoadManifests(fsys, in.Catalog)
	if err != nil {
		return Output{}, exitcode.Input(under(in.Manifests, err))
	}
	d, err := Build(&change, in.Catalog, m, in.Rules)
	if err != nil {
		return Output{}, err
	}
	files, err := d.Files(in.Options)
	if err != nil {
		return Output{}, err
	}
	if err := write(in.Workspace, files); err != nil {
		return Output{}, exitcode.Infrastructure(err)
	}
	return d.Output(files), nil
}

// Files renders every artifact of the plan by workspace-relative path.
func (d *Design) Files(opts Options) (map[string][]byte, error) {
	files, err := d.Rollouts(opts.Prometheus)
	if err != nil {
		return nil, err
	}
	b, err := marshalIndented(d.Plan)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	files[workspace.PlanFile] = b
	files[workspace.RunbookFile] = Runbook(d.Plan)
	return files, nil
}

// Output summarises the design.
func (d *Design) Output(files map[string][]byte) Output {
	o := Output{Services: len(d.Plan.Services), Steps: len(d.Plan.Steps), Advisories: len(d.Plan.Advisories),
		Strategies: []string{}, Gated: []string{}, Rollouts: []string{}}
	for _, s := range d.Plan.Services {
		o.Strategies = append(o.Strategies, s.Name+"="+s.Strategy)
	}
	for _, s := range d.Plan.Steps {
		if s.Gated {
			o.Gated = append(o.Gated, s.ID)
		}
	}
	for f := range files {
		if strings.HasPrefix(f, workspace.RolloutsDir+"/") {
			o.Rollouts = append(o.Rollouts, f)
		}
	}
	slices.Sort(o.Rollouts)
	return o
}

// write puts the rollouts in place as one directory — written beside the
// workspace's rollouts/ and renamed over it, so a reader sees the old set or
// the new one, and files of an earlier plan do not linger — then runbook.md,
// then plan.json, each atomically.
func write(ws string, files map[string][]byte) error {
	tmp, err := os.MkdirTemp(ws, "."+workspace.RolloutsDir+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", workspace.RolloutsDir, err)
	}
	defer os.RemoveAll(tmp)
	var names []string
	for n := range files {
		if strings.HasPrefix(n, workspace.RolloutsDir+"/") {
			names = append(names, n)
		}
	}
	if err := writeAll(tmp, names, files); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(ws, workspace.RolloutsDir)
	old := tmp + ".old"
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("remove the previous %s: %w", dst, err)
	}
	for _, n := range []string{workspace.RunbookFile, workspace.PlanFile} {
		if err := workspace.WriteFile(filepath.Join(ws, n), files[n]); err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes the named files (paths under rollouts/) into dir, a few at
// a time: the cost is in the system calls, not the CPU.
func writeAll(dir string, names []string, files map[string][]byte) error {
	const workers = 8
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				p := filepath.Join(dir, strings.TrimPrefix(names[i], workspace.RolloutsDir+"/"))
				errs[i] = os.WriteFile(p, files[names[i]], 0o644)
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// under makes manifest problems name their files under dir.
func under(dir string, err error) error {
	var l diag.List
	if dir == "" || !errors.As(err, &l) {
		return err
	}
	out := make(diag.List, len(l))
	for i, p := range l {
		p.File = filepath.Join(dir, p.File)
		out[i] = p
	}
	return out.Err()
}
