package rules

import (
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// MaskEffect is what a mask rule decides for one column.
type MaskEffect struct{}

// maskKind declares mask rule files.
var maskKind = kindSpec{
	Scopes: []string{""},
	Vars:   map[string][]string{"": {"change"}},
	decode: func(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
		p := at(n)
		l.Add(file, p.Line, p.Col, "mask rules are not supported yet")
		return Effect{}
	},
}
