package classify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/coordinate"
)

// The benchmark change: 10,000 changed files across 50 services — 9,700
// edited, 100 added, 100 deleted, 100 renamed with an edit — in code, config,
// docs, manifests and SQL migrations, classified with 200 rules.
const (
	benchFiles    = 10000
	benchServices = 50
	benchRules    = 200
)

// benchEnv is generated once per `go test` process into a temporary directory
// that TestMain removes.
type benchEnv struct {
	root, repo, rules, catalog string
}

var (
	benchOnce sync.Once
	bench     benchEnv
	benchErr  error
	benchRoot string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

func benchSetup(b *testing.B) benchEnv {
	b.Helper()
	benchOnce.Do(func() {
		benchRoot, benchErr = os.MkdirTemp("", "classify-bench-")
		if benchErr == nil {
			bench, benchErr = makeBench(benchRoot)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func benchPath(i int) string {
	svc := fmt.Sprintf("svc%02d", i%benchServices)
	switch n := i / benchServices; i % 10 {
	case 0:
		return fmt.Sprintf("services/%s/config/c%04d.yaml", svc, n)
	case 1:
		return fmt.Sprintf("services/%s/docs/d%04d.md", svc, n)
	case 2:
		return fmt.Sprintf("deploy/%s/m%04d.yaml", svc, n)
	case 3:
		if n%4 == 0 {
			return fmt.Sprintf("services/%s/migrations/%04d_m.sql", svc, n)
		}
		fallthrough
	default:
		return fmt.Sprintf("services/%s/pkg/p%02d/f%04d.go", svc, n%20, n)
	}
}

func benchContent(p string, i, version int) string {
	var b strings.Builder
	if strings.HasSuffix(p, ".sql") {
		fmt.Fprintf(&b, "CREATE TABLE t%d (id BIGINT NOT NULL, name VARCHAR(255), PRIMARY KEY (id));\n", i)
		if version == 1 {
			fmt.Fprintf(&b, "ALTER TABLE t%d MODIFY name VARCHAR(%d);\n", i, 64+i%300)
		}
		return b.String()
	}
	for l := range 40 {
		if version == 1 && (l == 7 || l == 23) {
			fmt.Fprintf(&b, "// changed line %d of file %d\n", l, i)
			continue
		}
		fmt.Fprintf(&b, "line %d of file %d: some text that makes the line realistic\n", l, i)
	}
	if version == 1 {
		b.WriteString("one more line\n")
	}
	return b.String()
}

func makeBench(root string) (benchEnv, error) {
	env := benchEnv{root: root, repo: filepath.Join(root, "repo"), rules: filepath.Join(root, "rules"), catalog: filepath.Join(root, "services.yaml")}
	w, err := sample.Init(env.repo)
	if err != nil {
		return env, err
	}
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range benchFiles - 100 { // the 100 added files come later
		p := benchPath(i)
		if err := w.Set(p, []byte(benchContent(p, i, 0))); err != nil {
			return env, err
		}
	}
	base, err := w.Commit(sample.Signature{Name: "Bench", Email: "bench@example.com", When: when}, "base\n")
	if err != nil {
		return env, err
	}
	for i := range benchFiles - 100 {
		p := benchPath(i)
		switch {
		case i < 100:
			w.Delete(p)
		case i < 200:
			w.Delete(p)
			p = strings.Replace(p, "/f", "/renamed-f", 1)
			p = strings.Replace(p, "/c", "/renamed-c", 1)
			fallthrough
		default:
			if err := w.Set(p, []byte(benchContent(p, i, 1))); err != nil {
				return env, err
			}
		}
	}
	for i := benchFiles - 100; i < benchFiles; i++ {
		p := benchPath(i)
		if err := w.Set(p, []byte(benchContent(p, i, 1))); err != nil {
			return env, err
		}
	}
	head, err := w.Commit(sample.Signature{Name: "Bench", Email: "bench@example.com", When: when.Add(time.Hour)}, "head\n")
	if err != nil {
		return env, err
	}
	if err := w.Tag("base", base); err != nil {
		return env, err
	}
	if err := w.Tag("head", head); err != nil {
		return env, err
	}
	// Catalog: one group and one service per svcNN.
	var cat strings.Builder
	cat.WriteString("groups:\n")
	for s := range benchServices {
		fmt.Fprintf(&cat, "  team-%02d: [user%02d]\n", s, s)
	}
	cat.WriteString("services:\n")
	tiers := []string{"critical", "high", "standard", "low"}
	for s := range benchServices {
		fmt.Fprintf(&cat, "  - name: svc%02d\n    owners: [team-%02d]\n    tier: %s\n    paths: [\"services/svc%02d/**\"]\n    manifests: [\"deploy/svc%02d/**\"]\n    database: db%02d\n", s, s, tiers[s%4], s, s, s)
	}
	if err := os.WriteFile(env.catalog, []byte(cat.String()), 0o644); err != nil {
		return env, err
	}
	// Rules: the shipped files plus synthetic change rules up to benchRules.
	if err := os.MkdirAll(env.rules, 0o755); err != nil {
		return env, err
	}
	shipped, err := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	if err != nil {
		return env, err
	}
	for _, f := range shipped {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return env, err
		}
		if err := os.WriteFile(filepath.Join(env.rules, filepath.Base(f)), b, 0o644); err != nil {
			return env, err
		}
	}
	set, err := rules.Load(env.rules)
	if err != nil {
		return env, err
	}
	have := 0
	for _, f := range set.Files {
		have += len(f.Rules)
	}
	var syn strings.Builder
	syn.WriteString("apiVersion: rehearsal.dev/v1\nkind: classify\nrules:\n")
	for i := range benchRules - have {
		s := fmt.Sprintf("svc%02d", i%benchServices)
		var when string
		switch i % 5 {
		case 0:
			when = fmt.Sprintf("change.services.exists(s, s.name == '%s' && s.tier == 'critical')", s)
		case 1:
			when = fmt.Sprintf("change.files.exists(f, f.path.startsWith('services/%s/config/') && f.added > %d)", s, i)
		case 2:
			when = fmt.Sprintf("change.classes.exists(c, c == 'infra') && change.services.size() > %d", i%60)
		case 3:
			when = fmt.Sprintf("change.files.filter(f, f.kind == 'migration' && f.destructive).size() > %d", i)
		default:
			when = fmt.Sprintf("change.author == 'user%02d' || change.facts.exists(k, k == 'fact-%d')", i%benchServices, i)
		}
		fmt.Fprintf(&syn, "  - id: synthetic.r%03d\n    description: synthetic rule %d\n    when: %q\n    effect:\n      setFacts:\n        fact-%d: \"true\"\n", i, i, when, i)
	}
	if err := os.WriteFile(filepath.Join(env.rules, "synthetic.yaml"), []byte(syn.String()), 0o644); err != nil {
		return env, err
	}
	return env, nil
}

// BenchmarkClassify10k is the classify step as its binary runs it: load the
// catalog and the 200 rules, read the 10,000-file change from git, decide, and
// write change.json and catalog.json. Compare with BenchmarkGitNumstat10k.
func BenchmarkClassify10k(b *testing.B) {
	env := benchSetup(b)
	ws := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		out, err := Run(context.Background(), Input{Repo: env.repo, Base: "base", Head: "head", CatalogPath: env.catalog, RulesDir: env.rules, Workspace: ws})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Change.Files) != benchFiles {
			b.Fatalf("Run found %d files, want %d", len(out.Change.Files), benchFiles)
		}
	}
}

// BenchmarkGitNumstat10k is the baseline: `git diff --numstat -M` of the same
// two revisions (skipped without a git binary).
func BenchmarkGitNumstat10k(b *testing.B) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		b.Skip("no git binary")
	}
	env := benchSetup(b)
	b.ResetTimer()
	for b.Loop() {
		out, err := exec.Command(gitBin, "-C", env.repo, "diff", "--numstat", "-M", "base", "head").Output()
		if err != nil {
			b.Fatal(err)
		}
		if n := strings.Count(string(out), "\n"); n != benchFiles {
			b.Fatalf("git diff --numstat listed %d files, want %d", n, benchFiles)
		}
	}
}

// BenchmarkClassifyCoordinate10k is the measure: classify and then
// coordinate (plan, render and validate the Workflow, write graph.json and
// workflow.yaml) on the same 10,000-file change and 200 rules. Compare with
// BenchmarkGitNumstat10k; the goal is at most 2×.
func BenchmarkClassifyCoordinate10k(b *testing.B) {
	env := benchSetup(b)
	ws := b.TempDir()
	set, err := rules.Load(env.rules)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		// The rule set is loaded inside the loop, as each binary loads it.
		set, err = rules.Load(env.rules)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Run(context.Background(), Input{Repo: env.repo, Base: "base", Head: "head", CatalogPath: env.catalog, Rules: set, Workspace: ws}); err != nil {
			b.Fatal(err)
		}
		cat, err := catalog.Load(filepath.Join(ws, workspace.CatalogFile))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := coordinate.Run(context.Background(), coordinate.Input{Workspace: ws, Rules: set, Catalog: cat}); err != nil {
			b.Fatal(err)
		}
	}
}
