package cli

import (
	"flag"
	"fmt"
	"io"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
)

// rulesCmd is `rehearsal rules test [DIR]`: load the rule set (every problem at
// once, exit 2) and run the cases beside each file, conftest style.
func rulesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return exitcode.Inputf("usage: rehearsal rules test [DIR]")
	}
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	if err := stepcmd.Parse(fs, nil, stderr); err != nil {
		return err
	}
	dir := "rules"
	switch rest := args[1:]; len(rest) {
	case 0:
	case 1:
		dir = rest[0]
	default:
		return exitcode.Inputf("usage: rehearsal rules test [DIR]")
	}
	set, err := rules.Load(dir)
	if err != nil {
		return exitcode.Input(err)
	}
	results := set.Test()
	failed := 0
	for _, r := range results {
		if r.Passed() {
			fmt.Fprintf(stdout, "PASS - %s - %s\n", r.File, r.Case)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL - %s:%d - %s\n", r.File, r.Line, r.Case)
		for _, f := range r.Failures {
			fmt.Fprintf(stdout, "       %s\n", f)
		}
	}
	untested := set.Untested()
	for _, f := range untested {
		fmt.Fprintf(stdout, "WARN - %s - no test file beside it\n", f)
	}
	fmt.Fprintf(stdout, "\n%d tests, %d passed, %d warnings, %d failures (rules %s)\n",
		len(results), len(results)-failed, len(untested), failed, set.Digest)
	if failed > 0 {
		return exitcode.Verdict(fmt.Errorf("%d rule test case(s) failed", failed))
	}
	return nil
}
