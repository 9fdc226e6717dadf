// Command smokestep is the trivial step of hack/cluster/smoke.sh: it writes
// (or, with --expect, first checks) a file in the workspace volume, proving
// that the image, the volume and the pod's user all work together.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("smokestep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workspace := fs.String("workspace", "", "workspace directory (skipped when empty)")
	write := fs.String("write", "", "file to write in the workspace")
	expect := fs.String("expect", "", "file that must already exist in the workspace")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *expect != "" {
		b, err := os.ReadFile(filepath.Join(*workspace, *expect))
		if err != nil {
			fmt.Fprintf(stderr, "smokestep: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "read %s: %s", *expect, b)
	}
	if *write != "" {
		msg := fmt.Sprintf("written by uid %d\n", os.Getuid())
		if err := os.WriteFile(filepath.Join(*workspace, *write), []byte(msg), 0o644); err != nil {
			fmt.Fprintf(stderr, "smokestep: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "smokestep ok (uid %d)\n", os.Getuid())
	return 0
}
