// Package env builds ephemeral preprod environments from approved templates
// (the env rules, rules/envs.yaml) and removes them when their time is up.
//
// Build resolves a request against the templates (an unknown template or a
// parameter outside its allowed values is refused before anything is
// touched), then, idempotently and with server-side apply: the namespace
// with its labels (rehearsal.dev/env, owner, expires-at) and Pod Security
// Standard, the template's ResourceQuota, LimitRange, deny-by-default
// NetworkPolicy and service accounts; the masked or synthetic dataset in the
// environment's own schema (through the test-data architect, steps/mask) with
// a database user of its own whose DSN is handed over as a Secret in the
// namespace; the branch's manifests; then it waits for the workloads to be
// ready within the template's deadline. It writes env.json and marks the
// namespace ready or failed. A namespace it did not create is never
// touched. GC is the reaper.
package env

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// File is the environment record a build writes into its workspace.
const File = "env.json"

// Binding is the RoleBinding a build creates in the environment so that the
// step's own ServiceAccount may manage its workloads: the ClusterRole
// (bound only inside environments) and the account.
type Binding struct {
	ClusterRole    string
	ServiceAccount string
	Namespace      string
}

// Data is where an environment's dataset comes from and goes to.
type Data struct {
	// SourceDSN is the database masked from (data=masked); TargetDSN the
	// server the environment's schema is created on. go-sql-driver form.
	SourceDSN, TargetDSN string
	// Key is the masking key.
	Key []byte
	// DDLFile is the schema synthetic rows are generated for (data=synthetic).
	DDLFile string
	// Host is the server address the environment's workloads use (default:
	// the target DSN's host).
	Host string
}

// Input is one build.
type Input struct {
	Workspace string
	Rules     *rules.Set
	Request   rules.EnvRequest
	// Name is the environment and namespace name (default Name(template,
	// branch)).
	Name string
	// Manifests is the branch's manifest directory ("" for none).
	Manifests string
	Kube      *Kube
	// Binding, when set, is created in the namespace before anything else
	// (in a cluster, the step's account needs it for the workloads).
	Binding *Binding
	Data    Data
	// Readiness overrides the template's readiness deadline (0: the template's).
	Readiness time.Duration
	Now       func() time.Time
	Progress  func(done, total int)
	Log       *slog.Logger
}

// Record is env.json: what the build decided, created and saw.
type Record struct {
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace"`
	Template   string            `json:"template"`
	Rule       string            `json:"rule"`
	Branch     string            `json:"branch"`
	Owner      string            `json:"owner"`
	Parameters map[string]string `json:"parameters"`
	ExpiresAt  string            `json:"expiresAt"`
	// State is ready or failed; Message says why it failed.
	State     string        `json:"state"`
	Message   string        `json:"message,omitempty"`
	Objects   []ObjectRef   `json:"objects"`
	Dataset   *DatasetRef   `json:"dataset,omitempty"`
	Readiness []Readiness   `json:"readiness,omitempty"`
	Notes     []string      `json:"notes,omitempty"`
	Took      time.Duration `json:"-"`
}

// ObjectRef names one object the build applied.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// DatasetRef is the environment's dataset: never a password, only where the
// credentials are.
type DatasetRef struct {
	Schema   string `json:"schema"`
	Server   string `json:"server"`
	User     string `json:"user"`
	Secret   string `json:"secret"`
	Mode     string `json:"mode"`
	Tables   int    `json:"tables"`
	Rows     int64  `json:"rows"`
	Verified bool   `json:"verified"`
	KeyID    string `json:"keyId,omitempty"`
}

// Readiness is one workload's readiness when the build finished waiting.
type Readiness struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
}

// Params are the Argo output parameters.
func (r *Record) Params() map[string]string {
	return map[string]string{"namespace": r.Namespace, "state": r.State, "expires-at": r.ExpiresAt}
}

// ExitCode is 0 for a ready environment, 1 for one that failed (kept for
// inspection until its TTL).
func (r *Record) ExitCode() int {
	if r.State == StateReady {
		return exitcode.OK
	}
	return exitcode.Negative
}

// build is one build's state.
type build struct {
	in   Input
	d    *rules.EnvDecision
	m    envMeta
	rec  *Record
	st   namespaceState
	step int
}

const buildSteps = 5

func (b *build) progress() {
	b.step++
	if b.in.Progress != nil {
		b.in.Progress(b.step, buildSteps)
	}
}

// Build builds or refreshes an environment. A refused request or a
// namespace that is not ours is a bad-input error with nothing touched; any
// later failure leaves the namespace marked failed (kept until its TTL) and
// returns the record with the error.
func Build(ctx context.Context, in Input) (*Record, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	req := in.Request
	d, err := in.Rules.ResolveEnv(nil, &req)
	if err != nil {
		var ref *rules.EnvRefusal
		if errors.As(err, &ref) {
			return nil, exitcode.Input(err)
		}
		return nil, err
	}
	if req.Branch == "" || req.Owner == "" {
		return nil, exitcode.Inputf("an environment needs a branch and an owner (branch %q, owner %q)", req.Branch, req.Owner)
	}
	name := in.Name
	if name == "" {
		name = Name(d.Template.Name, req.Branch)
	}
	if !validName(name) {
		return nil, exitcode.Inputf("environment name %q is not a DNS label (lower-case letters, digits and dashes, at most 63)", name)
	}
	data := d.Parameters[rules.EnvParamData]
	if data != rules.EnvDataNone && in.Data.TargetDSN == "" {
		return nil, exitcode.Inputf("parameter data=%s needs a dataset server: give --target-dsn (in Argo, the Secret rehearsal-env-db, key target-dsn), or data=none", data)
	}
	if data == rules.EnvDataMasked && in.Data.SourceDSN == "" {
		return nil, exitcode.Inputf("parameter data=masked needs a source database: give --source-dsn (in Argo, the Secret rehearsal-env-db, key source-dsn), or data=synthetic")
	}
	var manifests []*unstructured.Unstructured
	if in.Manifests != "" {
		if manifests, err = loadManifests(in.Manifests, name); err != nil {
			return nil, exitcode.Input(err)
		}
	}
	now := in.Now().UTC().Truncate(time.Second)
	b := &build{in: in, d: d, m: envMeta{name: name, owner: req.Owner, template: d.Template.Name, expires: now.Add(d.TTL())}}
	b.rec = &Record{
		Name: name, Namespace: name, Template: d.Template.Name, Rule: d.Rule.ID, Branch: req.Branch, Owner: req.Owner,
		Parameters: d.Parameters, ExpiresAt: b.m.expires.Format(time.RFC3339), State: StateFailed,
	}
	b.st = namespaceState{state: StateBuilding, branch: req.Branch}
	b.progress()
	if err := b.claimNamespace(ctx); err != nil {
		return nil, err
	}
	b.progress()
	err = b.run(ctx, manifests)
	if err != nil {
		b.rec.State, b.rec.Message = StateFailed, err.Error()
		b.st.state, b.st.message = StateFailed, truncate(err.Error(), 1000)
		in.Log.Error("environment failed; kept for inspection until it expires", "namespace", name, "expiresAt", b.rec.ExpiresAt, "error", err)
	} else {
		b.rec.State = StateReady
		b.st.state, b.st.message = StateReady, ""
	}
	if merr := b.applyNamespace(ctx); merr != nil && err == nil {
		err = exitcode.Infrastructure(merr)
	}
	if werr := b.write(); werr != nil && err == nil {
		err = werr
	}
	return b.rec, err
}

func (b *build) run(ctx context.Context, manifests []*unstructured.Unstructured) error {
	objs, notes, err := templateObjects(b.m, b.d, b.in.Binding, b.dataHost())
	if err != nil {
		return err
	}
	b.rec.Notes = append(b.rec.Notes, notes...)
	for _, o := range objs {
		if err := b.applyObject(ctx, o); err != nil {
			return exitcode.Infrastructure(err)
		}
	}
	b.progress()
	if err := b.loadData(ctx); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	b.progress()
	for _, o := range manifests {
		if err := b.applyObject(ctx, o); err != nil {
			return exitcode.Input(err)
		}
	}
	b.progress()
	deadline := b.in.Readiness
	if deadline == 0 {
		deadline = b.d.ReadinessDeadline()
	}
	rs, err := b.waitReady(ctx, manifests, deadline)
	b.rec.Readiness = rs
	if err != nil {
		return exitcode.Verdict(err)
	}
	b.progress()
	return nil
}

// claimNamespace creates the namespace, or takes back one of ours for a
// refresh. A namespace without our labels, being reaped or being deleted is
// refused untouched.
func (b *build) claimNamespace(ctx context.Context) error {
	ns, err := b.in.Kube.Core.CoreV1().Namespaces().Get(ctx, b.m.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return exitcode.Infrastructure(fmt.Errorf("read namespace %s: %w", b.m.name, err))
	case !Ours(ns.Labels, b.m.name):
		return exitcode.Inputf("namespace %s exists and was not created by rehearsal (it lacks the labels %s=%s and %s=%s): refusing to touch it; choose another environment name", b.m.name, LabelManagedBy, ManagedBy, LabelEnv, b.m.name)
	case ns.DeletionTimestamp != nil || ns.Annotations[AnnotationState] == StateReaping:
		return exitcode.Infrastructure(fmt.Errorf("namespace %s is being removed by the reaper; build it again once it is gone", b.m.name))
	default:
		b.in.Log.Info("refreshing environment", "namespace", b.m.name, "wasExpiring", ns.Annotations[AnnotationExpiresAt])
		if ds := ns.Annotations[AnnotationDataset]; ds != "" {
			b.st.dataset, b.st.datasetUser = ds, ns.Annotations[AnnotationDatasetUser]
		}
	}
	if err := b.applyNamespace(ctx); err != nil {
		return exitcode.Infrastructure(err)
	}
	return nil
}

// Ours reports whether labels mark a namespace as the env step's own
// environment name.
func Ours(labels map[string]string, name string) bool {
	return labels[LabelManagedBy] == ManagedBy && labels[LabelEnv] != "" && (name == "" || labels[LabelEnv] == name)
}

func (b *build) applyNamespace(ctx context.Context) error {
	u, err := namespaceObject(b.m, b.d.Template, b.st)
	if err != nil {
		return err
	}
	_, err = b.in.Kube.apply(ctx, u)
	return err
}

// applyObject labels an object as the environment's and applies it.
func (b *build) applyObject(ctx context.Context, u *unstructured.Unstructured) error {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedBy
	labels[LabelEnv] = b.m.name
	u.SetLabels(labels)
	out, err := b.in.Kube.apply(ctx, u)
	// The RoleBinding the build just created takes a moment to reach the
	// API server's authorizer: a refusal right after it is retried briefly.
	for wait := 250 * time.Millisecond; apierrors.IsForbidden(errors.Unwrap(err)) && b.in.Binding != nil && wait < 5*time.Second; wait *= 2 {
		time.Sleep(wait)
		out, err = b.in.Kube.apply(ctx, u)
	}
	if err != nil {
		return err
	}
	b.rec.Objects = append(b.rec.Objects, ObjectRef{APIVersion: out.GetAPIVersion(), Kind: out.GetKind(), Name: out.GetName()})
	return nil
}

func (b *build) write() error {
	sort.SliceStable(b.rec.Objects, func(i, j int) bool {
		a, c := b.rec.Objects[i], b.rec.Objects[j]
		return a.Kind+"/"+a.Name < c.Kind+"/"+c.Name
	})
	if b.in.Workspace == "" {
		return nil
	}
	data, err := workspace.Marshal(b.rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.in.Workspace, 0o755); err != nil {
		return exitcode.Infrastructure(err)
	}
	return writeAtomic(filepath.Join(b.in.Workspace, File), data)
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return exitcode.Infrastructure(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return exitcode.Infrastructure(err)
	}
	return nil
}

func validName(s string) bool {
	return s != "" && len(s) <= 63 && Name("", s) == s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:n]) + "…"
}
