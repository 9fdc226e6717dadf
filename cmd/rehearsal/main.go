// Command rehearsal is Rehearsal's user CLI: run the pipeline locally, approve
// gates, test rules, verify and replay packets, render a Workflow for argo submit.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/cli"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() {
	os.Exit(stepcmd.Main(cli.Run))
}
