package llm

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func readTemplate(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../workflowtemplates/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestTheClassifyTemplateTakesTheKeyFromAnOptionalSecret: the Gemini key
// reaches the step through its environment from an optional Secret, never
// through its arguments, and the model and request are parameters.
func TestTheClassifyTemplateTakesTheKeyFromAnOptionalSecret(t *testing.T) {
	tmpl := get(readTemplate(t, "rehearsal-classify.yaml"), "spec", "templates", 0)
	c := get(tmpl, "container").(map[string]any)
	var args []string
	for _, a := range get(c, "args").([]any) {
		args = append(args, a.(string))
	}
	joined := strings.Join(args, " ")
	for _, want := range []string{"--request={{inputs.parameters.request}}", "--model={{inputs.parameters.model}}", "--model-budget={{inputs.parameters.model-budget}}"} {
		if !strings.Contains(joined, want) {
			t.Errorf("classify args lack %s", want)
		}
	}
	if strings.Contains(strings.ToLower(joined), "key") {
		t.Errorf("classify args mention a key: %s", joined)
	}
	found := false
	for _, e := range get(c, "env").([]any) {
		if get(e, "name") == "GEMINI_API_KEY" {
			ref := get(e, "valueFrom", "secretKeyRef")
			found = get(ref, "name") == "rehearsal-gemini" && get(ref, "optional") == true && get(e, "value") == nil
		}
	}
	if !found {
		t.Errorf("GEMINI_API_KEY does not come from the optional Secret rehearsal-gemini")
	}
	params := map[string]any{}
	for _, p := range get(tmpl, "inputs", "parameters").([]any) {
		params[get(p, "name").(string)] = get(p, "default")
	}
	if params["model"] != DefaultModel || params["request"] != "" {
		t.Errorf("classify parameters = %v, want model %s and an empty request by default", params, DefaultModel)
	}
}

func TestTheReleaseTemplatePassesRequestAndModel(t *testing.T) {
	doc := readTemplate(t, "rehearsal-release.yaml")
	wf := map[string]bool{}
	for _, p := range get(doc, "spec", "arguments", "parameters").([]any) {
		wf[get(p, "name").(string)] = true
	}
	if !wf["request"] || !wf["model"] {
		t.Errorf("release parameters = %v, want request and model", wf)
	}
	for _, task := range get(doc, "spec", "templates", 0, "dag", "tasks").([]any) {
		if get(task, "name") != "classify" {
			continue
		}
		got := map[string]string{}
		for _, p := range get(task, "arguments", "parameters").([]any) {
			got[get(p, "name").(string)] = get(p, "value").(string)
		}
		if got["request"] != "{{workflow.parameters.request}}" || got["model"] != "{{workflow.parameters.model}}" {
			t.Errorf("classify task arguments = %v", got)
		}
		return
	}
	t.Errorf("the release DAG has no classify task")
}
