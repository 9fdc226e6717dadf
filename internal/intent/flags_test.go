package intent

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

func TestFlags(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs)
	if err := fs.Parse([]string{"--env", "staging", "--service", "api", "--service", "orders, api", "--goal", "prepare,verify", "--goal", "promote", "--target", "v1.2.3"}); err != nil {
		t.Fatal(err)
	}
	want := it("staging", []string{"api", "orders", "api"}, []string{"prepare", "verify", "promote"}, "v1.2.3")
	if got := f.Intent(); !reflect.DeepEqual(got, want) {
		t.Errorf("Intent() = %+v, want %+v", got, want)
	}
}

// TestRulesReadIntentOnlyToRoute: a request may add work to the graph, never
// change a class, a risk tier or a gate, so only route rules may read
// change.intent.
func TestRulesReadIntentOnlyToRoute(t *testing.T) {
	set, err := rules.Load("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	routes := 0
	for _, f := range set.Files {
		for _, r := range f.Rules {
			if !strings.Contains(r.When, "intent") {
				continue
			}
			if f.Kind != rules.Route {
				t.Errorf("%s rule %s (%s) reads the request's intent; only route rules may", f.Kind, r.ID, r.Pos())
			}
			if r.Effect.Node == nil {
				t.Errorf("route rule %s (%s) reads the intent but adds no node", r.ID, r.Pos())
			}
			routes++
		}
	}
	if routes == 0 {
		t.Errorf("no route rule reads change.intent")
	}
}
