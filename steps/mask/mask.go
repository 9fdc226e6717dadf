// Package mask is the test-data architect: it builds a preprod dataset from a
// source schema — every table copied whole, a foreign-key-closed subset, or
// synthetic rows when there is no source — with every sensitive column
// replaced by deterministic fakes (internal/mask/transform) chosen by the mask
// rules, loads it into staging tables, verifies it (row counts, foreign keys,
// no original sensitive value left) and swaps it into the target atomically,
// so the target holds either the old complete dataset or the new one. It
// writes dataset.json. Without DSNs it runs the same path on an embedded
// server loaded with fixtures/shop.
package mask

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"time"

	"github.com/rehearsal-dev/rehearsal/fixtures/shop"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// DefaultTargetSchema is the target schema template: {{branch}} becomes the
// branch name, made a valid schema name.
const DefaultTargetSchema = "preprod_{{branch}}"

// DefaultTTL is how long a dataset lives before `mask --gc` may drop it.
const DefaultTTL = 7 * 24 * time.Hour

// DemoKey is the masking key of the embedded demo when no key is given. It is
// public: datasets masked with it protect nothing and say so in their notes.
const DemoKey = "rehearsal-demo-key-not-a-secret"

// Input is what one mask run needs.
type Input struct {
	// Workspace is where dataset.json is written (and change.json read).
	Workspace string
	Rules     *rules.Set
	// Change is what rules see as `change`; nil reads the workspace's
	// change.json when there is one.
	Change *workspace.Change

	// SourceDSN and TargetDSN are go-sql-driver DSNs. With neither, the run
	// uses an embedded server loaded with Fixtures (the demo). Without a
	// source, rows are generated (synthetic mode) from DDLFile, or from the
	// target schema's own tables when it already has them.
	SourceDSN string
	TargetDSN string
	// TargetSchema names the target schema; {{branch}} is replaced by
	// Branch. Empty: the target DSN's database, else DefaultTargetSchema.
	TargetSchema string
	Branch       string
	// DDLFile holds CREATE TABLE statements for synthetic generation.
	DDLFile string
	// Key is the masking key material (at least 16 bytes). Only the
	// embedded demo runs without one (DemoKey).
	Key []byte
	// OverridesFile is an optional annotation file: per-column transformer
	// choices, JSON paths, tables to skip, subsets and row counts.
	OverridesFile string
	// TTL is recorded in the target; `mask --gc` drops it once expired.
	TTL time.Duration
	// FailOnSuspect refuses to load when a kept column looks sensitive.
	FailOnSuspect bool
	// Replace allows replacing a target schema that has tables but was not
	// made by mask.
	Replace bool

	// Fixtures and FixturesSchema are what the embedded server is loaded
	// with (default: fixtures/shop as schema shop).
	Fixtures       fs.FS
	FixturesSchema string

	Options Options
	// Now is the clock for the creation time recorded in the target.
	Now      func() time.Time
	Progress func(done, total int)
	Log      *slog.Logger
}

// Options tune a run; zero values pick the defaults.
type Options struct {
	// SampleRows is how many rows per table the classification samples.
	SampleRows int
	// BatchRows is how many rows move through the pipeline together.
	BatchRows int
	// Workers is how many goroutines transform rows (default: GOMAXPROCS).
	Workers int
	// Load forces a load method: "load-data", "insert" or "" (LOAD DATA
	// LOCAL INFILE when the server allows it, INSERT otherwise).
	Load string
	// Identity replaces every transformer by keep: the same pipeline as an
	// unmasked copy (benchmarks compare the two).
	Identity bool
	// SyntheticRows is the row count of tables no rule gives one.
	SyntheticRows int64
	// Reserve reserves the fakes of unique columns in a pass over them
	// before loading, instead of claiming them while loading (the run falls
	// back to it by itself when claiming cannot stay consistent).
	Reserve bool
}

// Output is the result of a run.
type Output struct {
	Dataset  workspace.Dataset `json:"dataset"`
	Tables   int               `json:"tables"`
	Rows     int64             `json:"rows"`
	Verified bool              `json:"verified"`
}

// ExitCode is 0 when the dataset was verified and swapped in, 1 when it was
// not (verification failed, or suspects with FailOnSuspect): the target is
// then unchanged.
func (o Output) ExitCode() int {
	if o.Verified {
		return exitcode.OK
	}
	return exitcode.Negative
}

// Params are the Argo output parameters.
func (o Output) Params() map[string]string {
	return map[string]string{
		"rows":     strconv.FormatInt(o.Rows, 10),
		"tables":   strconv.Itoa(o.Tables),
		"verified": strconv.FormatBool(o.Verified),
	}
}

func (in *Input) defaults() error {
	if in.Rules == nil {
		return exitcode.Inputf("no rules given")
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	if in.Progress == nil {
		in.Progress = func(int, int) {}
	}
	if in.TTL == 0 {
		in.TTL = DefaultTTL
	}
	if in.Fixtures == nil {
		in.Fixtures, in.FixturesSchema = shop.FS, shop.Schema
	}
	if in.FixturesSchema == "" {
		in.FixturesSchema = shop.Schema
	}
	o := &in.Options
	if o.SampleRows <= 0 {
		o.SampleRows = 1000
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 2048
	}
	if o.SyntheticRows <= 0 {
		o.SyntheticRows = 100
	}
	switch o.Load {
	case "", loadData, loadInsert:
	default:
		return exitcode.Inputf("load method %q is not load-data or insert", o.Load)
	}
	if in.Change == nil && in.Workspace != "" {
		c, err := workspace.ReadChange(in.Workspace)
		switch {
		case err == nil:
			in.Change = &c
		case errors.Is(err, fs.ErrNotExist):
			in.Change = &workspace.Change{}
		default:
			return exitcode.Input(err)
		}
	}
	if in.Change == nil {
		in.Change = &workspace.Change{}
	}
	return nil
}

// embedded reports whether the run uses the embedded server.
func (in *Input) embedded() bool { return in.SourceDSN == "" && in.TargetDSN == "" }

func (in *Input) key() (*transform.Key, []string, error) {
	if len(in.Key) == 0 {
		if !in.embedded() {
			return nil, nil, exitcode.Inputf("no masking key: give --key-file (a file of at least %d bytes; only the embedded demo runs without one)", transform.MinKeyLen)
		}
		k, err := transform.NewKey([]byte(DemoKey))
		return k, []string{"masked with the public demo key: these fakes protect nothing outside the demo"}, err
	}
	k, err := transform.NewKey(in.Key)
	if err != nil {
		return nil, nil, exitcode.Inputf("masking key: %v", err)
	}
	return k, nil, nil
}

// Run builds the dataset, loads, verifies and swaps it, and writes
// dataset.json.
func Run(ctx context.Context, in Input) (Output, error) {
	if err := in.defaults(); err != nil {
		return Output{}, err
	}
	r := &run{in: in}
	defer r.close()
	out, err := r.run(ctx)
	if err != nil {
		return out, err
	}
	if in.Workspace != "" {
		if err := workspace.WriteJSON(in.Workspace, workspace.DatasetFile, out.Dataset); err != nil {
			return out, exitcode.Infrastructure(err)
		}
	}
	return out, nil
}

// errorf formats an infrastructure error (exit 3) with secrets removed.
func (r *run) infra(format string, args ...any) error {
	return exitcode.Infrastructure(r.redact(fmt.Errorf(format, args...)))
}
