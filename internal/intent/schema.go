package intent

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"

	"google.golang.org/genai"
)

// Schema is the JSON Schema of an intent (intent.schema.json): the shape of
// change.json's `intent` and of a model's answer. The model's response
// schema is derived from it.
//
//go:embed intent.schema.json
var Schema []byte

// jsonSchema is the subset of JSON Schema the response schema carries over.
type jsonSchema struct {
	Type             string                 `json:"type"`
	Description      string                 `json:"description"`
	Enum             []string               `json:"enum"`
	Items            *jsonSchema            `json:"items"`
	Properties       map[string]*jsonSchema `json:"properties"`
	Required         []string               `json:"required"`
	PropertyOrdering []string               `json:"propertyOrdering"`
	MaxItems         *int64                 `json:"maxItems"`
	MinLength        *int64                 `json:"minLength"`
	MaxLength        *int64                 `json:"maxLength"`
}

var genaiTypes = map[string]genai.Type{
	"object": genai.TypeObject, "array": genai.TypeArray, "string": genai.TypeString,
	"integer": genai.TypeInteger, "number": genai.TypeNumber, "boolean": genai.TypeBoolean,
}

func (s *jsonSchema) genai() (*genai.Schema, error) {
	t, ok := genaiTypes[s.Type]
	if !ok {
		return nil, fmt.Errorf("intent.schema.json: type %q has no response-schema equivalent", s.Type)
	}
	out := &genai.Schema{Type: t, Description: s.Description, Enum: s.Enum, Required: s.Required,
		PropertyOrdering: s.PropertyOrdering, MaxItems: s.MaxItems, MinLength: s.MinLength, MaxLength: s.MaxLength}
	if s.Items != nil {
		it, err := s.Items.genai()
		if err != nil {
			return nil, err
		}
		out.Items = it
	}
	if len(s.Properties) > 0 {
		out.Properties = map[string]*genai.Schema{}
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, err := s.Properties[k].genai()
			if err != nil {
				return nil, err
			}
			out.Properties[k] = p
		}
	}
	return out, nil
}

// ResponseSchema returns the model's response schema: intent.schema.json with
// the catalog's service names as the only services.
func ResponseSchema(services []string) (*genai.Schema, error) {
	var s jsonSchema
	if err := json.Unmarshal(Schema, &s); err != nil {
		return nil, fmt.Errorf("intent.schema.json: %w", err)
	}
	out, err := s.genai()
	if err != nil {
		return nil, err
	}
	if svc := out.Properties["services"]; svc != nil && svc.Items != nil && len(services) > 0 {
		svc.Items.Enum = append([]string(nil), services...)
	}
	return out, nil
}
