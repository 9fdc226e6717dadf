package mask

import (
	"fmt"
	"os"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// OverridesKind is the kind of an overrides file.
const OverridesKind = "mask-overrides"

// Overrides is an annotation file: decisions for named columns and tables
// that win over the rules. Example:
//
//	apiVersion: rehearsal.dev/v1
//	kind: mask-overrides
//	columns:
//	  - {table: customers, column: notes, transformer: keep}
//	  - {table: customers, column: profile, transformer: json, paths: {$.contact.email: email}}
//	tables:
//	  - {table: audit_log, skip: true}
//	  - {table: customers, subset: {where: "region = 'eu'", limit: 1000}}
//	  - {table: orders, rows: 500}
type Overrides struct {
	File    string
	Columns []*ColumnOverride
	Tables  []*TableOverride
}

// ColumnOverride decides one column.
type ColumnOverride struct {
	Table       string            `yaml:"table"`
	Column      string            `yaml:"column"`
	Transformer string            `yaml:"transformer"`
	Paths       map[string]string `yaml:"paths"`
	Line, Col   int               `yaml:"-"`
}

// TableOverride decides one table.
type TableOverride struct {
	Table     string              `yaml:"table"`
	Skip      bool                `yaml:"skip"`
	Subset    *rules.SubsetEffect `yaml:"subset"`
	Rows      int64               `yaml:"rows"`
	Line, Col int                 `yaml:"-"`
}

// where returns "file:line" for rule ids in dataset.json.
func (o *Overrides) where(line int) string { return fmt.Sprintf("override:%s:%d", o.File, line) }

// LoadOverrides reads and checks an overrides file; every problem is
// reported at its file:line:col. Whether the tables and columns exist is
// checked against the schema later.
func LoadOverrides(path string) (*Overrides, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	doc, err := yamlsrc.Parse(path, data)
	if err != nil {
		return nil, err
	}
	var raw struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Columns    []*ColumnOverride `yaml:"columns"`
		Tables     []*TableOverride  `yaml:"tables"`
	}
	if err := doc.Decode(&raw); err != nil {
		return nil, err
	}
	var l diag.List
	at := func(n *yaml.Node) yamlsrc.Pos { return yamlsrc.At(n, doc.Root) }
	if raw.APIVersion != rules.APIVersion {
		p := at(yamlsrc.Get(doc.Root, "apiVersion"))
		l.Add(path, p.Line, p.Col, "apiVersion must be %q, got %q", rules.APIVersion, raw.APIVersion)
	}
	if raw.Kind != OverridesKind {
		p := at(yamlsrc.Get(doc.Root, "kind"))
		l.Add(path, p.Line, p.Col, "kind must be %q, got %q", OverridesKind, raw.Kind)
	}
	names := transform.Names()
	o := &Overrides{File: path, Columns: raw.Columns, Tables: raw.Tables}
	for i, n := range yamlsrc.Items(yamlsrc.Get(doc.Root, "columns")) {
		c := raw.Columns[i]
		c.Line, c.Col = n.Line, n.Column
		if tn := yamlsrc.Get(n, "transformer"); tn != nil && tn.Tag == "!!null" && tn.Value == "null" {
			c.Transformer = "null"
		}
		add := func(key, format string, args ...any) {
			node := yamlsrc.Get(n, key)
			if node == nil {
				node = n
			}
			p := at(node)
			l.Add(path, p.Line, p.Col, format, args...)
		}
		if c.Table == "" || c.Column == "" {
			add("", "column override needs table and column")
		}
		switch {
		case c.Transformer == "" && len(c.Paths) > 0:
			c.Transformer = "json"
		case c.Transformer == "":
			add("", "column override %s.%s decides nothing: give transformer (one of %q)", c.Table, c.Column, names)
		case !slices.Contains(names, c.Transformer):
			add("transformer", "transformer %q is not one of %q", c.Transformer, names)
		}
		if len(c.Paths) > 0 && c.Transformer != "json" {
			add("paths", "paths are for JSON columns: give them with transformer: json")
		}
		for p, t := range c.Paths {
			pos := at(yamlsrc.Key(yamlsrc.Get(n, "paths"), p))
			if !rules.ValidJSONPath(p) {
				l.Add(path, pos.Line, pos.Col, "path %q is not a JSON path such as $.contact.email or $.phones[*]", p)
			}
			if t == "json" || !slices.Contains(names, t) {
				l.Add(path, pos.Line, pos.Col, "path %q: transformer %q is not one of %q (json excluded)", p, t, names)
			}
		}
	}
	for i, n := range yamlsrc.Items(yamlsrc.Get(doc.Root, "tables")) {
		t := raw.Tables[i]
		t.Line, t.Col = n.Line, n.Column
		p := at(n)
		if t.Table == "" {
			l.Add(path, p.Line, p.Col, "table override needs table")
		}
		if !t.Skip && t.Subset == nil && t.Rows == 0 {
			l.Add(path, p.Line, p.Col, "table override %s decides nothing: give skip, subset or rows", t.Table)
		}
		if s := t.Subset; s != nil {
			ps := at(yamlsrc.Get(n, "subset"))
			if s.Where == "" && s.Limit <= 0 && s.Percent <= 0 {
				l.Add(path, ps.Line, ps.Col, "subset chooses nothing: give where, limit or percent")
			}
			if s.Limit < 0 || s.Percent < 0 || s.Percent > 100 || (s.Limit > 0 && s.Percent > 0) {
				l.Add(path, ps.Line, ps.Col, "subset takes a positive limit or a percent between 0 and 100, not both")
			}
		}
		if t.Rows < 0 {
			l.Add(path, p.Line, p.Col, "rows %d must be positive", t.Rows)
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Overrides) column(table, column string) *ColumnOverride {
	if o == nil {
		return nil
	}
	for _, c := range o.Columns {
		if c.Table == table && c.Column == column {
			return c
		}
	}
	return nil
}

func (o *Overrides) table(name string) *TableOverride {
	if o == nil {
		return nil
	}
	for _, t := range o.Tables {
		if t.Table == name {
			return t
		}
	}
	return nil
}
