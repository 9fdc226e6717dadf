// Package stepcmd is the shared frame of every Rehearsal binary: a signal-aware
// context, flag parsing that exits 2 on misuse, logs on stderr, the failure
// reason on /dev/termination-log (so Argo shows it on the node), Argo output
// parameters and progress, and the mapping from errors to exit codes.
package stepcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/version"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// TerminationLog is where Kubernetes reads a container's failure reason.
var TerminationLog = "/dev/termination-log"

// Main runs fn with a context cancelled on SIGINT/SIGTERM and returns the exit
// code. Use it as `os.Exit(stepcmd.Main(run))`.
func Main(fn func(ctx context.Context, args []string, stdout, stderr io.Writer) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Parse parses args into fs; usage errors give exit 2 with the usage text.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.Wrap(exitcode.OK, err)
		}
		return exitcode.Input(err)
	}
	if fs.NArg() > 0 {
		return exitcode.Inputf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Logger returns the logger every binary uses: text on stderr.
func Logger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Fail reports err on stderr (and the termination log when it exists) and
// returns its exit code. A nil error returns 0.
func Fail(stderr io.Writer, name string, err error) int {
	code := exitcode.Code(err)
	if err == nil || code == exitcode.OK {
		return code
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if _, statErr := os.Stat(TerminationLog); statErr == nil {
		msg := err.Error()
		if len(msg) > 3500 { // the kubelet keeps 4 KiB at most
			msg = msg[:3500] + "…"
		}
		_ = os.WriteFile(TerminationLog, []byte(msg), 0o644)
	}
	return code
}

// Outputs writes Argo output parameters, one file per name, into dir (the path
// a template's `outputs.parameters[].valueFrom.path` points at). An empty dir
// writes nothing.
func Outputs(dir string, params map[string]string) error {
	if dir == "" {
		return nil
	}
	for k, v := range params {
		if err := workspace.WriteFile(filepath.Join(dir, k), []byte(v)); err != nil {
			return exitcode.Infrastructure(fmt.Errorf("write output parameter %s: %w", k, err))
		}
	}
	return nil
}

// Progress reports "done/total" through ARGO_PROGRESS_FILE when Argo sets it.
// It is a no-op elsewhere.
type Progress struct{ path string }

// NewProgress reads the progress file location from the environment; only a
// main may call it (steps never read the environment).
func NewProgress() Progress { return Progress{path: os.Getenv("ARGO_PROGRESS_FILE")} }

// Report writes the progress.
func (p Progress) Report(done, total int) {
	if p.path == "" || total <= 0 {
		return
	}
	_ = os.WriteFile(p.path, []byte(fmt.Sprintf("%d/%d", done, total)), 0o644)
}

// Func returns Report as a plain function for step inputs.
func (p Progress) Func() func(done, total int) { return p.Report }

// The environment a WorkflowTemplate gives its step container, so the audit
// entry names what ran: the image reference (ko resolves `ko://` values to
// digests, in env values as in images) and the template. Argo itself sets
// ARGO_NODE_ID.
const (
	EnvImage    = "REHEARSAL_IMAGE"
	EnvTemplate = "REHEARSAL_TEMPLATE"
	EnvArgoNode = "ARGO_NODE_ID"
)

// Report writes a step's Argo output parameters into outputsDir (see
// Outputs) and its JSON summary on stdout: the two machine outputs every
// step has.
func Report(stdout io.Writer, outputsDir string, params map[string]string, summary any) error {
	if err := Outputs(outputsDir, params); err != nil {
		return err
	}
	b, err := workspace.Marshal(summary)
	if err != nil {
		return err
	}
	if _, err := stdout.Write(b); err != nil {
		return exitcode.Infrastructure(err)
	}
	return nil
}

// Record fills e's tool version and, in Argo, the image, template and node
// it ran as (from the environment), and records it with the digests of the
// files it read and wrote.
func Record(ws string, e workspace.AuditEntry, inputs, outputs []string) error {
	e.Version = version.Version
	e.Image, e.Template, e.ArgoNode = os.Getenv(EnvImage), os.Getenv(EnvTemplate), os.Getenv(EnvArgoNode)
	if err := workspace.Record(ws, e, inputs, outputs); err != nil {
		return exitcode.Infrastructure(fmt.Errorf("record audit entry: %w", err))
	}
	return nil
}

// Audit records the step's audit entry in the workspace (audit/<node>.json):
// when it ran, the image and template it ran from (in Argo), the rules digest,
// and the digests of the files it read and wrote. The packet gathers these
// entries.
func Audit(ws, step, node string, start time.Time, rulesDigest string, inputs, outputs []string) error {
	return Record(ws, workspace.AuditEntry{Step: step, Node: node, Start: workspace.AuditTime(start), RulesDigest: rulesDigest}, inputs, outputs)
}
