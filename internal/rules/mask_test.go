package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func writeMask(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mask.yaml"), []byte("apiVersion: rehearsal.dev/v1\nkind: mask\nrules:\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMaskEffectProblems(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"unknown transformer", "- id: a\n  description: d\n  when: 'true'\n  effect: {transformer: emial}\n", `mask.yaml:7:25: transformer "emial" is not one of`},
		{"nothing decided", "- id: a\n  description: d\n  when: 'true'\n  effect: {message: hi}\n", "mask.yaml:7:11: effect decides nothing: give transformer"},
		{"suspect and transformer", "- id: a\n  description: d\n  when: 'true'\n  effect: {transformer: email, suspect: true}\n", "suspect keeps the column: give suspect or transformer, not both"},
		{"paths without json", "- id: a\n  description: d\n  when: 'true'\n  effect: {transformer: email, paths: {$.a: email}}\n", "paths are for JSON columns"},
		{"bad path", "- id: a\n  description: d\n  when: 'true'\n  effect:\n    transformer: json\n    paths: {contact.email: email}\n", `mask.yaml:9:13: path "contact.email" is not a JSON path`},
		{"path transformer json", "- id: a\n  description: d\n  when: 'true'\n  effect:\n    transformer: json\n    paths: {$.a: json}\n", `path "$.a": transformer "json" is not one of`},
		{"unknown key", "- id: a\n  description: d\n  when: 'true'\n  effect: {transformer: email, strategy: canary}\n", `effect key "strategy" is not valid for mask column rules`},
		{"table rule deciding nothing", "- id: a\n  description: d\n  scope: table\n  when: 'true'\n  effect: {message: x}\n", "effect decides nothing: give subset or rows"},
		{"limit and percent", "- id: a\n  description: d\n  scope: table\n  when: 'true'\n  effect: {subset: {limit: 5, percent: 10}}\n", "subset takes limit or percent, not both"},
		{"percent above 100", "- id: a\n  description: d\n  scope: table\n  when: 'true'\n  effect: {subset: {percent: 150}}\n", "subset percent 150 must be between 0 and 100"},
		{"column variable in a table rule", "- id: a\n  description: d\n  scope: table\n  when: column.name == 'x'\n  effect: {rows: 5}\n", "undeclared reference to 'column'"},
		{"transformer on a table", "- id: a\n  description: d\n  scope: table\n  when: 'true'\n  effect: {transformer: email}\n", `effect key "transformer" is not valid for mask table rules`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeMask(t, tc.rule))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestMaskNullTransformer(t *testing.T) {
	set, err := Load(writeMask(t, "- id: a\n  description: d\n  when: column.name == 'notes'\n  effect: {transformer: null}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, fired, err := set.ApplyMask(&workspace.Change{}, &workspace.MaskColumn{Name: "notes"})
	if err != nil || d.Transformer != "null" || len(fired) != 1 || d.RuleID() != "a" {
		t.Errorf("ApplyMask(notes) = %+v, %v, %v; want the null transformer from rule a", d, fired, err)
	}
	d, fired, _ = set.ApplyMask(&workspace.Change{}, &workspace.MaskColumn{Name: "status"})
	if d.Transformer != "keep" || len(fired) != 0 || d.RuleID() != "default" {
		t.Errorf("ApplyMask(status) = %+v, %v; want keep by default", d, fired)
	}
}

func TestApplyMaskTableFirstRulePerDecision(t *testing.T) {
	set, err := Load(writeMask(t, `- id: eu
  description: d
  scope: table
  when: table.name == 'customers'
  effect: {subset: {where: "region = 'eu'", limit: 100}}
- id: all
  description: d
  scope: table
  when: 'true'
  effect: {subset: {percent: 10}, rows: 7}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, fired, err := set.ApplyMaskTable(&workspace.Change{}, &workspace.MaskTable{Name: "customers"})
	if err != nil {
		t.Fatal(err)
	}
	if d.SubsetRule.ID != "eu" || d.Subset.Limit != 100 || d.RowsRule.ID != "all" || d.Rows != 7 || len(fired) != 2 {
		t.Errorf("ApplyMaskTable(customers) = %+v (fired %v); want the subset from eu and the rows from all", d, fired)
	}
}

func TestMaskColumnRefs(t *testing.T) {
	set, err := Load(writeMask(t, `- id: pinned
  description: d
  when: column.table == 'customers' && column.name == 'emial'
  effect: {transformer: email}
- id: table-only
  description: d
  when: "'orders' == column.table && column.kind == 'text'"
  effect: {transformer: text}
- id: generic
  description: d
  when: column.name == 'email' || column.table == 'x'
  effect: {transformer: email}
- id: root
  description: d
  scope: table
  when: table.name == 'custmers'
  effect: {subset: {limit: 5}}
`))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := set.MaskColumnRefs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Rule.ID+"="+r.Table+"."+r.Column)
	}
	want := []string{"pinned=customers.emial", "table-only=orders.", "root=custmers."}
	if !slices.Equal(got, want) {
		t.Errorf("MaskColumnRefs() = %q, want %q", got, want)
	}
}

// TestMaskSchemaNamesEveryTransformer keeps rules/schema/mask.schema.json in
// step with the transformer registry, and checks it refuses a bad effect.
func TestMaskSchemaNamesEveryTransformer(t *testing.T) {
	b, err := os.ReadFile("../../rules/schema/mask.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs struct {
			Transformer struct {
				AnyOf []struct {
					Enum []string `json:"enum"`
				} `json:"anyOf"`
			} `json:"transformer"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(s.Defs.Transformer.AnyOf[0].Enum))
	if want := transform.Names(); !slices.Equal(got, want) {
		t.Errorf("mask.schema.json transformers = %q, want the registry's %q", got, want)
	}
	schema, err := jsonschema.NewCompiler().Compile("../../rules/schema/mask.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	const head = "apiVersion: rehearsal.dev/v1\nkind: mask\nrules:\n- id: x\n  description: d\n  when: 'true'\n"
	for _, tc := range []struct{ name, effect string }{
		{"unknown transformer", "  effect: {transformer: emial}\n"},
		{"suspect with a transformer", "  effect: {transformer: email, suspect: true}\n"},
		{"paths without json", "  effect: {transformer: email, paths: {$.a: email}}\n"},
		{"table effect on a column rule", "  effect: {rows: 5}\n"},
	} {
		if err := schema.Validate(loadYAMLString(t, head+tc.effect)); err == nil {
			t.Errorf("mask schema accepted %s", tc.name)
		}
	}
	for _, good := range []string{"  effect: {transformer: null}\n", "  effect: {transformer: json, paths: {\"$.contact.phones[*]\": phone}}\n", "  scope: table\n  effect: {subset: {where: \"region = 'eu'\", limit: 10}}\n"} {
		if err := schema.Validate(loadYAMLString(t, head+good)); err != nil {
			t.Errorf("mask schema rejected %q: %v", good, err)
		}
	}
}
