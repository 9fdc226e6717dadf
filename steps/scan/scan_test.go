package scan

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/sarif"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/scan/golden")

const (
	fixtures = "../../fixtures/scan"
	rulesDir = "../../rules"
)

// asOf is the day the fixtures' exceptions are judged on.
var asOf = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// Fake credentials, assembled here so that no secret-shaped string is
// committed: the secret scanner must find them in the planted tree.
var (
	fakeKeyID  = "AKIA" + "Q3EGRL2VXJ7WN5PA"
	fakeSecret = "Zq8bXk2vR9mT4nW7" + "pY1sL6dF3gH0jK5aC8eB2uV9"
)

// plantedTree copies fixtures/scan/planted into a temporary directory and
// adds config/app.env with the fake AWS key pair.
func plantedTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, filepath.Join(fixtures, "planted"), dir)
	env := "# Planted issue: a fake cloud credential committed in plain text.\n" +
		"AWS_ACCESS_KEY_ID=" + fakeKeyID + "\n" +
		"AWS_SECRET_ACCESS_KEY=" + fakeSecret + "\n"
	writeFile(t, filepath.Join(dir, "config", "app.env"), env)
	return dir
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFileErr(filepath.Join(to, rel), b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFileErr(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := writeFileErr(p, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func loadRules(t testing.TB) *rules.Set {
	t.Helper()
	set, err := rules.Load(rulesDir)
	if err != nil {
		t.Fatalf("rules.Load = %v", err)
	}
	return set
}

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(filepath.Join(fixtures, "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func readFindings(t testing.TB, ws string) workspace.Findings {
	t.Helper()
	var f workspace.Findings
	if err := workspace.ReadJSON(ws, workspace.FindingsFile, &f); err != nil {
		t.Fatalf("read findings.json: %v", err)
	}
	return f
}

// plantedInput is the full planted run: catalog, baseline, exceptions.
func plantedInput(t testing.TB) Input {
	return Input{Path: plantedTree(t), Workspace: t.TempDir(), Rules: loadRules(t), Catalog: loadCatalog(t),
		Baseline: filepath.Join(fixtures, "baseline"), Exceptions: filepath.Join(fixtures, "exceptions.yaml"), Now: asOf}
}

// TestGolden scans the planted and the clean trees and compares
// findings.json and findings.sarif with the golden files (-update rewrites
// them).
func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		in       func(t *testing.T) Input
		blockers int
	}{
		{"planted", func(t *testing.T) Input { return plantedInput(t) }, 19},
		{"clean", func(t *testing.T) Input {
			return Input{Path: filepath.Join(fixtures, "clean"), Workspace: t.TempDir(), Rules: loadRules(t), Catalog: loadCatalog(t), Now: asOf}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in(t)
			out, err := Run(context.Background(), in)
			if err != nil {
				t.Fatalf("Run(%s) = %v", tt.name, err)
			}
			if out.Blockers != tt.blockers {
				t.Errorf("Run(%s) blockers = %d, want %d", tt.name, out.Blockers, tt.blockers)
			}
			for _, name := range []string{workspace.FindingsFile, workspace.SARIFFile} {
				got, err := os.ReadFile(filepath.Join(in.Workspace, name))
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join(fixtures, "golden", tt.name+"."+name)
				if *update {
					if err := writeFileErr(golden, got); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run with -update and review the diff)", name, golden)
				}
			}
			b, _ := os.ReadFile(filepath.Join(in.Workspace, workspace.SARIFFile))
			if err := sarif.Validate(b); err != nil {
				t.Errorf("findings.sarif is not valid SARIF: %v", err)
			}
		})
	}
}

// finding returns the findings of rule at file.
func findingsOf(fs workspace.Findings, rule, file string) []workspace.Finding {
	var out []workspace.Finding
	for _, f := range fs.Findings {
		if f.Rule == rule && (file == "" || f.File == file) {
			out = append(out, f)
		}
	}
	return out
}

// TestPlanted checks each planted issue is found where it was planted, with
// the decision the default rules make in preprod.
func TestPlanted(t *testing.T) {
	in := plantedInput(t)
	out, err := Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out.ExitCode() != exitcode.Negative || out.Params()["blockers"] != "19" {
		t.Errorf("Output = %+v (exit %d), want 19 blockers and exit 1", out, out.ExitCode())
	}
	fs := readFindings(t, in.Workspace)
	tests := []struct {
		rule, file, resource string
		line                 int
		blocker, excepted    bool
	}{
		{"policy.privileged", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, true, false},
		{"policy.debug-enabled", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, true, false},
		{"policy.prod-secret", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, true, false},
		{"policy.mutable-image-tag", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, false, false},
		{"policy.missing-limits", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, false, false},
		{"policy.drift.privileges", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, true, false},
		{"policy.drift.service-account", "deploy/api/deployment.yaml", "Deployment/shop/api", 3, true, false},
		{"policy.public-load-balancer", "deploy/api/service.yaml", "Service/shop/api", 2, true, false},
		{"policy.drift.exposure", "deploy/api/service.yaml", "Service/shop/api", 2, true, false},
		{"policy.public-ingress", "deploy/web/ingress.yaml", "Ingress/shop/web", 2, true, false},
		{"policy.host-namespaces", "deploy/agent/daemonset.yaml", "DaemonSet/ops/agent", 2, true, true},
		{"policy.host-path-sensitive", "deploy/agent/daemonset.yaml", "DaemonSet/ops/agent", 2, true, true},
		{"KSV-0006", "deploy/agent/daemonset.yaml", "DaemonSet/ops/agent", 7, false, true},
		{"policy.plaintext-credentials", "deploy/orders/deployment.yaml", "Deployment/shop/orders", 2, true, false},
		{"policy.prod-secret", "deploy/orders/deployment.yaml", "ExternalSecret/shop/orders-db", 27, true, false},
		{"policy.debug-enabled", "deploy/orders/deployment.yaml", "ConfigMap/shop/orders-config", 40, true, false},
		{"policy.debug-enabled", "charts/billing/templates/deployment.yaml", "Deployment/billing-billing", 2, true, false},
		{"policy.public-load-balancer", "charts/billing/templates/service.yaml", "Service/billing-billing", 2, true, false},
		{"AWS-0092", "terraform/storage/main.tf", "aws_s3_bucket_acl.reports", 8, true, false},
		{"aws-access-key-id", "config/app.env", "", 2, true, false},
		{"aws-secret-access-key", "config/app.env", "", 3, true, false},
		{"DS-0002", "docker/api/Dockerfile", "", 0, false, false},
	}
	for _, tt := range tests {
		var hit *workspace.Finding
		for _, f := range findingsOf(fs, tt.rule, tt.file) {
			if f.Resource == tt.resource {
				hit = &f
				break
			}
		}
		if hit == nil {
			t.Errorf("no %s finding at %s (%s)", tt.rule, tt.file, tt.resource)
			continue
		}
		if hit.Line != tt.line || hit.Blocker != tt.blocker || hit.Excepted != tt.excepted {
			t.Errorf("%s at %s: line %d, blocker %v, excepted %v; want line %d, blocker %v, excepted %v",
				tt.rule, tt.file, hit.Line, hit.Blocker, hit.Excepted, tt.line, tt.blocker, tt.excepted)
		}
		if hit.Message == "" || hit.Fix == "" || hit.Why == "" || hit.WhyHere.Environment != "preprod" || hit.DecidedBy == "" || !strings.HasPrefix(hit.ID, "F-") {
			t.Errorf("%s at %s is not explained: %+v", tt.rule, tt.file, hit)
		}
	}
	// Why here names the service and its tier.
	if f := findingsOf(fs, "policy.privileged", ""); len(f) != 1 || f[0].WhyHere.Service != "api" || f[0].WhyHere.Tier != "critical" ||
		!strings.Contains(f[0].WhyHere.Reason, "api is a critical-tier service going to preprod; a blocker") {
		t.Errorf("privileged finding why-here = %+v", f)
	}
	// The ledger: an expiring entry still applies and is advised; an expired one never applies.
	if f := findingsOf(fs, "scan.exception-expiring", "exceptions.yaml"); len(f) != 1 || f[0].Blocker || !strings.Contains(f[0].Message, "agent-docker-socket expires on 2026-01-20 (in 5 days)") {
		t.Errorf("expiring exception findings = %+v", f)
	}
	if f := findingsOf(fs, "scan.exception-expired", "exceptions.yaml"); len(f) != 1 || f[0].Line != 25 {
		t.Errorf("expired exception findings = %+v, want one at exceptions.yaml:25", f)
	}
	if f := findingsOf(fs, "policy.host-path-sensitive", ""); len(f) != 1 || f[0].Exception == nil || f[0].Exception.ID != "agent-docker-socket" || f[0].Exception.At != "exceptions.yaml:13" {
		t.Errorf("host-path finding exception = %+v", f)
	}
	if !slices.ContainsFunc(fs.Notes, func(n workspace.ScanNote) bool {
		return strings.Contains(n.Message, "legacy-cron-privileged covers no finding")
	}) {
		t.Errorf("notes %+v: want the unused exception named", fs.Notes)
	}
	if fs.Excepted != 3 || fs.AsOf != "2026-01-15" || fs.Environment != "preprod" || fs.RulesDigest != in.Rules.Digest {
		t.Errorf("findings header = excepted %d, asOf %s, env %s, digest %s", fs.Excepted, fs.AsOf, fs.Environment, fs.RulesDigest)
	}
}

// TestSecretsNeverWritten: the secret scanner's matches appear nowhere in
// what the scan writes.
func TestSecretsNeverWritten(t *testing.T) {
	in := plantedInput(t)
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{workspace.FindingsFile, workspace.SARIFFile} {
		b, _ := os.ReadFile(filepath.Join(in.Workspace, name))
		for _, secret := range []string{fakeKeyID, fakeSecret, "planted-not-a-real-credential"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains a planted secret", name)
			}
		}
	}
}

// TestDeterministic: the same inputs give the same bytes.
func TestDeterministic(t *testing.T) {
	in := plantedInput(t)
	var outs [][]byte
	for range 2 {
		in.Workspace = t.TempDir()
		if _, err := Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{workspace.FindingsFile, workspace.SARIFFile} {
			b, _ := os.ReadFile(filepath.Join(in.Workspace, n))
			outs = append(outs, b)
		}
	}
	if !bytes.Equal(outs[0], outs[2]) || !bytes.Equal(outs[1], outs[3]) {
		t.Error("two scans of the same input wrote different bytes")
	}
}

// TestExpiryAcrossDays: the same ledger on a later day no longer applies the
// entry that expired in between.
func TestExpiryAcrossDays(t *testing.T) {
	in := plantedInput(t)
	in.Now = time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC) // agent-docker-socket expired on the 20th
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	fs := readFindings(t, in.Workspace)
	f := findingsOf(fs, "policy.host-path-sensitive", "")
	if len(f) != 1 || f[0].Excepted || !f[0].Blocker {
		t.Errorf("host-path finding on 2026-01-21 = %+v, want an unexcepted blocker", f)
	}
	if len(findingsOf(fs, "scan.exception-expired", "")) != 2 {
		t.Errorf("want two expired-exception findings on 2026-01-21")
	}
}

// TestBaselineWorkspace: a previous workspace as the baseline — its
// manifests/ for drift and its findings.json for what is new.
func TestBaselineWorkspace(t *testing.T) {
	prev := t.TempDir()
	copyTree(t, filepath.Join(fixtures, "baseline"), filepath.Join(prev, workspace.ManifestsDir))
	base := Input{Path: filepath.Join(prev, workspace.ManifestsDir), Workspace: prev, Rules: loadRules(t), Catalog: loadCatalog(t), Now: asOf}
	if _, err := Run(context.Background(), base); err != nil {
		t.Fatal(err)
	}
	in := plantedInput(t)
	in.Baseline = prev
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	fs := readFindings(t, in.Workspace)
	newOf := func(rule, file string) []bool {
		var out []bool
		for _, f := range findingsOf(fs, rule, file) {
			out = append(out, f.New)
		}
		return out
	}
	if got := newOf("KSV-0009", "deploy/agent/daemonset.yaml"); !slices.Equal(got, []bool{false}) {
		t.Errorf("agent hostNetwork (in the baseline) new = %v, want [false]", got)
	}
	if got := newOf("KSV-0017", "deploy/api/deployment.yaml"); !slices.Equal(got, []bool{true}) {
		t.Errorf("api privileged (not in the baseline) new = %v, want [true]", got)
	}
	if len(findingsOf(fs, "policy.drift.service-account", "")) != 1 {
		t.Errorf("want the service-account drift from the workspace's manifests/")
	}
	// A new HIGH Trivy finding on the critical api blocks; one the baseline
	// had does not, and neither does the new one without a baseline.
	blocks := func(fs workspace.Findings, rule string) bool {
		for _, f := range findingsOf(fs, rule, "deploy/api/deployment.yaml") {
			return f.Blocker
		}
		t.Fatalf("no %s on the api", rule)
		return false
	}
	if !blocks(fs, "KSV-0017") || blocks(fs, "KSV-0014") {
		t.Errorf("HIGH findings on a critical service in preprod: want the new one (KSV-0017) a blocker, the known one (KSV-0014) not")
	}
	in.Baseline = ""
	in.Workspace = t.TempDir()
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if blocks(readFindings(t, in.Workspace), "KSV-0017") {
		t.Errorf("HIGH finding on a critical service in preprod without a baseline: want an advisory")
	}
}

// TestEnvironment: the environment's values render the chart, and decide.
func TestEnvironment(t *testing.T) {
	in := plantedInput(t)
	in.Environment = "dev"
	in.Baseline, in.Exceptions = "", ""
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	fs := readFindings(t, in.Workspace)
	if f := findingsOf(fs, "policy.public-load-balancer", "charts/billing/templates/service.yaml"); len(f) != 0 {
		t.Errorf("without values-dev.yaml the chart renders ClusterIP; got %+v", f)
	}
	if f := findingsOf(fs, "policy.debug-enabled", "deploy/api/deployment.yaml"); len(f) != 1 || f[0].Blocker {
		t.Errorf("debug flag in dev = %+v, want an advisory", f)
	}
	if f := findingsOf(fs, "policy.privileged", ""); len(f) != 1 || !f[0].Blocker || f[0].DecidedBy != "policy.decide.critical" {
		t.Errorf("privileged in dev = %+v, want a blocker decided by policy.decide.critical", f)
	}
}
