package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/version"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
)

const name = "packet"

type options struct {
	workspace string
	keyFile   string
	outputs   string
	model     llm.Flags
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.workspace, "workspace", ".", "workspace `dir`ectory")
	fs.StringVar(&o.keyFile, "key-file", "", "ed25519 signing key, PEM \"PRIVATE KEY\" (PKCS#8) `file`; empty: the workspace key keys/packet.key")
	fs.StringVar(&o.outputs, "outputs", "", "`dir`ectory for Argo output parameter files (verdict)")
	o.model.Register(fs)
	if err := stepcmd.Parse(fs, args, stderr); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	log := stepcmd.Logger(stderr)

	out, err := packet.Run(ctx, packet.Input{Workspace: o.workspace, KeyFile: o.keyFile, Version: version.Version,
		Model: o.model.Open(ctx, os.Getenv, log)})
	if err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	for _, w := range out.Warnings {
		log.Warn(w)
	}
	if err := stepcmd.Report(stdout, o.outputs, map[string]string{"verdict": out.Verdict}, out); err != nil {
		return stepcmd.Fail(stderr, name, err)
	}
	log.Info("packet signed", "verdict", out.Verdict, "reason", out.Reason, "keyId", out.KeyID, "files", out.Files)
	if out.ExitCode() == exitcode.OK {
		return exitcode.OK
	}
	return stepcmd.Fail(stderr, name, exitcode.Wrap(out.ExitCode(), fmt.Errorf("verdict %s: %s", out.Verdict, out.Reason)))
}
