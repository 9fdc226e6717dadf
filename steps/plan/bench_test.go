package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// benchCatalog writes a catalog of n services with exactly edges dependsOn
// edges (each service depends on up to three, occasionally four, earlier ones,
// so the graph is acyclic), one Deployment + Service manifest per service
// whose env holds the address of its first dependency, and a change that
// touches every service: code everywhere, a migration on every tenth service
// (destructive on every fortieth) and a flagged path on every seventh.
func benchCatalog(b *testing.B, n, edges int) (*catalog.Catalog, string, string) {
	b.Helper()
	dir := b.TempDir()
	repo := filepath.Join(dir, "repo")
	var src strings.Builder
	src.WriteString("groups:\n")
	for i := range n {
		fmt.Fprintf(&src, "  team-%04d: [owner%04d]\n", i, i)
	}
	src.WriteString("services:\n")
	deps := make([][]int, n)
	total := 0
	has := func(i, d int) bool {
		for _, x := range deps[i] {
			if x == d {
				return true
			}
		}
		return false
	}
	for i := 1; i < n; i++ {
		for j := 1; len(deps[i]) < min(i, 3) && j < 4*i+4; j++ {
			if d := (i*7 + j*13) % i; !has(i, d) {
				deps[i] = append(deps[i], d)
				total++
			}
		}
	}
	for i := 10; total < edges && i < n; i++ {
		for d := i - 1; d >= 0; d-- {
			if !has(i, d) {
				deps[i] = append(deps[i], d)
				total++
				break
			}
		}
	}
	tiers := []string{"critical", "high", "standard", "low"}
	for i := range n {
		fmt.Fprintf(&src, "  - name: s%04d\n    owners: [team-%04d]\n    tier: %s\n    paths: [\"services/s%04d/**\"]\n    manifests: [\"deploy/s%04d/**\"]\n    database: s%04d\n",
			i, i, tiers[i%4], i, i, i)
		if i%5 == 0 {
			src.WriteString("    traffic: high\n")
		}
		if i%7 == 0 {
			fmt.Fprintf(&src, "    flags: [{name: f%04d, paths: [\"services/s%04d/flagged/**\"]}]\n", i, i)
		}
		var ds []string
		for _, d := range deps[i] {
			ds = append(ds, fmt.Sprintf("s%04d", d))
		}
		if len(ds) > 0 {
			fmt.Fprintf(&src, "    dependsOn: [%s]\n", strings.Join(ds, ", "))
		}
		var env string
		if len(ds) > 0 {
			env = fmt.Sprintf("          env:\n            - {name: DEP_URL, value: \"http://%s:8080\"}\n", ds[0])
		}
		kind := "Deployment"
		if i%50 == 0 {
			kind = "StatefulSet"
		}
		man := fmt.Sprintf("apiVersion: apps/v1\nkind: %s\nmetadata: {name: s%04d}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: s%04d}}\n  template:\n    metadata: {labels: {app: s%04d}}\n    spec:\n      containers:\n        - name: app\n          image: example/s%04d:1\n          readinessProbe: {httpGet: {path: /healthz, port: 8080}}\n%s---\napiVersion: v1\nkind: Service\nmetadata: {name: s%04d}\nspec:\n  selector: {app: s%04d}\n  ports: [{port: 8080}]\n",
			kind, i, i, i, i, env, i, i)
		p := filepath.Join(repo, "deploy", fmt.Sprintf("s%04d", i), "manifest.yaml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(man), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cat, err := catalog.Parse("services.yaml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	c := &workspace.Change{Author: "someone", Classes: []string{"app", "db-migration", "mixed"}, Risk: "high", Facts: map[string]string{}}
	var names []string
	for i := range n {
		name := fmt.Sprintf("s%04d", i)
		names = append(names, name)
		path := fmt.Sprintf("services/%s/main.go", name)
		if i%7 == 0 {
			path = fmt.Sprintf("services/%s/flagged/main.go", name)
		}
		c.Files = append(c.Files, workspace.File{Path: path, Status: "M", Kind: "code", Services: []string{name}})
		if i%10 == 0 {
			f := workspace.File{Path: fmt.Sprintf("services/%s/migrations/0002.sql", name), Status: "A", Kind: "migration", Services: []string{name},
				SQL: []workspace.Statement{{Line: 1, Op: "ALTER TABLE", Table: "t", Text: "ALTER TABLE t ADD COLUMN c INT"}}}
			if i%40 == 0 {
				f.Destructive = true
				f.SQL = append(f.SQL, workspace.Statement{Line: 2, Op: "ALTER TABLE", Table: "t", Destructive: true, Text: "ALTER TABLE t DROP COLUMN old"})
			}
			c.Files = append(c.Files, f)
		}
	}
	counts := map[string]int{}
	for _, s := range names {
		counts[s] = 1
	}
	c.Services = cat.Affected(names, counts)
	ws := filepath.Join(dir, "ws")
	if err := workspace.WriteJSON(ws, workspace.ChangeFile, c); err != nil {
		b.Fatal(err)
	}
	return cat, repo, ws
}

// BenchmarkPlan1000Services plans a 1,000-service catalog with 3,000 edges as
// the plan binary does: read change.json and 1,000 manifest files, build the
// topology, evaluate the plan rules for every service, order the steps, and
// render and write plan.json, runbook.md and the Rollouts manifests.
// Goal: ≤ 200 ms.
func BenchmarkPlan1000Services(b *testing.B) {
	const n, edges = 1000, 3000
	cat, repo, ws := benchCatalog(b, n, edges)
	set, err := rules.Load("../../rules")
	if err != nil {
		b.Fatal(err)
	}
	got := 0
	for _, s := range cat.Services {
		got += len(s.DependsOn)
	}
	if got != edges {
		b.Fatalf("catalog has %d edges, want %d", got, edges)
	}
	cpu := cpuClock(b)
	for b.Loop() {
		out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Catalog: cat, Manifests: repo})
		if err != nil {
			b.Fatal(err)
		}
		if out.Services != n {
			b.Fatalf("Run planned %d services, want %d", out.Services, n)
		}
	}
	cpu.report()
}

// cpuClock measures the process's CPU time (user + system) over a benchmark
// loop and reports it per operation as cpu-ms/op: on a shared machine the
// wall time also counts the time other processes held the CPUs.
type cpuTimer struct {
	b     *testing.B
	start time.Duration
}

func cpuClock(b *testing.B) cpuTimer {
	b.ResetTimer()
	return cpuTimer{b: b, start: cpuTime()}
}

func (c cpuTimer) report() {
	c.b.StopTimer()
	if n := c.b.N; n > 0 {
		c.b.ReportMetric(float64(cpuTime()-c.start)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlan1000ServicesInMemory is the same plan with the disk left out:
// the manifests are parsed from an in-memory copy and the artifacts rendered
// but not written. On a machine whose file creation is slow, the difference
// between the two benchmarks is the cost of creating ~1,000 rollout files.
func BenchmarkPlan1000ServicesInMemory(b *testing.B) {
	cat, repo, ws := benchCatalog(b, 1000, 3000)
	set, err := rules.Load("../../rules")
	if err != nil {
		b.Fatal(err)
	}
	var c workspace.Change
	if err := workspace.ReadJSON(ws, workspace.ChangeFile, &c); err != nil {
		b.Fatal(err)
	}
	mem := fstest.MapFS{}
	for rel, data := range tree(b, repo) {
		mem[rel] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	cpu := cpuClock(b)
	for b.Loop() {
		m, err := LoadManifests(mem, cat)
		if err != nil {
			b.Fatal(err)
		}
		d, err := Build(&c, cat, m, set)
		if err != nil {
			b.Fatal(err)
		}
		files, err := d.Files(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(files) < 900 {
			b.Fatalf("Files() = %d files, want a rollout for most of the 1,000 services", len(files))
		}
	}
	cpu.report()
}
