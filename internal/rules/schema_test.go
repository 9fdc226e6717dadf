package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// TestShippedRulesMatchSchemas validates every shipped rule and test file against
// the JSON Schema for its kind in rules/schema/, and checks that each schema
// rejects a file that breaks it, so a schema that accepts anything fails here.
func TestShippedRulesMatchSchemas(t *testing.T) {
	c := jsonschema.NewCompiler()
	schemas := map[string]*jsonschema.Schema{}
	paths, _ := filepath.Glob("../../rules/schema/*.schema.json")
	for _, p := range paths {
		k := strings.TrimSuffix(filepath.Base(p), ".schema.json")
		s, err := c.Compile(p)
		if err != nil {
			t.Fatalf("compile schema %s: %v", k, err)
		}
		schemas[k] = s
	}
	files, _ := filepath.Glob("../../rules/*.yaml")
	checked := 0
	for _, f := range files {
		if isKustomization(filepath.Base(f)) {
			continue
		}
		doc := loadYAML(t, f)
		kind := doc.(map[string]any)["kind"].(string)
		schema := kind
		if isTestFile(filepath.Base(f)) {
			schema = "tests"
		}
		if schemas[schema] == nil {
			t.Errorf("%s: no rules/schema/%s.schema.json", f, schema)
			continue
		}
		if err := schemas[schema].Validate(doc); err != nil {
			t.Errorf("%s does not match %s.schema.json: %v", f, schema, err)
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("checked %d files, want the 4 rule files and their tests", checked)
	}
	bad := loadYAMLString(t, "apiVersion: rehearsal.dev/v1\nkind: gates\nrules:\n- id: x\n  description: d\n  when: 'true'\n  effect: {gate: {name: g, tier: extreme}}\n")
	if err := schemas["gates"].Validate(bad); err == nil {
		t.Errorf("gates schema accepted tier 'extreme'")
	}
	const head = "apiVersion: rehearsal.dev/v1\nkind: plan\nrules:\n- id: x\n  description: d\n  when: 'true'\n"
	for _, tc := range []struct{ name, effect string }{
		{"unknown strategy", "  effect: {strategy: recreate}\n"},
		{"steps without canary", "  effect: {strategy: blueGreen, steps: [{weight: 50}]}\n"},
		{"error rate above 1", "  effect: {thresholds: {errorRate: 5, latencyP95: 300ms}}\n"},
		{"flag state not on/off", "  effect: {flags: {during: dark, after: on, fallback: off}}\n"},
		{"no decision", "  effect: {message: nothing}\n"},
	} {
		if err := schemas["plan"].Validate(loadYAMLString(t, head+tc.effect)); err == nil {
			t.Errorf("plan schema accepted %s", tc.name)
		}
	}
	good := loadYAMLString(t, head+"  effect: {strategy: canary, steps: [{weight: 50, pause: 5m}, {weight: 100}]}\n")
	if err := schemas["plan"].Validate(good); err != nil {
		t.Errorf("plan schema rejected a canary with steps: %v", err)
	}
}

func loadYAML(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return loadYAMLString(t, string(b))
}

func loadYAMLString(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := yaml.NewDecoder(strings.NewReader(s)).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return normalize(v)
}

// normalize turns YAML ints into the float64/json.Number shapes the validator wants.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case int:
		return float64(x)
	}
	return v
}
