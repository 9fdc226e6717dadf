package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/mask"
)

const name = "mask"

// The environment variables DSNs may come from, so that a Kubernetes Secret
// never appears in a command line.
const (
	EnvSourceDSN = "REHEARSAL_SOURCE_DSN"
	EnvTargetDSN = "REHEARSAL_TARGET_DSN"
)

// options are the command's flags.
type options struct {
	workspace, rules, sourceDSN, targetDSN, targetSchema, branch string
	keyFile, overrides, ddl, outputs, load                       string
	ttl                                                          time.Duration
	failOnSuspect, replace, gc                                   bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&o.workspace, "workspace", ".", "workspace `dir`: dataset.json is written there")
	fl.StringVar(&o.rules, "rules", "rules/", "rules `dir` (mask.yaml)")
	fl.StringVar(&o.sourceDSN, "source-dsn", "", "source `DSN` (go-sql-driver form, e.g. user:pass@tcp(host:3306)/shop; default $"+EnvSourceDSN+"); without one, rows are generated")
	fl.StringVar(&o.targetDSN, "target-dsn", "", "target server `DSN` (default $"+EnvTargetDSN+"); with neither DSN, an embedded server runs the demo on fixtures/shop")
	fl.StringVar(&o.targetSchema, "target-schema", "", "target schema `name` or template; {{branch}} becomes --branch (default: the target DSN's database, else "+mask.DefaultTargetSchema+")")
	fl.StringVar(&o.branch, "branch", "", "branch `name` for {{branch}} in --target-schema")
	fl.StringVar(&o.keyFile, "key-file", "", "masking key `file` (at least 16 bytes; never logged, dataset.json records only its id)")
	fl.StringVar(&o.overrides, "overrides", "", "overrides `file` (kind: mask-overrides): per-column transformers, JSON paths, skipped tables, subsets, row counts")
	fl.StringVar(&o.ddl, "ddl", "", "DDL `file` to generate synthetic rows for when there is no source")
	fl.DurationVar(&o.ttl, "ttl", mask.DefaultTTL, "how long the dataset lives before --gc drops it")
	fl.BoolVar(&o.failOnSuspect, "fail-on-suspect", false, "refuse to load (exit 1) when a kept column looks sensitive")
	fl.BoolVar(&o.replace, "replace", false, "allow replacing a target schema that has tables mask did not make")
	fl.StringVar(&o.load, "load", "", "force the load `method`: load-data or insert (default: LOAD DATA LOCAL INFILE when the server allows it)")
	fl.StringVar(&o.outputs, "outputs", "", "`dir` for Argo output parameters (rows, tables, verified)")
	fl.BoolVar(&o.gc, "gc", false, "drop expired datasets and the staging left by interrupted runs on --target-dsn, then exit")
	if err := stepcmd.Parse(fl, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if o.sourceDSN == "" {
		o.sourceDSN = os.Getenv(EnvSourceDSN)
	}
	if o.targetDSN == "" {
		o.targetDSN = os.Getenv(EnvTargetDSN)
	}
	log := stepcmd.Logger(stderr)
	if o.gc {
		out, err := mask.GC(ctx, mask.GCInput{TargetDSN: o.targetDSN, Log: log})
		if err != nil {
			return stepcmd.Fail(stderr, name, err)
		}
		return writeJSON(stdout, stderr, out, exitcode.OK)
	}
	start := time.Now()
	set, out, err := maskRun(ctx, o, log)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Audit(o.workspace, name, name, start, set.Digest, nil, []string{workspace.DatasetFile}); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if err := stepcmd.Outputs(o.outputs, out.Params()); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	code := out.ExitCode()
	if code != exitcode.OK {
		reason := strings.Join(out.Dataset.Verification.Problems, "; ")
		stepcmd.Fail(stderr, name, exitcode.Verdict(fmt.Errorf("dataset not swapped in, target unchanged: %s", reason)))
	} else {
		log.Info("dataset swapped in", "target", out.Dataset.Target, "tables", out.Tables, "rows", out.Rows,
			"mode", out.Dataset.Mode, "key", out.Dataset.KeyID, "dataset", filepath.Join(o.workspace, workspace.DatasetFile))
	}
	return writeJSON(stdout, stderr, out.Params(), code)
}

func writeJSON(stdout, stderr io.Writer, v any, code int) int {
	b, err := workspace.Marshal(v)
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	if _, err := stdout.Write(b); err != nil {
		return stepcmd.Fail(stderr, name, exitcode.Infrastructure(err))
	}
	return code
}

func maskRun(ctx context.Context, o options, log *slog.Logger) (*rules.Set, mask.Output, error) {
	set, err := rules.Load(o.rules)
	if err != nil {
		return nil, mask.Output{}, exitcode.Input(err)
	}
	var key []byte
	if o.keyFile != "" {
		key, err = os.ReadFile(o.keyFile)
		if errors.Is(err, fs.ErrNotExist) && o.sourceDSN == "" && o.targetDSN == "" {
			// No database and no key configured (in Argo: neither Secret
			// exists): the embedded demo, which dataset.json records as such.
			log.Warn("no DSN and no key configured: masking the bundled fixtures on the embedded server with the demo key; create the rehearsal-mask-db and rehearsal-mask-key Secrets for real data", "keyFile", o.keyFile)
			key, err = nil, nil
		} else if errors.Is(err, fs.ErrNotExist) {
			return nil, mask.Output{}, exitcode.Inputf("key file %s does not exist", o.keyFile)
		}
		if err != nil {
			return nil, mask.Output{}, exitcode.Inputf("read key file: %v", err)
		}
		key = []byte(strings.TrimRight(string(key), "\r\n"))
	}
	in := mask.Input{
		Workspace: o.workspace, Rules: set, SourceDSN: o.sourceDSN, TargetDSN: o.targetDSN,
		TargetSchema: o.targetSchema, Branch: o.branch, DDLFile: o.ddl, Key: key, OverridesFile: o.overrides,
		TTL: o.ttl, FailOnSuspect: o.failOnSuspect, Replace: o.replace,
		Options:  mask.Options{Load: o.load},
		Progress: stepcmd.NewProgress().Func(),
		Log:      log,
	}
	out, err := mask.Run(ctx, in)
	return set, out, err
}
