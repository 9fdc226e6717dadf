// Command gate verifies a decision at an approval gate against the gate's policy
// and records it in approvals/<gate>.json. See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
