// Command coordinate evaluates the route and gate rules on the workspace's
// change.json and writes graph.json and workflow.yaml, the child Argo Workflow.
// See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
