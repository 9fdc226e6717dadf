package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Topology is the service graph: catalog dependsOn plus the addresses found in
// manifests. An edge a → b means a depends on (calls) b.
type Topology struct {
	Services []string            // catalog order
	Deps     map[string][]string // service → sorted dependencies
	// Source gives, per edge "a→b", who declared it: "catalog" or file:line:col.
	Source map[string]string
	rev    map[string][]string // service → services depending on it, in catalog order
}

// BuildTopology resolves manifest references to catalog services and merges
// them with the catalog's dependsOn. A reference to a service that is neither
// in the catalog nor a Kubernetes Service of its manifests is a located error,
// and so is a dependency cycle (reported once, with where each edge comes from).
func BuildTopology(cat *catalog.Catalog, m *Manifests) (*Topology, error) {
	t := &Topology{Deps: map[string][]string{}, Source: map[string]string{}}
	names := map[string]string{} // host name → catalog service
	for _, s := range cat.Services {
		t.Services = append(t.Services, s.Name)
		names[s.Name] = s.Name
	}
	for _, s := range cat.Services {
		for _, ks := range m.Services[s.Name] {
			if _, ok := names[ks.Name]; !ok {
				names[ks.Name] = s.Name
			}
		}
	}
	addEdge := func(a, b, src string) {
		if a == b {
			return
		}
		k := a + "→" + b
		if _, ok := t.Source[k]; ok {
			return
		}
		t.Source[k] = src
		t.Deps[a] = append(t.Deps[a], b)
	}
	for _, s := range cat.Services {
		for _, d := range s.DependsOn {
			addEdge(s.Name, d, "catalog")
		}
	}
	var problems diag.List
	for _, r := range m.refs {
		to, ok := names[r.Host]
		if !ok {
			problems.Add(r.File, r.Line, r.Col, "%s of service %q refers to %q, which is neither a catalog service nor a Kubernetes Service in the manifests (add it to the catalog, or use its external address)", r.What, r.Source, r.Host)
			continue
		}
		addEdge(r.Source, to, fmt.Sprintf("%s:%d:%d", r.File, r.Line, r.Col))
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	t.rev = map[string][]string{}
	for _, a := range t.Services {
		slices.Sort(t.Deps[a])
		for _, b := range t.Deps[a] {
			t.rev[b] = append(t.rev[b], a)
		}
	}
	if c := t.cycle(); c != nil {
		var via []string
		for i := 0; i+1 < len(c); i++ {
			via = append(via, fmt.Sprintf("%s → %s (%s)", c[i], c[i+1], t.Source[c[i]+"→"+c[i+1]]))
		}
		return nil, &CycleError{Cycle: c, Edges: via}
	}
	return t, nil
}

// CycleError reports a dependency cycle: no order deploys every service after
// what it depends on.
type CycleError struct {
	Cycle []string // first service repeated at the end
	Edges []string
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("dependency cycle %s: no deploy order puts each service after its dependencies; edges: %s",
		strings.Join(e.Cycle, " → "), strings.Join(e.Edges, "; "))
}

// cycle finds a cycle by depth-first search from each service in catalog
// order, or returns nil. It visits each service once.
func (t *Topology) cycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range t.Deps[n] {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				found = append(append([]string{}, stack[i:]...), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, s := range t.Services {
		if color[s] == white && visit(s) {
			return found
		}
	}
	return nil
}

// Dependents returns the services that depend on s, sorted.
func (t *Topology) Dependents(s string) []string {
	out := slices.Clone(t.rev[s])
	slices.Sort(out)
	return out
}

// Order returns the given services so that each comes after the ones it
// depends on (directly or through services not in the set), ties broken by
// name. The topology has no cycle.
func (t *Topology) Order(set []string) []string {
	// depth = longest dependency chain below a service; deploy shallow first.
	depth := map[string]int{}
	var d func(s string) int
	d = func(s string) int {
		if v, ok := depth[s]; ok {
			return v
		}
		depth[s] = 0
		best := 0
		for _, x := range t.Deps[s] {
			best = max(best, d(x)+1)
		}
		depth[s] = best
		return best
	}
	out := slices.Clone(set)
	slices.SortFunc(out, func(a, b string) int {
		if da, db := d(a), d(b); da != db {
			return da - db
		}
		return strings.Compare(a, b)
	})
	return out
}

// edges returns the topology edges among the given services, sorted.
func (t *Topology) edges(set []string) []workspace.Edge {
	in := map[string]bool{}
	for _, s := range set {
		in[s] = true
	}
	var out []workspace.Edge
	for _, a := range set {
		for _, b := range t.Deps[a] {
			if in[b] {
				out = append(out, workspace.Edge{From: a, To: b, Source: t.Source[a+"→"+b]})
			}
		}
	}
	slices.SortFunc(out, func(x, y workspace.Edge) int {
		if c := strings.Compare(x.From, y.From); c != 0 {
			return c
		}
		return strings.Compare(x.To, y.To)
	})
	return out
}
