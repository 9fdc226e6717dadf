package rules

import (
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// PolicyEffect is what a policy rule decides for one resource.
type PolicyEffect struct{}

// policyKind declares policy rule files.
var policyKind = kindSpec{
	Scopes: []string{""},
	Vars:   map[string][]string{"": {"change"}},
	decode: func(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
		p := at(n)
		l.Add(file, p.Line, p.Col, "policy rules are not supported yet")
		return Effect{}
	},
}
