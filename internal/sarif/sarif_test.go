package sarif

import (
	"encoding/json"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func sample() *workspace.Findings {
	return &workspace.Findings{
		RulesDigest: "sha256:00", Environment: "preprod", Blockers: 1, Advisories: 1, Excepted: 1,
		Findings: []workspace.Finding{
			{ID: "F-000000000001", Rule: "policy.privileged", Source: workspace.SourcePolicy, Severity: "CRITICAL", Blocker: true,
				Title: "A container runs privileged.", File: "deploy/api/deployment.yaml", Line: 3, EndLine: 29,
				Resource: "Deployment/shop/api", Object: &workspace.Resource{Kind: "Deployment", Name: "api", Namespace: "shop"},
				Message: "a container runs privileged", Why: "It owns the node.", Fix: "Drop privileged.",
				WhyHere: workspace.WhyHere{Service: "api", Tier: "critical", Environment: "preprod", Reason: "api is critical"}},
			{ID: "F-000000000002", Rule: "KSV-0014", Source: workspace.SourceMisconfig, Severity: "HIGH",
				Title: "Root file system is not read-only", File: "deploy/api/deployment.yaml", Line: 18, EndLine: 29,
				Message: "set readOnlyRootFilesystem", References: []string{"https://avd.aquasec.com/misconfig/ksv014"},
				WhyHere: workspace.WhyHere{Environment: "preprod"}},
			{ID: "F-000000000003", Rule: "policy.host-namespaces", Source: workspace.SourcePolicy, Severity: "HIGH", Blocker: true,
				Title: "host network", File: "deploy/agent/daemonset.yaml", Line: 2, EndLine: 24, Message: "host network",
				Excepted: true, Exception: &workspace.AppliedException{ID: "agent", Owner: "platform", Reason: "counters", Expires: "2026-06-30", At: "exceptions.yaml:7"},
				WhyHere: workspace.WhyHere{Environment: "preprod"}},
			{ID: "F-000000000004", Rule: "aws-access-key-id", Source: workspace.SourceSecret, Severity: "CRITICAL", Blocker: true,
				Title: "AWS Access Key ID", File: "/abs/machine/path/app.env", Line: 3, EndLine: 3, Message: "AWS Access Key ID in plain text (value redacted)",
				WhyHere: workspace.WhyHere{Environment: "preprod"}},
			{ID: "F-000000000005", Rule: "DS-0026", Source: workspace.SourceMisconfig, Severity: "LOW", Title: "No HEALTHCHECK",
				File: "Dockerfile", Message: "add a HEALTHCHECK", WhyHere: workspace.WhyHere{Environment: "preprod"}},
		},
	}
}

func TestFromFindings(t *testing.T) {
	log := FromFindings(sample(), Options{Tool: "rehearsal-scan", Version: "dev", Category: "rehearsal-scan/preprod"})
	b, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("Validate(FromFindings) = %v", err)
	}
	// An independent SARIF implementation reads it back.
	rep, err := gosarif.FromBytes(b)
	if err != nil {
		t.Fatalf("go-sarif cannot read the log: %v", err)
	}
	if len(rep.Runs) != 1 || len(rep.Runs[0].Results) != 5 || len(rep.Runs[0].Tool.Driver.Rules) != 5 {
		t.Fatalf("go-sarif read %d runs; want 1 run with 5 results and 5 rules", len(rep.Runs))
	}
	res := log.Runs[0].Results
	wantLevels := []string{"error", "warning", "note", "error", "warning"}
	for i, r := range res {
		if r.Level != wantLevels[i] {
			t.Errorf("result %d (%s) level = %q, want %q", i, r.RuleID, r.Level, wantLevels[i])
		}
		if log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d ruleIndex %d points at %s", i, r.RuleIndex, log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID)
		}
		if r.PartialFingerprints["rehearsalFindingId/v1"] != sample().Findings[i].ID {
			t.Errorf("result %d fingerprint %v", i, r.PartialFingerprints)
		}
	}
	if reg := res[0].Locations[0].PhysicalLocation.Region; reg.StartLine != 3 || reg.EndLine != 29 {
		t.Errorf("region = %+v, want lines 3-29", reg)
	}
	if ll := res[0].Locations[0].LogicalLocations; len(ll) != 1 || ll[0].FullyQualifiedName != "Deployment/shop/api" {
		t.Errorf("logical locations = %+v", ll)
	}
	if s := res[2].Suppressions; len(s) != 1 || s[0].Kind != "external" || !strings.Contains(s[0].Justification, "exception agent (owner platform, expires 2026-06-30)") {
		t.Errorf("suppressions = %+v, want the exception", s)
	}
	if uri := res[3].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "app.env" {
		t.Errorf("absolute path became %q, want its base name", uri)
	}
	if reg := res[4].Locations[0].PhysicalLocation.Region; reg.StartLine != 1 {
		t.Errorf("a whole-file finding's region = %+v, want line 1", reg)
	}
	if !strings.HasPrefix(res[0].Message.Text, "Blocker: a container runs privileged (Deployment/shop/api). Here: api is critical. Fix: Drop privileged.") {
		t.Errorf("message = %q", res[0].Message.Text)
	}
	r := log.Runs[0].Tool.Driver.Rules
	if r[0].ID != "DS-0026" || r[len(r)-1].ID != "policy.privileged" {
		t.Errorf("rules not sorted by id: %s … %s", r[0].ID, r[len(r)-1].ID)
	}
	for _, rule := range r {
		if rule.Properties["security-severity"] == "" || rule.Name == "" {
			t.Errorf("rule %s: %+v, want a name and a security-severity", rule.ID, rule)
		}
	}
	if log.Runs[0].AutomationDetails.ID != "rehearsal-scan/preprod/" {
		t.Errorf("category = %q", log.Runs[0].AutomationDetails.ID)
	}
}

func TestFromFindingsEmpty(t *testing.T) {
	b, err := json.Marshal(FromFindings(&workspace.Findings{Findings: []workspace.Finding{}}, Options{Tool: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Errorf("Validate(empty) = %v", err)
	}
	if !strings.Contains(string(b), `"results":[]`) || !strings.Contains(string(b), `"rules":[]`) {
		t.Errorf("empty log %s: want empty results and rules arrays, not null", b)
	}
}

func TestValidateRejects(t *testing.T) {
	good, _ := json.Marshal(FromFindings(sample(), Options{Tool: "rehearsal-scan"}))
	tests := []struct{ name, old, new, want string }{
		{"version", `"version":"2.1.0"`, `"version":"2.0.0"`, "version"},
		{"absolute uri", `"uri":"deploy/api/deployment.yaml"`, `"uri":"/deploy/api/deployment.yaml"`, "must be a relative reference"},
		{"scheme uri", `"uri":"deploy/api/deployment.yaml"`, `"uri":"file:///x"`, "must be a relative reference"},
		{"level", `"level":"error"`, `"level":"fatal"`, "level \"fatal\""},
		{"line zero", `"startLine":3`, `"startLine":0`, "startLine 0"},
		{"end before start", `"endLine":29`, `"endLine":1`, "is before startLine"},
		{"unknown rule", `"ruleId":"KSV-0014"`, `"ruleId":"KSV-9999"`, "not among the driver's rules"},
		{"no driver name", `"name":"rehearsal-scan"`, `"name":""`, "driver.name is required"},
		{"base id", `"uriBaseId":"SRCROOT"`, `"uriBaseId":"NOPE"`, "not in originalUriBaseIds"},
		{"suppression kind", `"kind":"external"`, `"kind":"waiver"`, "suppressions[0].kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.old, tt.new, 1)
			if b == string(good) {
				t.Fatalf("%q not in the log", tt.old)
			}
			if err := Validate([]byte(b)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s) = %v, want %q", tt.name, err, tt.want)
			}
		})
	}
}
