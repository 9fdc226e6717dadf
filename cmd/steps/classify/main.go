// Command classify reads a change (a git repository and two revisions, or a
// GitHub push or pull_request event), maps it onto the service catalog, runs
// the classify rules and writes change.json and catalog.json into the
// workspace. See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
