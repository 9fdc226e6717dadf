// Command mask is the test-data architect: it builds a masked, subset or
// synthetic preprod dataset, loads it into staging tables, verifies it and
// swaps it into the target schema atomically, and writes dataset.json. With
// --gc it drops expired datasets instead. See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
