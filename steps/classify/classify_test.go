package classify

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rehearsal-dev/rehearsal/fixtures"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/sample/golden")

const (
	sampleDir = "../../fixtures/sample"
	rulesDir  = "../../rules"
)

func loadShipped(t testing.TB) (*catalog.Catalog, *rules.Set) {
	t.Helper()
	cat, err := catalog.Load(filepath.Join(sampleDir, "services.yaml"))
	if err != nil {
		t.Fatalf("catalog.Load(sample) = %v", err)
	}
	set, err := rules.Load(rulesDir)
	if err != nil {
		t.Fatalf("rules.Load(rules) = %v", err)
	}
	return cat, set
}

// sampleRepo generates the sample repository as ./sample inside a fresh
// working directory, so that change.json names it "sample" on every machine.
func sampleRepo(t *testing.T) []sample.Step {
	t.Helper()
	t.Chdir(t.TempDir())
	steps, err := sample.Build(context.Background(), fixtures.Sample(), "sample")
	if err != nil {
		t.Fatalf("sample.Build = %v", err)
	}
	return steps
}

// TestGolden classifies every commit of the sample against its parent with
// the shipped rules and compares change.json byte for byte.
func TestGolden(t *testing.T) {
	goldenDir, err := filepath.Abs(filepath.Join(sampleDir, "golden"))
	if err != nil {
		t.Fatal(err)
	}
	cat, set := loadShipped(t)
	steps := sampleRepo(t)
	want := map[string]struct {
		classes []string
		risk    string
	}{
		"01-docs":      {[]string{"docs"}, "low"},
		"02-config":    {[]string{"config"}, "medium"},
		"03-app":       {[]string{"app"}, "medium"},
		"04-migration": {[]string{"db-migration"}, "critical"},
		"05-infra":     {[]string{"infra"}, "high"},
	}
	for i := 1; i < len(steps); i++ {
		step := steps[i]
		t.Run(step.Name, func(t *testing.T) {
			ws := t.TempDir()
			out, err := Run(context.Background(), Input{Repo: "sample", Base: steps[i-1].Tag, Head: step.Tag, Catalog: cat, Rules: set, Workspace: ws})
			if err != nil {
				t.Fatalf("Run(%s..%s) = %v", steps[i-1].Tag, step.Tag, err)
			}
			if w, ok := want[step.Name]; !ok || !reflect.DeepEqual(out.Change.Classes, w.classes) || out.Change.Risk != w.risk {
				t.Errorf("Run(%s) classes %v risk %s, want %v %s", step.Name, out.Change.Classes, out.Change.Risk, w.classes, w.risk)
			}
			got, err := os.ReadFile(filepath.Join(ws, workspace.ChangeFile))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(goldenDir, step.Name+".change.json")
			if *update {
				if err := workspace.WriteFile(golden, got); err != nil {
					t.Fatal(err)
				}
			}
			wantBytes, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, wantBytes) {
				t.Errorf("Run(%s) change.json differs from %s (run with -update to accept):\n%s", step.Name, golden, got)
			}
		})
	}
}
