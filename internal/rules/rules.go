// Package rules loads Rehearsal's rule sets — YAML files whose rules carry a CEL
// `when` expression and an effect — compiles every expression once against the
// variables its kind declares, and evaluates them. Problems in rule files are
// reported all at once, each at its `file:line:col` in the YAML source.
package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// APIVersion is the version every rule and test file declares.
const APIVersion = "rehearsal.dev/v1"

// Set is a loaded, compiled rule set: every rule file of a directory.
type Set struct {
	Dir   string
	Files []*File // sorted by name
	// Digest is the SHA-256 of the set in canonical form ("sha256:…").
	Digest string
}

// File is one rule file.
type File struct {
	Path  string  `json:"-"`
	Name  string  `json:"file"` // base name, used in the digest
	Kind  Kind    `json:"kind"`
	Rules []*Rule `json:"rules"`
	// Tests holds the cases of the `<name>_test.yaml` beside the file, if any.
	Tests    *TestFile `json:"-"`
	testPath string
}

// Rule is one rule with its compiled expression.
type Rule struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Scope       string `json:"scope,omitempty"`
	When        string `json:"when"`
	Effect      Effect `json:"effect"`

	File string `json:"-"`
	Line int    `json:"-"`
	Col  int    `json:"-"`

	prg cel.Program
}

// Pos returns the rule's `file:line:col`.
func (r *Rule) Pos() string { return fmt.Sprintf("%s:%d:%d", r.File, r.Line, r.Col) }

type rawFile struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Rules      []rawRule `yaml:"rules"`
}

type rawRule struct {
	ID          string    `yaml:"id"`
	Description string    `yaml:"description"`
	Scope       string    `yaml:"scope"`
	When        string    `yaml:"when"`
	Effect      yaml.Node `yaml:"effect"`
}

var idRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// Load reads every `*.yaml` rule file in dir (not `*_test.yaml`, not schema/),
// with the test files beside them. It reports every problem found, not the first.
func Load(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) || isTestFile(n) || strings.HasPrefix(n, ".") || isKustomization(n) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, diag.List{{File: dir, Msg: "no rule files (*.yaml) found"}}.Err()
	}
	set := &Set{Dir: dir}
	var problems diag.List
	ids := map[string]*Rule{}
	for _, n := range names {
		path := filepath.Join(dir, n)
		f, errs := loadFile(path)
		problems = append(problems, errs...)
		if f == nil {
			continue
		}
		for _, r := range f.Rules {
			if prev, ok := ids[r.ID]; ok {
				problems.Add(r.File, r.Line, r.Col, "duplicate rule id %q (first defined at %s)", r.ID, prev.Pos())
				continue
			}
			ids[r.ID] = r
		}
		set.Files = append(set.Files, f)
	}
	// Test files: each rule file may have one beside it; a test file without a
	// rule file is a mistake worth reporting.
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !isTestFile(n) {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(n, ".yaml"), ".yml")
		base = strings.TrimSuffix(base, "_test")
		var owner *File
		for _, f := range set.Files {
			if strings.TrimSuffix(strings.TrimSuffix(f.Name, ".yaml"), ".yml") == base {
				owner = f
			}
		}
		path := filepath.Join(dir, n)
		if owner == nil {
			problems.Add(path, 1, 1, "test file has no rule file %s.yaml beside it", base)
			continue
		}
		tf, errs := loadTests(path, owner, ids)
		problems = append(problems, errs...)
		owner.Tests = tf
		owner.testPath = path
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	set.Digest = digest(set)
	return set, nil
}

// isKustomization reports whether n is a kustomization file, which lives beside
// the rules to build their ConfigMap and is not a rule file.
func isKustomization(n string) bool {
	return n == "kustomization.yaml" || n == "kustomization.yml"
}

func isTestFile(n string) bool {
	return strings.HasSuffix(n, "_test.yaml") || strings.HasSuffix(n, "_test.yml")
}

// readDoc reads and strictly decodes one rule or test file into v and checks
// its apiVersion (the field named apiVersion in v's YAML).
func readDoc(path string, v any, apiVersion func() string) (*yamlsrc.Doc, diag.List) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, diag.List{{File: path, Msg: err.Error()}}
	}
	doc, err := yamlsrc.Parse(path, data)
	if err != nil {
		return nil, diag.Problems(err)
	}
	if err := doc.Decode(v); err != nil {
		return nil, diag.Problems(err)
	}
	var l diag.List
	if got := apiVersion(); got != APIVersion {
		p := yamlsrc.At(yamlsrc.Get(doc.Root, "apiVersion"), doc.Root)
		l.Add(path, p.Line, p.Col, "apiVersion must be %q, got %q", APIVersion, got)
	}
	return doc, l
}

func loadFile(path string) (*File, diag.List) {
	var raw rawFile
	doc, l := readDoc(path, &raw, func() string { return raw.APIVersion })
	if doc == nil {
		return nil, l
	}
	at := func(n *yaml.Node) yamlsrc.Pos { return yamlsrc.At(n, doc.Root) }
	spec, ok := kinds[Kind(raw.Kind)]
	if !ok {
		p := at(yamlsrc.Get(doc.Root, "kind"))
		l.Add(path, p.Line, p.Col, "unknown kind %q (want one of %s)", raw.Kind, strings.Join(kindNames(), ", "))
		return nil, l
	}
	f := &File{Path: path, Name: filepath.Base(path), Kind: Kind(raw.Kind)}
	items := yamlsrc.Items(yamlsrc.Get(doc.Root, "rules"))
	if yamlsrc.Get(doc.Root, "rules") == nil {
		l.Add(path, 1, 1, "no rules key (use `rules: []` for an empty set)")
	}
	for i, rr := range raw.Rules {
		node := items[i]
		field := func(k string) *yaml.Node { return yamlsrc.Get(node, k) }
		r := &Rule{ID: rr.ID, Description: rr.Description, Scope: rr.Scope, When: rr.When, File: path, Line: node.Line, Col: node.Column}
		bad := false
		if rr.ID == "" {
			l.Add(path, node.Line, node.Column, "rule %d has no id", i+1)
			bad = true
		} else if !idRe.MatchString(rr.ID) {
			p := at(field("id"))
			l.Add(path, p.Line, p.Col, "rule id %q: use lower-case letters, digits, '.' and '-'", rr.ID)
		}
		if strings.TrimSpace(rr.Description) == "" {
			l.Add(path, node.Line, node.Column, "rule %q has no description", rr.ID)
		}
		if !contains(spec.Scopes, rr.Scope) {
			p := at(field("scope"))
			l.Add(path, p.Line, p.Col, "rule %q: scope %q is not valid for kind %s (want one of %q)", rr.ID, rr.Scope, raw.Kind, spec.Scopes)
			bad = true
		}
		whenNode := field("when")
		if strings.TrimSpace(rr.When) == "" {
			l.Add(path, node.Line, node.Column, "rule %q has no when expression", rr.ID)
			bad = true
		}
		effNode := field("effect")
		if effNode == nil {
			l.Add(path, node.Line, node.Column, "rule %q has no effect", rr.ID)
			bad = true
		} else {
			eff, errs := decodeEffect(path, f.Kind, rr.Scope, effNode)
			l = append(l, errs...)
			r.Effect = eff
		}
		if !bad {
			env, err := spec.env(rr.Scope)
			if err != nil {
				l.Add(path, node.Line, node.Column, "rule %q: %v", rr.ID, err)
				continue
			}
			prg, errs := compile(env, doc.Src, path, rr.ID, rr.When, whenNode)
			l = append(l, errs...)
			r.prg = prg
		}
		f.Rules = append(f.Rules, r)
	}
	return f, l
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// compile type-checks one `when` expression. Errors point into the YAML file.
func compile(env *cel.Env, src []byte, path, id, expr string, node *yaml.Node) (cel.Program, diag.List) {
	var l diag.List
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			loc := e.Location
			line, col := mapPos(src, node, expr, loc.Line(), loc.Column())
			l.Add(path, line, col, "rule %q: %s", id, e.Message)
		}
		return nil, l
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		line, col := mapPos(src, node, expr, 1, 0)
		l.Add(path, line, col, "rule %q: when must be a bool expression, got %s", id, ast.OutputType())
		return nil, l
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		p := yamlsrc.At(node, nil)
		l.Add(path, p.Line, p.Col, "rule %q: %v", id, err)
		return nil, l
	}
	return prg, nil
}

// mapPos turns a position inside a CEL expression (1-based line, 0-based column)
// into the position of that character in the YAML source, for plain, quoted,
// literal (|) and folded (>) scalars.
func mapPos(src []byte, node *yaml.Node, expr string, line, col int) (int, int) {
	if node == nil {
		return 0, 0
	}
	lines := strings.Split(string(src), "\n")
	indentOf := func(n int) int { // 1-based source line
		if n < 1 || n > len(lines) {
			return 0
		}
		s := lines[n-1]
		return len(s) - len(strings.TrimLeft(s, " "))
	}
	switch node.Style {
	case yaml.LiteralStyle:
		first := node.Line + 1
		for first <= len(lines) && strings.TrimSpace(lines[first-1]) == "" {
			first++
		}
		return node.Line + line, indentOf(first) + col + 1
	case yaml.FoldedStyle:
		// Folded content is the source lines joined by spaces: walk them.
		off := offset(expr, line, col)
		for n := node.Line + 1; n <= len(lines); n++ {
			text := strings.TrimSpace(lines[n-1])
			if text == "" {
				continue
			}
			if off <= len(text) {
				return n, indentOf(n) + off + 1
			}
			off -= len(text) + 1
		}
		return node.Line, node.Column
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line == 1 {
			return node.Line, node.Column + 1 + col
		}
		return node.Line + line - 1, indentOf(node.Line+line-1) + col + 1
	default:
		// Plain scalars fold like `>`; a one-line plain scalar starts at the node.
		off := offset(expr, line, col)
		first := strings.TrimSpace(lines[node.Line-1][node.Column-1:])
		if off <= len(first) {
			return node.Line, node.Column + off
		}
		off -= len(first) + 1
		for n := node.Line + 1; n <= len(lines); n++ {
			text := strings.TrimSpace(lines[n-1])
			if off <= len(text) {
				return n, indentOf(n) + off + 1
			}
			off -= len(text) + 1
		}
		return node.Line, node.Column
	}
}

func offset(expr string, line, col int) int {
	off := 0
	for i := 1; i < line; i++ {
		j := strings.IndexByte(expr[off:], '\n')
		if j < 0 {
			break
		}
		off += j + 1
	}
	return off + col
}
