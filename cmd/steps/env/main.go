// Command env builds an ephemeral preprod environment from an approved
// template (rules/envs.yaml): namespace, quota, limits, deny-by-default
// network policy, a masked or synthetic dataset with its own database
// account, the branch's manifests, readiness. With --gc it is the reaper:
// it removes expired environments, and never anything it did not create.
// See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
