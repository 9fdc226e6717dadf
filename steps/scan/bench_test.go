package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// benchTree is the fixtures tree the benchmark and the parity test scan:
// the planted and the clean trees side by side, with the fake credential.
func benchTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, plantedTree(t), filepath.Join(dir, "planted"))
	copyTree(t, filepath.Join(fixtures, "clean"), filepath.Join(dir, "clean"))
	return dir
}

// BenchmarkScan scans the fixtures tree in-process, as the local runner
// does (the Trivy checks are compiled once per process, before the timer).
func BenchmarkScan(b *testing.B) {
	root := benchTree(b)
	set := loadRules(b)
	in := Input{Path: root, Rules: set, Catalog: loadCatalog(b), Now: asOf}
	if _, err := Run(context.Background(), Input{Path: root, Workspace: b.TempDir(), Rules: set, Now: asOf}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		in.Workspace = b.TempDir()
		if _, err := Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// cliReport is the part of Trivy's JSON report the parity test compares.
type cliReport struct {
	Results []struct {
		Target            string
		Class             string
		Misconfigurations []struct {
			ID            string
			CauseMetadata struct{ StartLine, EndLine int }
		}
		Secrets []struct {
			RuleID             string
			StartLine, EndLine int
		}
	}
}

// TestTrivyCLIParity runs the trivy CLI of the same version (built from the
// module; hack/bench/scan.sh builds it and sets REHEARSAL_TRIVY_CLI) with
// `trivy config` and `trivy fs --scanners secret` on the fixtures tree, and
// checks that the scan reports exactly the same Trivy findings — check or
// secret rule, file, line range. Charts render with their default values on
// both sides (the environment has no values file). (The scan corrects
// Trivy's lines after the first document of a multi-document manifest —
// internal/trivyscan TestMultiDocumentLines; the fixtures have no finding
// there, so both sides agree line for line.)
func TestTrivyCLIParity(t *testing.T) {
	cli := os.Getenv("REHEARSAL_TRIVY_CLI")
	if cli == "" {
		t.Skip("REHEARSAL_TRIVY_CLI is not set (hack/bench/scan.sh sets it)")
	}
	root := benchTree(t)
	cache := t.TempDir()
	var want []string
	for _, args := range [][]string{
		{"config", "--skip-check-update"},
		{"fs", "--scanners", "secret", "--skip-db-update", "--offline-scan"},
	} {
		args = append(args, "--cache-dir", cache, "--disable-telemetry", "--quiet", "--format", "json", root)
		out, err := exec.Command(cli, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", cli, args, err)
		}
		var rep cliReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			for _, m := range r.Misconfigurations {
				want = append(want, fmt.Sprintf("%s %s:%d-%d", m.ID, r.Target, m.CauseMetadata.StartLine, max(m.CauseMetadata.EndLine, m.CauseMetadata.StartLine)))
			}
			for _, s := range r.Secrets {
				want = append(want, fmt.Sprintf("%s %s:%d-%d", s.RuleID, r.Target, s.StartLine, s.EndLine))
			}
		}
	}
	in := Input{Path: root, Workspace: t.TempDir(), Rules: loadRules(t), Environment: "parity", Now: asOf}
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range readFindings(t, in.Workspace).Findings {
		if f.Source == workspace.SourceMisconfig || f.Source == workspace.SourceSecret {
			got = append(got, fmt.Sprintf("%s %s:%d-%d", f.Rule, f.File, f.Line, f.EndLine))
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 {
		t.Fatal("the trivy CLI found nothing: it did not scan the tree")
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("trivy CLI found %s; the scan did not", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("the scan found %s; the trivy CLI did not", g)
		}
	}
	if !slices.Equal(want, got) {
		t.Errorf("the scan found %d Trivy findings, the trivy CLI %d", len(got), len(want))
	}
	t.Logf("%d Trivy findings, the same on both sides", len(got))
}
