// Command scan is the security guardian: it scans a release's manifests,
// Helm charts, Terraform, Dockerfiles and text files with Trivy's embedded
// checks and secret rules and the preprod policies, and writes findings.json
// and findings.sarif. It exits 1 when a blocker no exception covers remains.
// See README.md.
package main

import (
	"os"

	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

func main() { os.Exit(stepcmd.Main(run)) }
