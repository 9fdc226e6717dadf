package yamlsrc

import (
	"strings"
	"testing"
)

func TestParseAndDecodeLocateProblems(t *testing.T) {
	type doc struct {
		Name  string `yaml:"name"`
		Count int    `yaml:"count"`
	}
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "x.yaml:1:1: empty document"},
		{"two documents", "name: a\n---\nname: b\n", "x.yaml:2:1: only one YAML document is allowed"},
		{"syntax", "name: [a\n", "x.yaml:"},
		{"unknown field", "name: a\n  \ncolour: red\n", "x.yaml:3:1: field colour not found"},
		{"wrong type", "name: a\ncount: many\n", "x.yaml:2:1: cannot unmarshal !!str `many` into int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("x.yaml", []byte(tt.src))
			if err == nil {
				var v doc
				err = d.Decode(&v)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse+Decode(%q) = %v, want %q", tt.src, err, tt.want)
			}
		})
	}
}

func TestNodeHelpers(t *testing.T) {
	d, err := Parse("x.yaml", []byte("a:\n  - 1\n  - 2\nb: {c: d}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if items := Items(Get(d.Root, "a")); len(items) != 2 || items[1].Line != 3 {
		t.Errorf("Items(a) = %v", items)
	}
	if p := At(Get(Get(d.Root, "b"), "c"), nil); p != (Pos{4, 8}) {
		t.Errorf("At(b.c) = %v, want 4:8", p)
	}
	if Get(d.Root, "missing") != nil || At(nil, nil) != (Pos{}) {
		t.Errorf("missing keys should give nil and a zero position")
	}
}
