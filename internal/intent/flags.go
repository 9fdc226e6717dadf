package intent

import (
	"flag"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Flags are the explicit intent flags shared by `rehearsal run|render` and
// the classify step: --env, --service (repeatable), --goal (repeatable) and
// --target. --service and --goal also take comma-separated lists.
type Flags struct {
	Env      string
	Services list
	Goals    list
	Target   string
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Env, "env", "", "pre-production environment `name` the release targets ("+strings.Join(Environments, ", ")+")")
	fs.Var(&f.Services, "service", "catalog service `name` the release is for (repeatable)")
	fs.Var(&f.Goals, "goal", "`goal` of the request: "+strings.Join(Goals, ", ")+" (repeatable)")
	fs.StringVar(&f.Target, "target", "", "target `revision` of the release (tag, version or commit)")
}

// Intent returns what the flags say.
func (f *Flags) Intent() workspace.Intent {
	return workspace.Intent{Environment: f.Env, Services: []string(f.Services), Goals: []string(f.Goals), Revision: f.Target}
}

// list collects a repeatable flag; each value may be a comma-separated list.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
