package coordinate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// BenchmarkCoordinate1000Services runs the coordinator as its binary does
// (read change.json, plan, render, validate with Argo's validator, write) with
// a 1,000-service catalog and a high-risk change touching every service, so the
// promotion gate gathers the owner groups of all of them (and the route rules
// add the plan node it follows). Goal: ≤ 100 ms.
func BenchmarkCoordinate1000Services(b *testing.B) {
	const n = 1000
	var src strings.Builder
	src.WriteString("groups:\n")
	for i := range n {
		fmt.Fprintf(&src, "  team-%04d: [owner%04d-a, owner%04d-b]\n", i, i, i)
	}
	src.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&src, "  - name: svc-%04d\n    owners: [team-%04d]\n    tier: %s\n    paths: [\"services/svc-%04d/**\"]\n", i, i, []string{"critical", "high", "standard", "low"}[i%4], i)
		if i > 0 {
			fmt.Fprintf(&src, "    dependsOn: [svc-%04d]\n", i-1)
		}
	}
	cat, err := catalog.Parse("services.yaml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load("../../rules")
	if err != nil {
		b.Fatal(err)
	}
	ws := b.TempDir()
	c := &workspace.Change{Author: "someone", Classes: []string{"app"}, Risk: "high", Facts: map[string]string{}}
	var names []string
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		names = append(names, name)
		c.Files = append(c.Files, workspace.File{Path: fmt.Sprintf("services/%s/main.go", name), Status: "M", Kind: "code", Services: []string{name}})
	}
	counts := map[string]int{}
	for _, s := range names {
		counts[s] = 1
	}
	c.Services = cat.Affected(names, counts)
	if err := workspace.WriteJSON(ws, workspace.ChangeFile, c); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: cat})
		if err != nil {
			b.Fatal(err)
		}
		if out.Nodes != 2 {
			b.Fatalf("Run planned %d nodes, want the plan node and the promotion gate", out.Nodes)
		}
	}
	b.StopTimer()
	var g workspace.Graph
	if err := workspace.ReadJSON(ws, workspace.GraphFile, &g); err != nil {
		b.Fatal(err)
	}
	gate := g.Nodes[len(g.Nodes)-1].Gate
	if gate == nil || len(gate.Groups) != n {
		b.Fatalf("last node's gate = %+v, want the promotion gate with %d groups", gate, n)
	}
}
