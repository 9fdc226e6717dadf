// Package cli implements the rehearsal command: run, approve, rules test, packet
// verify|replay, render and version. Every subcommand returns an exit code from
// internal/exitcode; only main exits.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/version"
)

const usage = `rehearsal rehearses a release in pre-production.

Usage:
  rehearsal run      [--demo | --repo DIR --base REV --head REV | --event FILE] [--catalog FILE]
                     [--rules DIR] [--request TEXT] [--env NAME] [--service NAME]... [--goal G]...
                     [--target REV] [--model NAME] [--model-budget DUR]
                     [--approve GATE=USER]... [--workspace DIR]
  rehearsal approve  --gate NAME --as USER [--decision approve|reject] [--comment TEXT] [--workspace DIR]
  rehearsal rules test [DIR]
  rehearsal packet verify DIR [--public-key FILE]
  rehearsal packet replay DIR [--rules DIR]
  rehearsal render   [--repo DIR --base REV --head REV | --event FILE] [--catalog FILE] [--rules DIR] [--workspace DIR]
                     [--request TEXT] [--env NAME] [--service NAME]... [--goal G]... [--target REV] [--model NAME]
  rehearsal version

A request is read by a keyword parser, or also by Gemini when GEMINI_API_KEY,
GOOGLE_API_KEY or Vertex AI settings are set; --env, --service, --goal and
--target say the same explicitly and override it.

Exit codes: 0 ok, 1 negative verdict, 2 bad input or usage, 3 infrastructure failure,
4 stopped at a gate awaiting approval.
`

// Run is the rehearsal command.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitcode.BadInput
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = runCmd(ctx, rest, stdout, stderr)
	case "approve":
		err = approveCmd(ctx, rest, stdout, stderr)
	case "rules":
		err = rulesCmd(rest, stdout, stderr)
	case "packet":
		err = packetCmd(ctx, rest, stdout, stderr)
	case "render":
		err = renderCmd(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "rehearsal %s\n", version.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		err = exitcode.Inputf("unknown command %q", cmd)
	}
	return stepcmd.Fail(stderr, "rehearsal", err)
}
