// Command plan is the deploy designer: it reads the workspace's change.json,
// the service catalog and the Kubernetes manifests, and writes plan.json,
// runbook.md and Argo Rollouts manifests (rollouts/*.yaml). See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
