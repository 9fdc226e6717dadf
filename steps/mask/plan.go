package mask

import (
	"context"
	"database/sql"
	"encoding/json/jsontext"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/pii"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// MetaTable is the table mask adds to every target it builds: what made it,
// when, and when it expires (`mask --gc` reads it). Its presence is also how
// mask knows it may replace a schema.
const MetaTable = "rehearsal_dataset"

// tablePlan is what happens to one table.
type tablePlan struct {
	t    *dbschema.Table
	cols []*colPlan // every column, in order
	load []*colPlan // the columns read and loaded (not generated)
	key  []string   // the row key (ORDER BY)
	// subset: the root choice of this table, and after closure the keys of
	// the rows to copy (nil: every row).
	root       *rules.SubsetEffect
	rootRule   string
	keys       map[string]struct{}
	pulled     bool // rows pulled in by foreign keys
	rows       int64
	rowsRule   string
	sourceRows int64
	rowCount   int64 // COUNT(*) of the source table
	sent       int64 // rows sent to staging
	targetRows int64
	synthetic  bool
	digest     string
	workers    int // transform goroutines the load ended with (logged only: it depends on timing)
}

// colPlan is what happens to one column.
type colPlan struct {
	c      *dbschema.Column
	tcol   transform.Column
	class  transform.Class
	tr     transform.Transformer // nil: kept
	name   string                // transformer name (keep, null, json, generated, …)
	rule   string
	unique bool // part of a unique key
	claim  bool // transformed part of a unique key: its fakes are kept unique
	json   *jsonPlan
	bit    bool
	decRef *rules.Rule
	ovLine int // overrides line and column, 0 when not overridden
	ovCol  int
}

func (c *colPlan) identifying() bool { return c.tr != nil && c.tr.Identifying() }

// jsonPlan is what happens to the values nested in one JSON column.
type jsonPlan struct {
	mu     sync.Mutex
	leaves map[string]*leafPlan
	decide func(l leaf) (*leafPlan, error)
}

type leafPlan struct {
	path string
	name string
	tr   transform.Transformer // nil: kept
	tn   string
	rule string
	col  transform.Column
}

func (j *jsonPlan) get(l leaf) (*leafPlan, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p, ok := j.leaves[l.Path]; ok {
		return p, nil
	}
	p, err := j.decide(l)
	if err != nil {
		return nil, err
	}
	j.leaves[l.Path] = p
	return p, nil
}

func (j *jsonPlan) paths() []workspace.DatasetPath {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []workspace.DatasetPath
	for _, p := range j.leaves {
		out = append(out, workspace.DatasetPath{Path: p.path, Transformer: p.tn, Rule: p.rule})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out
}

var classNames = map[transform.Class]string{
	transform.Text: "text", transform.Number: "number", transform.Temporal: "temporal",
	transform.Binary: "binary", transform.JSON: "json", transform.Enum: "enum", transform.Unsupported: "unsupported",
}

// planner classifies the columns of a schema.
type planner struct {
	mu        sync.Mutex
	rules     *rules.Set
	change    *workspace.Change
	reg       *transform.Registry
	over      *Overrides
	identity  bool
	problems  diag.List
	fired     map[string]int
	messages  map[string]string
	suspects  []workspace.Suspect
	notes     []string
	sampleSQL func(t *tablePlan, cols []*colPlan) ([][][]byte, int64, error)
}

func (p *planner) fire(r *rules.Rule) {
	if r == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fired[r.ID]++
	msg := r.Effect.Message
	if msg == "" {
		msg = r.Description
	}
	p.messages[r.ID] = msg
}

// firedRules lists the rules that decided something, in rule order.
func (p *planner) firedRules() []workspace.Fired {
	var out []workspace.Fired
	for _, scope := range []string{"", rules.MaskTableScope} {
		for _, r := range p.rules.Rules(rules.Mask, scope) {
			if n := p.fired[r.ID]; n > 0 {
				out = append(out, workspace.Fired{ID: r.ID, Message: fmt.Sprintf("%s (%d)", p.messages[r.ID], n)})
			}
		}
	}
	return out
}

func (p *planner) problem(format string, args ...any) {
	p.problems = append(p.problems, diag.Problem{Msg: fmt.Sprintf(format, args...)})
}

func (p *planner) problemAt(r *rules.Rule, format string, args ...any) {
	if r == nil {
		p.problem(format, args...)
		return
	}
	p.problems.Add(r.File, r.Line, r.Col, "rule %s: "+format, append([]any{r.ID}, args...)...)
}

func (p *planner) problemOver(line, col int, format string, args ...any) {
	p.problems.Add(p.over.File, line, col, format, args...)
}

// checkSchema reports what mask cannot work with: tables without a row key,
// foreign keys to missing tables or other schemas, unknown tables and
// columns named by overrides or rules.
func (p *planner) checkSchema(s *dbschema.Schema) {
	for _, t := range s.Tables {
		if ov := p.over.table(t.Name); ov != nil && ov.Skip {
			continue
		}
		if t.Name == MetaTable {
			continue
		}
		if t.RowKey() == nil {
			p.problem("%s.%s has no primary key (nor a unique key over NOT NULL columns): its rows cannot be ordered, subset or compared deterministically; add a primary key, or skip the table with an override {table: %s, skip: true}", s.Name, t.Name, t.Name)
		}
		for _, fk := range t.ForeignKeys {
			switch {
			case fk.RefSchema != "" && fk.RefSchema != s.Name:
				p.problem("%s.%s: foreign key %s references %s.%s in another schema; mask copies one schema", s.Name, t.Name, fk.Name, fk.RefSchema, fk.RefTable)
			case s.Table(fk.RefTable) == nil:
				p.problem("%s.%s: foreign key %s references table %s, which does not exist", s.Name, t.Name, fk.Name, fk.RefTable)
			default:
				ref := s.Table(fk.RefTable)
				if ov := p.over.table(ref.Name); ov != nil && ov.Skip {
					p.problem("%s.%s: foreign key %s references %s, which the overrides skip", s.Name, t.Name, fk.Name, ref.Name)
				}
				for _, rc := range fk.RefColumns {
					if ref.Column(rc) == nil {
						p.problem("%s.%s: foreign key %s references column %s.%s, which does not exist", s.Name, t.Name, fk.Name, fk.RefTable, rc)
					}
				}
			}
		}
	}
	if p.over != nil {
		for _, c := range p.over.Columns {
			t := s.Table(c.Table)
			switch {
			case t == nil:
				p.problemOver(c.Line, c.Col, "unknown table %s (the schema has %s)", c.Table, strings.Join(tableNames(s), ", "))
			case t.Column(c.Column) == nil:
				p.problemOver(c.Line, c.Col, "unknown column %s.%s (the table has %s)", c.Table, c.Column, strings.Join(t.ColumnNames(), ", "))
			}
		}
		for _, o := range p.over.Tables {
			if s.Table(o.Table) == nil {
				p.problemOver(o.Line, o.Col, "unknown table %s (the schema has %s)", o.Table, strings.Join(tableNames(s), ", "))
			}
		}
	}
	refs, err := p.rules.MaskColumnRefs()
	if err != nil {
		p.problem("%v", err)
		return
	}
	for _, ref := range refs {
		t := s.Table(ref.Table)
		switch {
		case t == nil:
			p.problemAt(ref.Rule, "names table %s, which schema %s does not have (it has %s)", ref.Table, s.Name, strings.Join(tableNames(s), ", "))
		case ref.Column != "" && t.Column(ref.Column) == nil:
			p.problemAt(ref.Rule, "names column %s.%s, which does not exist (the table has %s)", ref.Table, ref.Column, strings.Join(t.ColumnNames(), ", "))
		}
	}
}

func tableNames(s *dbschema.Schema) []string {
	var out []string
	for _, t := range s.Tables {
		out = append(out, t.Name)
	}
	return out
}

// planTable classifies one table's columns.
func (p *planner) planTable(ctx context.Context, s *dbschema.Schema, t *dbschema.Table, synthetic bool) (*tablePlan, error) {
	tp := &tablePlan{t: t, key: t.RowKey()}
	referenced := map[string]bool{}
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			referenced[c] = true
		}
	}
	uniq := map[string]bool{}
	for _, u := range t.Uniques {
		for _, c := range u {
			uniq[c] = true
		}
	}
	for _, c := range t.PrimaryKey {
		uniq[c] = true
	}
	for _, c := range t.Columns {
		cp := &colPlan{c: c, class: transform.ClassOf(c.DataType), tcol: transform.Column{DataType: c.DataType, Length: c.Length}}
		cp.bit = c.DataType == "bit"
		cp.unique = uniq[c.Name]
		tp.cols = append(tp.cols, cp)
		if !c.Generated {
			tp.load = append(tp.load, cp)
		}
	}
	// Sample the columns rules may want to read.
	samples := map[*colPlan][][]byte{}
	var sampled int64
	if !synthetic && p.sampleSQL != nil {
		var want []*colPlan
		for _, cp := range tp.load {
			if cp.class == transform.Text || cp.class == transform.JSON || cp.class == transform.Number {
				want = append(want, cp)
			}
		}
		if len(want) > 0 {
			vals, n, err := p.sampleSQL(tp, want)
			if err != nil {
				return nil, err
			}
			sampled = n
			for i, cp := range want {
				samples[cp] = vals[i]
			}
		}
	}
	for _, cp := range tp.cols {
		c := cp.c
		if c.Generated {
			cp.name, cp.rule = "generated", "generated"
			continue
		}
		mc := &workspace.MaskColumn{
			Table: t.Name, Name: c.Name, Type: c.Type, DataType: c.DataType, Kind: classNames[cp.class],
			Length: c.Length, Nullable: c.Nullable, Key: c.Key, PrimaryKey: contains(t.PrimaryKey, c.Name),
			Unique: t.Unique(c.Name), ForeignKey: referenced[c.Name], Comment: c.Comment,
		}
		if cp.class != transform.JSON {
			mc.Sample = pii.Measure(sampled, samples[cp])
		}
		d, _, err := p.rules.ApplyMask(p.change, mc)
		if err != nil {
			return nil, exitcode.Input(err)
		}
		name, rule, ruleRef := d.Transformer, d.RuleID(), d.Rule
		paths := d.Paths
		if ov := p.over.column(t.Name, c.Name); ov != nil {
			name, rule, ruleRef, paths = ov.Transformer, p.over.where(ov.Line), nil, ov.Paths
			cp.ovLine, cp.ovCol = ov.Line, ov.Col
		} else {
			p.fire(d.Rule)
			if d.Suspect {
				p.suspects = append(p.suspects, workspace.Suspect{Table: t.Name, Column: c.Name, Rule: d.RuleID(), Reason: ruleMessage(d.Rule)})
			}
		}
		if p.identity {
			name, rule, ruleRef, paths = "keep", "identity", nil, nil
		}
		cp.name, cp.rule, cp.decRef = name, rule, ruleRef
		if err := p.bind(t, cp, paths, samples[cp], sampled); err != nil {
			return nil, err
		}
	}
	return tp, nil
}

func ruleMessage(r *rules.Rule) string {
	if r == nil {
		return ""
	}
	if r.Effect.Message != "" {
		return r.Effect.Message
	}
	return r.Description
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bind resolves a column's transformer and checks it can write the column.
func (p *planner) bind(t *dbschema.Table, cp *colPlan, paths map[string]string, sample [][]byte, sampled int64) error {
	c := cp.c
	where := func(format string, args ...any) {
		msg := fmt.Sprintf("%s.%s (%s): ", t.Name, c.Name, c.Type) + fmt.Sprintf(format, args...)
		if cp.ovLine > 0 {
			p.problemOver(cp.ovLine, cp.ovCol, "%s", msg)
			return
		}
		p.problemAt(cp.decRef, "%s", msg)
	}
	if cp.class == transform.Unsupported && cp.name != "null" {
		where("type %s is not supported (mask copies text, numbers, dates, JSON, enums and binary data); null the column or skip the table with an override", c.DataType)
		return nil
	}
	tr, ok := p.reg.Get(cp.name)
	if !ok {
		where("unknown transformer %q", cp.name)
		return nil
	}
	switch cp.name {
	case "keep":
		return nil
	case "null":
		if !c.Nullable {
			where("null cannot write a NOT NULL column")
		}
		cp.tr = tr
		return nil
	case "json":
		if cp.class != transform.JSON && cp.class != transform.Text {
			where("json cannot walk a %s column", c.DataType)
			return nil
		}
		cp.tr = tr
		return p.bindJSON(t, cp, paths, sample, sampled)
	}
	if cp.class == transform.Enum {
		where("%s cannot write an enum column; keep or null it", cp.name)
		return nil
	}
	if !tr.Accepts(cp.tcol) {
		where("%s cannot write %s columns", cp.name, c.DataType)
		return nil
	}
	cp.tr = tr
	return nil
}

// bindJSON classifies the sampled paths of a JSON column with the same rules
// (a path is a column named after its key) and prepares the decision for
// paths the sample did not show.
func (p *planner) bindJSON(t *dbschema.Table, cp *colPlan, explicit map[string]string, sample [][]byte, sampled int64) error {
	byPath := map[string][][]byte{}
	first := map[string]leaf{}
	var order []string
	for _, doc := range sample {
		_, err := rewriteJSON(nil, doc, func(l leaf) (jsontext.Value, error) {
			if _, ok := first[l.Path]; !ok {
				first[l.Path] = l
				order = append(order, l.Path)
			}
			if l.Kind == '"' || l.Kind == '0' {
				byPath[l.Path] = append(byPath[l.Path], leafText(l))
			}
			return nil, nil
		})
		if err != nil {
			p.notes = append(p.notes, fmt.Sprintf("%s.%s: a sampled value is not valid JSON (%v); such values are written as they are", t.Name, cp.c.Name, err))
		}
	}
	decide := func(l leaf, stats *workspace.MaskSample) (*leafPlan, error) {
		lp := &leafPlan{path: l.Path, name: l.Name, tn: "keep", rule: "default"}
		dt := leafDataType(l.Kind)
		lp.col = transform.Column{DataType: dt}
		if tn, ok := explicit[l.Path]; ok {
			lp.tn, lp.rule = tn, "paths"
			if cp.ovLine > 0 {
				lp.rule = p.over.where(cp.ovLine)
			} else if cp.decRef != nil {
				lp.rule = cp.decRef.ID
			}
		} else if dt == "string" || dt == "number" {
			mc := &workspace.MaskColumn{Table: t.Name, Name: l.Name, Path: l.Path, Type: "json", DataType: dt,
				Kind: classNames[transform.ClassOf(dt)], Nullable: true}
			if stats != nil {
				mc.Sample = *stats
			}
			d, _, err := p.rules.ApplyMask(p.change, mc)
			if err != nil {
				return nil, exitcode.Input(err)
			}
			if d.Transformer != "json" && !d.Suspect {
				lp.tn, lp.rule = d.Transformer, d.RuleID()
				p.fire(d.Rule)
			}
		}
		if lp.tn != "keep" {
			tr, ok := p.reg.Get(lp.tn)
			if !ok || !tr.Accepts(lp.col) {
				return nil, exitcode.Inputf("%s.%s %s: %s cannot write a JSON %s (rule %s)", t.Name, cp.c.Name, l.Path, lp.tn, dt, lp.rule)
			}
			lp.tr = tr
		}
		return lp, nil
	}
	jp := &jsonPlan{leaves: map[string]*leafPlan{}}
	for _, path := range order {
		st := pii.Measure(sampled, byPath[path])
		lp, err := decide(first[path], &st)
		if err != nil {
			return err
		}
		jp.leaves[path] = lp
	}
	jp.decide = func(l leaf) (*leafPlan, error) { return decide(l, nil) }
	cp.json = jp
	return nil
}

// followForeignKeys makes every foreign-key column take the transformer of
// the column it references, so relationships survive masking (the same
// original gives the same fake).
func followForeignKeys(plans map[string]*tablePlan) []string {
	var notes []string
	names := make([]string, 0, len(plans))
	for n := range plans {
		names = append(names, n)
	}
	sort.Strings(names)
	for changed := true; changed; {
		changed = false
		for _, n := range names {
			tp := plans[n]
			for _, fk := range tp.t.ForeignKeys {
				parent := plans[fk.RefTable]
				if parent == nil {
					continue
				}
				for i, col := range fk.Columns {
					cp, pp := tp.col(col), parent.col(fk.RefColumns[i])
					if cp == nil || pp == nil || cp.rule == "fk:"+fk.Name || (cp.name == pp.name && pp.name == "keep") {
						continue
					}
					if cp.name != "keep" && pp.name == "keep" {
						notes = append(notes, fmt.Sprintf("%s.%s follows %s.%s, which is kept (foreign key %s): its %s transformer is not applied", tp.t.Name, col, parent.t.Name, pp.c.Name, fk.Name, cp.name))
					}
					cp.name, cp.tr, cp.rule, cp.json = pp.name, pp.tr, "fk:"+fk.Name, nil
					changed = true
				}
			}
		}
	}
	return notes
}

func (tp *tablePlan) col(name string) *colPlan {
	for _, c := range tp.cols {
		if c.c.Name == name {
			return c
		}
	}
	return nil
}

// sampleRows reads the first rows of a table in key order.
func sampleRows(ctx context.Context, db queryer, schema string, tp *tablePlan, cols []*colPlan, limit int) ([][][]byte, int64, error) {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = selectExpr(c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s ORDER BY %s LIMIT %d", strings.Join(exprs, ", "),
		dbschema.Quote(schema), dbschema.Quote(tp.t.Name), dbschema.QuoteList(tp.key), limit)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("sample %s.%s: %w", schema, tp.t.Name, err)
	}
	defer rows.Close()
	out := make([][][]byte, len(cols))
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, fmt.Errorf("sample %s.%s: %w", schema, tp.t.Name, err)
		}
		n++
		for i, v := range raw {
			if v != nil {
				out[i] = append(out[i], append([]byte(nil), v...))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sample %s.%s: %w", schema, tp.t.Name, err)
	}
	return out, n, nil
}

// selectExpr is how a column is read: BIT values as numbers.
func selectExpr(c *colPlan) string {
	if c.bit {
		return "CAST(" + dbschema.Quote(c.c.Name) + " AS UNSIGNED)"
	}
	return dbschema.Quote(c.c.Name)
}
