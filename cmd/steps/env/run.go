package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/steps/env"
)

const name = "env"

// The environment variables the DSNs and the step's own identity come from,
// so that a Secret never appears in a command line (the WorkflowTemplate sets
// them from the Secret rehearsal-env-db and the downward API).
const (
	EnvSourceDSN      = "REHEARSAL_SOURCE_DSN"
	EnvTargetDSN      = "REHEARSAL_TARGET_DSN"
	EnvDataHost       = "REHEARSAL_DATA_HOST"
	EnvServiceAccount = "REHEARSAL_SERVICE_ACCOUNT"
	EnvPodNamespace   = "REHEARSAL_POD_NAMESPACE"
	EnvPodName        = "REHEARSAL_POD_NAME"
)

// params collects repeated -p key=value flags.
type params map[string]string

func (p params) String() string {
	var out []string
	for k, v := range p {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (p params) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("parameter %q is not key=value", s)
	}
	if _, dup := p[k]; dup {
		return fmt.Errorf("parameter %s given twice", k)
	}
	p[k] = v
	return nil
}

// list collects a repeated flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	workspace, rules, template, branch, owner, envName, manifests, kubeconfig string
	sourceDSN, targetDSN, keyFile, ddl, outputs, clusterRole, dataHost        string
	readiness, lease                                                          time.Duration
	gc, dryRun                                                                bool
	params                                                                    params
	names                                                                     list
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := options{params: params{}}
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&o.workspace, "workspace", ".", "workspace `dir`: env.json (and the dataset's dataset.json) are written there")
	fl.StringVar(&o.rules, "rules", "rules/", "rules `dir` (envs.yaml: the approved templates; mask.yaml for the dataset)")
	fl.StringVar(&o.template, "template", "", "approved environment `template` (rules/envs.yaml)")
	fl.StringVar(&o.branch, "branch", "", "the `branch` the environment is for")
	fl.StringVar(&o.owner, "owner", "", "who the environment is for (`name`), recorded in its labels")
	fl.Var(o.params, "p", "template parameter `key=value` (ttl, size, data), repeatable; values outside the template's allowed ones are refused")
	fl.StringVar(&o.envName, "name", "", "environment and namespace `name` (default <template>-<branch>)")
	fl.StringVar(&o.manifests, "manifests", "", "the branch's manifest `dir`: a kustomization, or YAML files (applied into the environment's namespace)")
	fl.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig `file` (default $KUBECONFIG, ~/.kube/config, or the pod's service account)")
	fl.StringVar(&o.sourceDSN, "source-dsn", "", "source database `DSN` masked from (default $"+EnvSourceDSN+")")
	fl.StringVar(&o.targetDSN, "target-dsn", "", "dataset server `DSN` the environment's schema and account are created on (default $"+EnvTargetDSN+")")
	fl.StringVar(&o.dataHost, "data-host", "", "the dataset server's `address` as the environment's pods reach it (default $"+EnvDataHost+", else the target DSN's host)")
	fl.StringVar(&o.keyFile, "key-file", "", "masking key `file` (never logged)")
	fl.StringVar(&o.ddl, "ddl", "", "DDL `file` synthetic data is generated for (data=synthetic)")
	fl.DurationVar(&o.readiness, "readiness", 0, "readiness deadline (default: the template's)")
	fl.StringVar(&o.clusterRole, "workload-role", "", "`ClusterRole` bound to the step's own ServiceAccount inside each environment (in a cluster: rehearsal-env-workload)")
	fl.StringVar(&o.outputs, "outputs", "", "`dir` for Argo output parameters (namespace, state, expires-at)")
	fl.BoolVar(&o.gc, "gc", false, "reaper: remove expired environments (namespace and dataset), then exit")
	fl.BoolVar(&o.dryRun, "dry-run", false, "with --gc: list what would be removed, remove nothing")
	fl.Var(&o.names, "env", "with --gc: only this environment `name` (repeatable); one without the env step's labels is refused")
	fl.DurationVar(&o.lease, "lease", env.DefaultLease, "with --gc: how long another reaper's claim holds before this one takes over")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if o.sourceDSN == "" {
		o.sourceDSN = os.Getenv(EnvSourceDSN)
	}
	if o.targetDSN == "" {
		o.targetDSN = os.Getenv(EnvTargetDSN)
	}
	if o.dataHost == "" {
		o.dataHost = os.Getenv(EnvDataHost)
	}
	log := stepcmd.Logger(stderr)
	if o.gc {
		kube, err := kube(o.kubeconfig)
		if err != nil {
			return stepcmd.Fail(stderr, name, err)
		}
		out, err := env.GC(ctx, env.GCInput{Kube: kube, TargetDSN: o.targetDSN, Names: o.names, DryRun: o.dryRun,
			Reaper: os.Getenv(EnvPodName), Lease: o.lease, Log: log})
		if rerr := stepcmd.Report(stdout, o.outputs, map[string]string{"reaped": fmt.Sprint(len(out.Reaped))}, out); rerr != nil && err == nil {
			err = rerr
		}
		return stepcmd.Fail(stderr, name, err)
	}
	start := time.Now()
	set, err := rules.Load(o.rules)
	if err != nil {
		return stepcmd.Fail(stderr, name, exitcode.Input(err))
	}
	in := env.Input{
		Workspace: o.workspace, Rules: set, Name: o.envName, Manifests: o.manifests, Readiness: o.readiness,
		Request:  rules.EnvRequest{Template: o.template, Branch: o.branch, Owner: o.owner, Parameters: o.params},
		Data:     env.Data{SourceDSN: o.sourceDSN, TargetDSN: o.targetDSN, DDLFile: o.ddl, Host: o.dataHost},
		Progress: stepcmd.NewProgress().Func(),
		Log:      log,
	}
	// The request is checked against the templates before anything else is
	// read or touched.
	if _, err := set.ResolveEnv(nil, &in.Request); err != nil {
		return stepcmd.Fail(stderr, name, exitcode.Input(err))
	}
	if o.keyFile != "" {
		// A missing key file is an error only for a dataset that needs a key
		// (the test-data architect says so); data=none needs none.
		key, err := os.ReadFile(o.keyFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return stepcmd.Fail(stderr, name, exitcode.Inputf("read key file: %v", err))
		default:
			in.Data.Key = []byte(strings.TrimRight(string(key), "\r\n"))
		}
	}
	if o.clusterRole != "" {
		sa, ns := os.Getenv(EnvServiceAccount), os.Getenv(EnvPodNamespace)
		if sa == "" || ns == "" {
			return stepcmd.Fail(stderr, name, exitcode.Inputf("--workload-role needs the step's ServiceAccount and namespace ($%s, $%s)", EnvServiceAccount, EnvPodNamespace))
		}
		in.Binding = &env.Binding{ClusterRole: o.clusterRole, ServiceAccount: sa, Namespace: ns}
	}
	if in.Kube, err = kube(o.kubeconfig); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	rec, err := env.Build(ctx, in)
	if rec == nil {
		return stepcmd.Fail(stderr, name, err)
	}
	outputs := []string{env.File}
	if rec.Dataset != nil {
		outputs = append(outputs, "dataset.json")
	}
	if aerr := stepcmd.Audit(o.workspace, name, name, start, set.Digest, nil, outputs); aerr != nil && err == nil {
		err = aerr
	}
	if rerr := stepcmd.Report(stdout, o.outputs, rec.Params(), rec); rerr != nil && err == nil {
		err = rerr
	}
	if err == nil {
		log.Info("environment ready", "namespace", rec.Namespace, "expiresAt", rec.ExpiresAt, "objects", len(rec.Objects))
	}
	return stepcmd.Fail(stderr, name, err)
}

func kube(kubeconfig string) (*env.Kube, error) {
	cfg, err := env.Config(kubeconfig)
	if err != nil {
		return nil, exitcode.Infrastructure(err)
	}
	k, err := env.NewKube(cfg)
	if err != nil {
		return nil, exitcode.Infrastructure(err)
	}
	return k, nil
}
