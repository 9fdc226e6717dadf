package intent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/genai"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("intent.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("intent.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaAgreesWithTheValidator: the published schema and the validator
// the model's answers go through accept and refuse the same shapes.
func TestSchemaAgreesWithTheValidator(t *testing.T) {
	s := compileSchema(t)
	p := parse(example+" on v1.2.0", catalogServices)
	for _, tc := range []struct {
		doc   string
		valid bool
	}{
		{`{"services":[],"goals":[]}`, true},
		{`{"environment":"staging","services":["api"],"goals":["prepare","verify","promote"],"revision":"v1.2.0"}`, true},
		{`{"services":["api"],"goals":["prepare"],"risk":"low"}`, false},
		{`{"services":["api"],"goals":["skip-gate"]}`, false},
		{`{"environment":"production","services":[],"goals":[]}`, false},
		{`{"services":"api","goals":[]}`, false},
		{`{"services":[],"goals":[],"revision":""}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); (err == nil) != tc.valid {
			t.Errorf("schema on %s: %v, want valid=%v", tc.doc, err, tc.valid)
		}
		_, problems := checkModel(tc.doc, p, catalogServices)
		// An empty revision is "none" for the validator; the schema, which
		// describes what Rehearsal writes, omits it instead.
		if tc.doc == `{"services":[],"goals":[],"revision":""}` {
			continue
		}
		if (len(problems) == 0) != tc.valid {
			t.Errorf("validator on %s: %q, want valid=%v", tc.doc, problems, tc.valid)
		}
	}
}

func TestWrittenIntentsMatchTheSchema(t *testing.T) {
	s := compileSchema(t)
	for _, in := range []workspace.Intent{exampleIntent, it("", nil, nil, ""), it("qa", []string{"api", "orders"}, []string{"scan-only"}, "v2")} {
		b, _ := json.Marshal(in)
		var v any
		json.Unmarshal(b, &v)
		if err := s.Validate(v); err != nil {
			t.Errorf("%s does not match the schema: %v", b, err)
		}
	}
}

func TestSchemaVocabulary(t *testing.T) {
	var doc struct {
		Properties struct {
			Environment struct {
				Enum []string `json:"enum"`
			} `json:"environment"`
			Goals struct {
				Items struct {
					Enum []string `json:"enum"`
				} `json:"items"`
			} `json:"goals"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(Schema, &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Properties.Goals.Items.Enum, Goals) {
		t.Errorf("schema goals %v, code goals %v", doc.Properties.Goals.Items.Enum, Goals)
	}
	if !reflect.DeepEqual(doc.Properties.Environment.Enum, Environments) {
		t.Errorf("schema environments %v, code environments %v", doc.Properties.Environment.Enum, Environments)
	}
	for _, g := range Goals {
		if GoalMeanings[g] == "" {
			t.Errorf("goal %s has no meaning for the model", g)
		}
	}
	for w, e := range envWords {
		if !contains(Environments, e) {
			t.Errorf("word %q names %q, not an environment", w, e)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestResponseSchema(t *testing.T) {
	rs, err := ResponseSchema(catalogServices)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Type != genai.TypeObject || !reflect.DeepEqual(rs.Required, []string{"services", "goals"}) ||
		!reflect.DeepEqual(rs.PropertyOrdering, []string{"environment", "services", "goals", "revision"}) {
		t.Errorf("response schema = %+v", rs)
	}
	if got := rs.Properties["services"].Items.Enum; !reflect.DeepEqual(got, catalogServices) {
		t.Errorf("services enum = %v, want the catalog's", got)
	}
	if got := rs.Properties["goals"].Items.Enum; !reflect.DeepEqual(got, Goals) {
		t.Errorf("goals enum = %v", got)
	}
	if rs.Properties["revision"].Type != genai.TypeString || *rs.Properties["revision"].MaxLength != 100 {
		t.Errorf("revision = %+v", rs.Properties["revision"])
	}
}
