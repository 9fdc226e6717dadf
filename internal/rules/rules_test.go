package rules

import (
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want []string // every one must appear, in this order, one per problem
	}{
		{"malformed yaml", "bad-yaml", []string{
			"testdata/bad-yaml/classify.yaml:3:1: did not find expected '-' indicator",
		}},
		{"cel syntax error", "bad-cel-syntax", []string{
			// the column is the `&&` inside the YAML line, not inside the expression
			`testdata/bad-cel-syntax/classify.yaml:6:38: rule "broken": Syntax error`,
		}},
		{"cel type errors", "bad-cel-type", []string{
			`testdata/bad-cel-type/classify.yaml:6:31: rule "typed": found no matching overload for '_>_' applied to '(int, string)'`,
			`testdata/bad-cel-type/classify.yaml:12:15: rule "block": undefined field 'nosuchfield'`,
		}},
		{"unknown variable", "bad-var", []string{
			`testdata/bad-var/route.yaml:6:11: rule "route.x": undeclared reference to 'file'`,
		}},
		{"duplicate id", "dup-id", []string{
			`testdata/dup-id/gates.yaml:4:5: duplicate rule id "same" (first defined at testdata/dup-id/classify.yaml:4:5)`,
		}},
		{"bad effect", "bad-effect", []string{
			`testdata/bad-effect/classify.yaml:8:18: raiseRisk "extreme" is not one of`,
			`testdata/bad-effect/classify.yaml:9:7: effect key "addClas" is not valid for classify rules`,
		}},
		{"bad plan effects", "bad-plan-effect", []string{
			`testdata/bad-plan-effect/plan.yaml:8:17: strategy "recreate" is not one of`,
			`testdata/bad-plan-effect/plan.yaml:9:18: migration "sideways" is not one of`,
			`testdata/bad-plan-effect/plan.yaml:10:19: thresholds.errorRate 2 must be a ratio`,
			`testdata/bad-plan-effect/plan.yaml:10:19: thresholds.latencyP95 "soon" is not a positive duration`,
			`testdata/bad-plan-effect/plan.yaml:11:14: flags.during "dark" is not one of`,
			`testdata/bad-plan-effect/plan.yaml:14:18: rule "plan.steps": undefined field 'nosuch'`,
			`testdata/bad-plan-effect/plan.yaml:19:11: canary step 2: weight 20 must rise above 50`,
			`testdata/bad-plan-effect/plan.yaml:19:11: canary step 2: pause "never" is not a positive duration`,
		}},
		{"bad gate policies", "bad-gate-policy", []string{
			`testdata/bad-gate-policy/gates.yaml:8:43: gate "a": policy "three-person" is not one of`,
			`testdata/bad-gate-policy/gates.yaml:13:70: gate "b": policy two-person needs 2 approver(s), not 1 (leave approvers out)`,
			`testdata/bad-gate-policy/gates.yaml:18:61: gate "c": policy ack has notAuthor false (leave notAuthor out)`,
			`testdata/bad-gate-policy/gates.yaml:23:29: gate tier "low" is not one of medium, high, critical`,
			`testdata/bad-gate-policy/gates.yaml:33:13: gate "e": remediation 1 needs an id`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("testdata/" + tt.dir)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want problems", tt.dir)
			}
			problems := diag.Problems(err)
			if len(problems) < len(tt.want) {
				t.Fatalf("Load(%q) gave %d problems, want at least %d:\n%v", tt.dir, len(problems), len(tt.want), err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Load(%q) =\n%v\nwant a line containing\n%s", tt.dir, msg, w)
				}
			}
		})
	}
}

func TestLoadReportsAllProblemsAtOnce(t *testing.T) {
	_, err := Load("testdata/bad-cel-type")
	if got := len(diag.Problems(err)); got != 2 {
		t.Fatalf("Load(bad-cel-type) gave %d problems, want 2 (one per rule):\n%v", got, err)
	}
	_, err = Load("testdata/bad-effect")
	if got := len(diag.Problems(err)); got < 2 {
		t.Fatalf("Load(bad-effect) gave %d problems, want the bad key and the bad tier:\n%v", got, err)
	}
}

func TestFailingCaseIsReported(t *testing.T) {
	set, err := Load("testdata/failing-case")
	if err != nil {
		t.Fatal(err)
	}
	res := set.Test()
	if len(res) != 1 || res[0].Passed() {
		t.Fatalf("Test() = %+v, want one failing case", res)
	}
	if want := "classes [docs], want [app]"; !strings.Contains(strings.Join(res[0].Failures, "\n"), want) {
		t.Errorf("failures = %q, want %q", res[0].Failures, want)
	}
	if res[0].Line != 4 {
		t.Errorf("case line = %d, want 4", res[0].Line)
	}
}

func TestDigestIgnoresFormattingButNotMeaning(t *testing.T) {
	a, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest || !strings.HasPrefix(a.Digest, "sha256:") {
		t.Fatalf("digests %s and %s of the same set differ", a.Digest, b.Digest)
	}
	dir := t.TempDir()
	copyDir(t, "testdata/ok", dir)
	replaceIn(t, dir+"/classify.yaml", "description: docs only", "# a comment\n    description: docs only")
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest != a.Digest {
		t.Errorf("a comment changed the digest: %s vs %s", c.Digest, a.Digest)
	}
	replaceIn(t, dir+"/classify.yaml", "size() > 0", "size() > 1")
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest == a.Digest {
		t.Errorf("changing an expression kept the digest %s", d.Digest)
	}
}

func TestApplyClassifySequential(t *testing.T) {
	set, err := Load("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	c := &workspace.Change{Files: []workspace.File{
		{Path: "deploy/x.yaml", Status: "M"},
		{Path: "svc/main.go", Status: "M"},
	}}
	if err := set.ApplyClassify(c); err != nil {
		t.Fatal(err)
	}
	// class.mixed sees the classes added by the rules above it.
	if got, want := strings.Join(c.Classes, ","), "app,infra,mixed"; got != want {
		t.Errorf("classes = %s, want %s", got, want)
	}
	if c.Risk != "high" {
		t.Errorf("risk = %s, want high", c.Risk)
	}
	if c.Rules[0].ID != "kind.infra" || !strings.HasSuffix(c.Rules[0].Message, "(1 file)") {
		t.Errorf("first fired = %+v, want kind.infra with a file count", c.Rules[0])
	}
}

// TestPlanCases: plan cases give a service; strategy and migration are
// compared, and a rule whose decisions are all taken is not evaluated.
func TestPlanCases(t *testing.T) {
	set, err := Load("testdata/plan-cases")
	if err != nil {
		t.Fatal(err)
	}
	res := set.Test()
	if len(res) != 2 {
		t.Fatalf("Test() = %+v, want two cases", res)
	}
	got := strings.Join(res[0].Failures, "\n")
	for _, want := range []string{`strategy "canary", want "rolling"`, `migration "", want "before"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Test(%s) failures = %q, want %q", res[0].Case, res[0].Failures, want)
		}
	}
	if !res[1].Passed() {
		t.Errorf("Test(%s) failures = %q, want it to pass", res[1].Case, res[1].Failures)
	}
	d, fired, err := set.ApplyPlan(&workspace.Change{}, &workspace.PlanService{Name: "x", Tier: "critical", Flags: []string{"f"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Strategy != "canary" || d.By[DecideStrategy].ID != "plan.critical" || d.Thresholds.ErrorRate != 0.001 || len(fired) != 1 {
		t.Errorf("ApplyPlan(critical) = %+v, fired %v; want canary and its thresholds by plan.critical only", d, fired)
	}
}

func TestServiceOnlyInPlanCases(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/failing-case", dir)
	replaceIn(t, dir+"/classify_test.yaml", "    change:\n", "    service: {name: api}\n    change:\n")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `classify_test.yaml:5:14: case "expects the wrong class": service is only for plan rule files`) {
		t.Errorf("Load(classify case with service) = %v, want the located refusal", err)
	}
}

func TestUnknownCaseInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/failing-case", dir)
	replaceIn(t, dir+"/classify_test.yaml", "    change:\n", "    column: {name: email}\n    change:\n")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `classify_test.yaml:5:5: case "expects the wrong class": "column" is not an input of classify rule files (inputs: change, file)`) {
		t.Errorf("Load(classify case with column) = %v, want the located refusal", err)
	}
}
