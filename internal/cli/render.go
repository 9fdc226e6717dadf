package cli

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// renderCmd is `rehearsal render`: classify and coordinate into the workspace,
// then print workflow.yaml on stdout for `argo submit`. With no node to run it
// prints nothing and says so on stderr.
func renderCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s source
	fl := flag.NewFlagSet("render", flag.ContinueOnError)
	s.flags(fl, false)
	fl.StringVar(&s.argo.WorkspaceClaim, "workspace-claim", "", "PersistentVolumeClaim `name` holding the workspace in the cluster")
	fl.StringVar(&s.argo.ServiceAccount, "service-account", "", "service `account` for pods whose template names none")
	log := stepcmd.Logger(stderr)
	if err := s.start(ctx, fl, args, stderr, log); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(s.workspace, workspace.WorkflowFile))
	if os.IsNotExist(err) {
		log.Info("no rule routed a node: nothing to submit")
		return nil
	}
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	_, err = stdout.Write(b)
	return err
}
