package scan

import (
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"go.yaml.in/yaml/v3"
)

// TestPolicySchema: rules/schema/policy.schema.json accepts the shipped
// policy rules and rejects effects the loader rejects.
func TestPolicySchema(t *testing.T) {
	schema, err := jsonschema.NewCompiler().Compile(rulesDir + "/schema/policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(rulesDir + "/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(yamlDoc(t, string(shipped))); err != nil {
		t.Errorf("rules/policy.yaml does not match policy.schema.json: %v", err)
	}
	const head = "apiVersion: rehearsal.dev/v1\nkind: policy\nrules:\n- id: x\n  description: d\n  when: 'true'\n"
	for _, tt := range []struct{ name, rule string }{
		{"unknown severity", "  effect: {severity: SEVERE, message: m, why: w, fix: f}\n"},
		{"resource rule without fix", "  effect: {severity: HIGH, message: m, why: w}\n"},
		{"unknown decision", "  effect: {severity: HIGH, decision: block, message: m, why: w, fix: f}\n"},
		{"finding rule without decision", "  scope: finding\n  effect: {why: w}\n"},
		{"finding rule with a severity", "  scope: finding\n  effect: {decision: blocker, severity: HIGH}\n"},
		{"unknown scope", "  scope: change\n  effect: {severity: HIGH, message: m, why: w, fix: f}\n"},
	} {
		if err := schema.Validate(yamlDoc(t, head+tt.rule)); err == nil {
			t.Errorf("policy schema accepted a rule with %s", tt.name)
		}
	}
	for _, ok := range []string{
		"  effect: {severity: LOW, message: m, why: w, fix: f}\n",
		"  scope: finding\n  effect: {decision: advisory}\n",
	} {
		if err := schema.Validate(yamlDoc(t, head+ok)); err != nil {
			t.Errorf("policy schema rejected %q: %v", ok, err)
		}
	}
}

func yamlDoc(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := yaml.NewDecoder(strings.NewReader(s)).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPolicyLoadErrors: the loader reports a bad policy effect or `when` at
// its file:line:col.
func TestPolicyLoadErrors(t *testing.T) {
	const head = "apiVersion: rehearsal.dev/v1\nkind: policy\nrules:\n- id: x\n  description: d\n"
	for _, tt := range []struct{ name, rule, want string }{
		{"unknown severity", "  when: 'true'\n  effect: {severity: SEVERE, message: m, why: w, fix: f}\n", `policy.yaml:7:22: severity "SEVERE" is not one of`},
		{"no fix", "  when: 'true'\n  effect:\n    severity: HIGH\n    message: m\n    why: w\n", `policy.yaml:8:5: a resource rule's finding needs fix`},
		{"finding rule without decision", "  scope: finding\n  when: 'true'\n  effect: {why: w}\n", `policy.yaml:8:11: a finding rule decides: give decision`},
		{"finding rule with a fix", "  scope: finding\n  when: 'true'\n  effect: {decision: blocker, fix: f}\n", `policy.yaml:8:31: effect key "fix" is not valid for policy finding rules`},
		{"unknown field", "  when: resource.containers.exists(c, c.privileged_mode)\n  effect: {severity: HIGH, message: m, why: w, fix: f}\n", `policy.yaml:6:40: rule "x": undefined field 'privileged_mode'`},
		{"finding var in a resource rule", "  when: finding.severity == 'HIGH'\n  effect: {severity: HIGH, message: m, why: w, fix: f}\n", `policy.yaml:6:9: rule "x": undeclared reference to 'finding'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/policy.yaml", head+tt.rule)
			_, err := rules.Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%s) = %v, want %q", tt.name, err, tt.want)
			}
		})
	}
}
