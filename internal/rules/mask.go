package rules

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// MaskTableScope is the scope of mask rules about whole tables (subsets,
// synthetic row counts); column rules have the default scope.
const MaskTableScope = "table"

// MaskEffect is what a mask rule decides. Column rules (the default scope)
// choose a transformer for a column or a JSON path — or flag a kept column
// as suspect; table rules choose subset roots and synthetic row counts.
type MaskEffect struct {
	// Transformer is a registry name (internal/mask/transform), keep or null.
	Transformer string `yaml:"transformer" json:"transformer,omitempty"`
	// Paths give explicit transformers for JSON paths (with transformer
	// json); other paths are classified by the rules like columns.
	Paths map[string]string `yaml:"paths" json:"paths,omitempty"`
	// Suspect keeps the column but reports it as looking sensitive.
	Suspect bool `yaml:"suspect" json:"suspect,omitempty"`
	// Subset makes the table a subset root.
	Subset *SubsetEffect `yaml:"subset" json:"subset,omitempty"`
	// Rows is how many rows synthetic generation makes for the table.
	Rows int64 `yaml:"rows" json:"rows,omitempty"`
}

// SubsetEffect chooses a subset root's rows: those matching Where (an SQL
// condition on the table), in primary-key order, at most Limit of them, or
// Percent of them picked by a keyed hash of the primary key.
type SubsetEffect struct {
	Where   string  `yaml:"where" json:"where,omitempty"`
	Limit   int64   `yaml:"limit" json:"limit,omitempty"`
	Percent float64 `yaml:"percent" json:"percent,omitempty"`
}

// jsonPathRe accepts $, then .name, ["name"] or [*] steps.
var jsonPathRe = regexp.MustCompile(`^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\["[^"]+"\]|\[\*\])+$`)

// ValidJSONPath reports whether p is a JSON path mask rules accept.
func ValidJSONPath(p string) bool { return jsonPathRe.MatchString(p) }

// maskKind declares mask rule files.
var maskKind = kindSpec{
	Scopes: []string{"", MaskTableScope},
	Vars:   map[string][]string{"": {"change", "column"}, MaskTableScope: {"change", "table"}},
	Types: map[string]reflect.Type{
		"column": reflect.TypeOf(workspace.MaskColumn{}),
		"table":  reflect.TypeOf(workspace.MaskTable{}),
	},
	decode: decodeMask,
	test:   testMask,
}

func decodeMask(scope string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	m := &MaskEffect{}
	e.Mask = m
	add := func(key string, format string, args ...any) {
		node := yamlsrc.Get(n, key)
		if node == nil {
			node = n
		}
		p := at(node)
		l.Add(file, p.Line, p.Col, format, args...)
	}
	if scope == MaskTableScope {
		if !allowedKeys(file, n, at, l, "mask table rules", "subset", "rows", "message") {
			return e
		}
		decodeInto(file, n, &struct {
			Subset  **SubsetEffect `yaml:"subset"`
			Rows    *int64         `yaml:"rows"`
			Message *string        `yaml:"message"`
		}{&m.Subset, &m.Rows, &e.Message}, at, l)
		if s := m.Subset; s != nil {
			if s.Where == "" && s.Limit == 0 && s.Percent == 0 {
				add("subset", "subset chooses nothing: give where, limit or percent")
			}
			if s.Limit < 0 {
				add("subset", "subset limit %d must be positive", s.Limit)
			}
			if s.Percent < 0 || s.Percent > 100 {
				add("subset", "subset percent %v must be between 0 and 100", s.Percent)
			}
			if s.Limit > 0 && s.Percent > 0 {
				add("subset", "subset takes limit or percent, not both")
			}
		}
		if m.Rows < 0 {
			add("rows", "rows %d must be positive", m.Rows)
		}
		if m.Subset == nil && m.Rows == 0 {
			p := at(n)
			l.Add(file, p.Line, p.Col, "effect decides nothing: give subset or rows")
		}
		return e
	}
	if !allowedKeys(file, n, at, l, "mask column rules", "transformer", "paths", "suspect", "message") {
		return e
	}
	decodeInto(file, n, &struct {
		Transformer *string            `yaml:"transformer"`
		Paths       *map[string]string `yaml:"paths"`
		Suspect     *bool              `yaml:"suspect"`
		Message     *string            `yaml:"message"`
	}{&m.Transformer, &m.Paths, &m.Suspect, &e.Message}, at, l)
	// `transformer: null` is YAML's null: it means the null transformer.
	if tn := yamlsrc.Get(n, "transformer"); tn != nil && tn.Tag == "!!null" && tn.Value == "null" {
		m.Transformer = "null"
	}
	names := transform.Names()
	switch {
	case m.Suspect && m.Transformer != "":
		add("suspect", "suspect keeps the column: give suspect or transformer, not both")
	case !m.Suspect && m.Transformer == "":
		p := at(n)
		l.Add(file, p.Line, p.Col, "effect decides nothing: give transformer (one of %q) or suspect: true", names)
	case m.Transformer != "" && !slices.Contains(names, m.Transformer):
		add("transformer", "transformer %q is not one of %q", m.Transformer, names)
	}
	if len(m.Paths) > 0 && m.Transformer != "json" {
		add("paths", "paths are for JSON columns: give them with transformer: json")
	}
	for _, p := range sortedKeys(m.Paths) {
		pos := at(yamlsrc.Key(yamlsrc.Get(n, "paths"), p))
		if !ValidJSONPath(p) {
			l.Add(file, pos.Line, pos.Col, "path %q is not a JSON path such as $.contact.email or $.phones[*]", p)
		}
		if t := m.Paths[p]; t == "json" || !slices.Contains(names, t) {
			l.Add(file, pos.Line, pos.Col, "path %q: transformer %q is not one of %q (json excluded)", p, t, names)
		}
	}
	return e
}

// MaskDecision is what the mask rules decided for one column or JSON path.
type MaskDecision struct {
	Transformer string
	Paths       map[string]string
	Suspect     bool
	// Rule is the rule that decided, nil when none did (the column is kept).
	Rule *Rule
}

// RuleID is the deciding rule's id, or "default" when no rule fired.
func (d *MaskDecision) RuleID() string {
	if d.Rule == nil {
		return "default"
	}
	return d.Rule.ID
}

// ApplyMask evaluates the column rules for one column (or JSON path) of
// change: the first rule, in file order, whose when holds decides. With none,
// the column is kept.
func (s *Set) ApplyMask(c *workspace.Change, col *workspace.MaskColumn) (*MaskDecision, []workspace.Fired, error) {
	vars := map[string]any{"change": c, "column": col}
	for _, r := range s.Rules(Mask, "") {
		ok, err := r.Eval(vars)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		e := r.Effect.Mask
		d := &MaskDecision{Transformer: e.Transformer, Paths: e.Paths, Suspect: e.Suspect, Rule: r}
		if d.Suspect {
			d.Transformer = "keep"
		}
		return d, []workspace.Fired{{ID: r.ID, Message: message(r)}}, nil
	}
	return &MaskDecision{Transformer: "keep"}, nil, nil
}

// MaskTableDecision is what the table rules decided for one table: each of
// Subset and Rows by the first rule that gives it.
type MaskTableDecision struct {
	Subset     *SubsetEffect
	SubsetRule *Rule
	Rows       int64
	RowsRule   *Rule
}

// ApplyMaskTable evaluates the table rules for one table.
func (s *Set) ApplyMaskTable(c *workspace.Change, t *workspace.MaskTable) (*MaskTableDecision, []workspace.Fired, error) {
	d := &MaskTableDecision{}
	var fired []workspace.Fired
	vars := map[string]any{"change": c, "table": t}
	for _, r := range s.Rules(Mask, MaskTableScope) {
		e := r.Effect.Mask
		wantsSubset := e.Subset != nil && d.SubsetRule == nil
		wantsRows := e.Rows > 0 && d.RowsRule == nil
		if !wantsSubset && !wantsRows {
			continue
		}
		ok, err := r.Eval(vars)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if wantsSubset {
			d.Subset, d.SubsetRule = e.Subset, r
		}
		if wantsRows {
			d.Rows, d.RowsRule = e.Rows, r
		}
		fired = append(fired, workspace.Fired{ID: r.ID, Message: message(r)})
	}
	return d, fired, nil
}

func testMask(set *Set, vars map[string]any) ([]workspace.Fired, map[string]string, error) {
	c, _ := vars["change"].(*workspace.Change)
	if t, ok := vars["table"].(*workspace.MaskTable); ok && t != nil {
		d, fired, err := set.ApplyMaskTable(c, t)
		if err != nil {
			return nil, nil, err
		}
		v := map[string]string{"rows": strconv.FormatInt(d.Rows, 10)}
		if s := d.Subset; s != nil {
			v["subset.where"] = s.Where
			v["subset.limit"] = strconv.FormatInt(s.Limit, 10)
			v["subset.percent"] = strconv.FormatFloat(s.Percent, 'g', -1, 64)
		}
		return fired, v, nil
	}
	col, _ := vars["column"].(*workspace.MaskColumn)
	d, fired, err := set.ApplyMask(c, col)
	if err != nil {
		return nil, nil, err
	}
	v := map[string]string{"transformer": d.Transformer, "suspect": strconv.FormatBool(d.Suspect)}
	for p, t := range d.Paths {
		v["paths."+p] = t
	}
	return fired, v, nil
}

// ColumnRef is a table, and possibly a column, that a mask rule's `when`
// requires by equality (column.table == 'x' && column.name == 'y'), so the
// mask step can report a rule about a table or column the schema lacks.
type ColumnRef struct {
	Rule   *Rule
	Table  string
	Column string // empty when the rule pins only the table
}

// MaskColumnRefs lists the tables and columns that mask rules pin by
// equality in the top-level conjunction of their `when`.
func (s *Set) MaskColumnRefs() ([]ColumnRef, error) {
	env, err := cel.NewEnv()
	if err != nil {
		return nil, err
	}
	var out []ColumnRef
	for _, scope := range []string{"", MaskTableScope} {
		variable := "column"
		if scope == MaskTableScope {
			variable = "table"
		}
		for _, r := range s.Rules(Mask, scope) {
			ast, iss := env.Parse(r.When)
			if iss != nil && iss.Err() != nil {
				continue // compiled once already; cannot happen
			}
			pinned := map[string]string{}
			for _, term := range conjuncts(ast.NativeRep().Expr()) {
				if f, v, ok := fieldEquals(term, variable); ok {
					pinned[f] = v
				}
			}
			table := pinned["table"]
			if scope == MaskTableScope {
				table = pinned["name"]
			}
			if table == "" {
				continue
			}
			ref := ColumnRef{Rule: r, Table: table}
			if scope == "" {
				ref.Column = pinned["name"]
			}
			out = append(out, ref)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule.Line < out[j].Rule.Line })
	return out, nil
}

func conjuncts(e celast.Expr) []celast.Expr {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		var out []celast.Expr
		for _, a := range e.AsCall().Args() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []celast.Expr{e}
}

// fieldEquals matches `<variable>.<field> == 'literal'` (either way round).
func fieldEquals(e celast.Expr, variable string) (string, string, bool) {
	if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != operators.Equals {
		return "", "", false
	}
	args := e.AsCall().Args()
	if len(args) != 2 {
		return "", "", false
	}
	for _, pair := range [][2]celast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
		sel, lit := pair[0], pair[1]
		if sel.Kind() != celast.SelectKind || lit.Kind() != celast.LiteralKind {
			continue
		}
		op := sel.AsSelect().Operand()
		if op.Kind() != celast.IdentKind || op.AsIdent() != variable {
			continue
		}
		if s, ok := lit.AsLiteral().(types.String); ok {
			return sel.AsSelect().FieldName(), string(s), true
		}
	}
	return "", "", false
}

// String renders a decision for messages.
func (d *MaskDecision) String() string {
	return fmt.Sprintf("%s (rule %s)", d.Transformer, d.RuleID())
}
