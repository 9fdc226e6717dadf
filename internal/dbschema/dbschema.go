// Package dbschema reads a MySQL or MariaDB schema through information_schema:
// tables, columns with their types, nullability and keys, primary and unique
// keys, foreign keys (composite and self-referencing ones included),
// generated columns, JSON columns and views.
package dbschema

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Schema is one database schema.
type Schema struct {
	Name   string
	Tables []*Table // base tables, by name
	Views  []string // views, by name
}

// Table is a base table.
type Table struct {
	Name    string
	Columns []*Column // in ordinal order
	// PrimaryKey lists the primary key's columns in key order; empty when
	// the table has none.
	PrimaryKey []string
	// Uniques are the other unique keys.
	Uniques     [][]string
	ForeignKeys []*ForeignKey
	// CreateSQL is SHOW CREATE TABLE's statement.
	CreateSQL string
}

// Column is a table column.
type Column struct {
	Name     string
	Type     string // column_type: varchar(255), int(11), …
	DataType string // data_type, lower case; json for JSON columns on every server
	Nullable bool
	Key      string // PRI, UNI, MUL or ""
	Length   int64  // character_maximum_length, 0 when not textual
	// Generated is set for columns the server computes.
	Generated     bool
	AutoIncrement bool
	Comment       string
}

// ForeignKey is a foreign key constraint.
type ForeignKey struct {
	Name       string
	Table      string
	Columns    []string
	RefSchema  string
	RefTable   string
	RefColumns []string
}

// Table returns the table named name, or nil.
func (s *Schema) Table(name string) *Table {
	for _, t := range s.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Column returns the column named name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ColumnNames returns the names of the columns.
func (t *Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Unique reports whether the column alone is a unique key (or the primary key).
func (t *Table) Unique(col string) bool {
	if len(t.PrimaryKey) == 1 && t.PrimaryKey[0] == col {
		return true
	}
	for _, u := range t.Uniques {
		if len(u) == 1 && u[0] == col {
			return true
		}
	}
	return false
}

// RowKey returns the columns that identify a row: the primary key, or else
// the first unique key whose columns are all NOT NULL; nil when neither exists.
func (t *Table) RowKey() []string {
	if len(t.PrimaryKey) > 0 {
		return t.PrimaryKey
	}
	for _, u := range t.Uniques {
		ok := true
		for _, c := range u {
			if col := t.Column(c); col == nil || col.Nullable {
				ok = false
			}
		}
		if ok {
			return u
		}
	}
	return nil
}

// Inspect reads schema name from db.
func Inspect(ctx context.Context, db *sql.DB, name string) (*Schema, error) {
	s := &Schema{Name: name}
	byName := map[string]*Table{}
	rows, err := db.QueryContext(ctx, `SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", name, err)
	}
	err = scanAll(rows, func(r *sql.Rows) error {
		var tn, tt string
		if err := r.Scan(&tn, &tt); err != nil {
			return err
		}
		if strings.Contains(strings.ToUpper(tt), "VIEW") {
			s.Views = append(s.Views, tn)
			return nil
		}
		t := &Table{Name: tn}
		byName[tn] = t
		s.Tables = append(s.Tables, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", name, err)
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Name < s.Tables[j].Name })
	sort.Strings(s.Views)

	rows, err = db.QueryContext(ctx, `SELECT table_name, column_name, column_type, data_type, is_nullable, column_key, extra,
		COALESCE(generation_expression, ''), COALESCE(character_maximum_length, 0), COALESCE(column_comment, '')
		FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position`, name)
	if err != nil {
		return nil, fmt.Errorf("list columns of %s: %w", name, err)
	}
	err = scanAll(rows, func(r *sql.Rows) error {
		var tn, extra, nullable, gen string
		c := &Column{}
		if err := r.Scan(&tn, &c.Name, &c.Type, &c.DataType, &nullable, &c.Key, &extra, &gen, &c.Length, &c.Comment); err != nil {
			return err
		}
		t := byName[tn]
		if t == nil {
			return nil // a view's column
		}
		c.DataType = strings.ToLower(c.DataType)
		c.Type = strings.ToLower(c.Type)
		c.Nullable = nullable == "YES"
		ex := strings.ToUpper(extra)
		c.Generated = strings.Contains(ex, "GENERATED") || strings.TrimSpace(gen) != ""
		c.AutoIncrement = strings.Contains(ex, "AUTO_INCREMENT")
		if c.Length > 1<<32 {
			c.Length = 1 << 32
		}
		t.Columns = append(t.Columns, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list columns of %s: %w", name, err)
	}

	rows, err = db.QueryContext(ctx, `SELECT constraint_name, table_name, column_name,
		COALESCE(referenced_table_schema, ''), COALESCE(referenced_table_name, ''), COALESCE(referenced_column_name, '')
		FROM information_schema.key_column_usage WHERE table_schema = ? ORDER BY table_name, constraint_name, ordinal_position`, name)
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", name, err)
	}
	fks := map[string]*ForeignKey{}
	err = scanAll(rows, func(r *sql.Rows) error {
		var cn, tn, col, rs, rt, rc string
		if err := r.Scan(&cn, &tn, &col, &rs, &rt, &rc); err != nil {
			return err
		}
		t := byName[tn]
		if t == nil {
			return nil
		}
		switch {
		case cn == "PRIMARY":
			t.PrimaryKey = append(t.PrimaryKey, col)
		case rt != "":
			fk := fks[tn+"\x00"+cn]
			if fk == nil {
				fk = &ForeignKey{Name: cn, Table: tn, RefSchema: rs, RefTable: rt}
				fks[tn+"\x00"+cn] = fk
				t.ForeignKeys = append(t.ForeignKeys, fk)
			}
			fk.Columns = append(fk.Columns, col)
			fk.RefColumns = append(fk.RefColumns, rc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", name, err)
	}

	rows, err = db.QueryContext(ctx, `SELECT table_name, index_name, column_name FROM information_schema.statistics
		WHERE table_schema = ? AND non_unique = 0 AND index_name <> 'PRIMARY' ORDER BY table_name, index_name, seq_in_index`, name)
	if err != nil {
		return nil, fmt.Errorf("list unique keys of %s: %w", name, err)
	}
	uniq := map[string]int{}
	err = scanAll(rows, func(r *sql.Rows) error {
		var tn, in, col string
		if err := r.Scan(&tn, &in, &col); err != nil {
			return err
		}
		t := byName[tn]
		if t == nil {
			return nil
		}
		k := tn + "\x00" + in
		i, ok := uniq[k]
		if !ok {
			i = len(t.Uniques)
			uniq[k] = i
			t.Uniques = append(t.Uniques, nil)
		}
		t.Uniques[i] = append(t.Uniques[i], col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list unique keys of %s: %w", name, err)
	}

	for _, t := range s.Tables {
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+Quote(name)+"."+Quote(t.Name)).Scan(new(string), &t.CreateSQL); err != nil {
			return nil, fmt.Errorf("show create table %s.%s: %w", name, t.Name, err)
		}
		markFromDDL(t)
		sort.Slice(t.ForeignKeys, func(i, j int) bool { return t.ForeignKeys[i].Name < t.ForeignKeys[j].Name })
	}
	return s, nil
}

var (
	generatedRe = regexp.MustCompile("(?i)^\\s*`([^`]+)`.*\\s(GENERATED ALWAYS AS|AS \\().*\\b(VIRTUAL|STORED|PERSISTENT)\\b")
	jsonCheckRe = regexp.MustCompile("(?i)CHECK\\s*\\(\\s*json_valid\\(`([^`]+)`\\)\\s*\\)")
)

// markFromDDL completes what some servers leave out of information_schema:
// generated columns (the embedded server does not report them) and JSON
// columns (MariaDB stores them as longtext with a json_valid check).
func markFromDDL(t *Table) {
	for _, line := range strings.Split(t.CreateSQL, "\n") {
		if m := generatedRe.FindStringSubmatch(line); m != nil {
			if c := t.Column(m[1]); c != nil {
				c.Generated = true
			}
		}
		for _, m := range jsonCheckRe.FindAllStringSubmatch(line, -1) {
			if c := t.Column(m[1]); c != nil {
				c.DataType = "json"
			}
		}
	}
}

func scanAll(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Quote quotes an identifier with backticks.
func Quote(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

// QuoteList quotes and joins identifiers.
func QuoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = Quote(id)
	}
	return strings.Join(q, ", ")
}

// Order returns the tables with every referenced table before the tables
// that reference it, ties by name. Self-references are ignored; a cycle
// between tables is broken at its first table by name.
func (s *Schema) Order() []*Table {
	deps := map[string][]string{}
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if fk.RefTable != t.Name && s.Table(fk.RefTable) != nil {
				deps[t.Name] = append(deps[t.Name], fk.RefTable)
			}
		}
	}
	var out []*Table
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t *Table)
	visit = func(t *Table) {
		if state[t.Name] != 0 {
			return
		}
		state[t.Name] = 1
		ds := append([]string(nil), deps[t.Name]...)
		sort.Strings(ds)
		for _, d := range ds {
			if state[d] == 0 {
				visit(s.Table(d))
			}
		}
		state[t.Name] = 2
		out = append(out, t)
	}
	for _, t := range s.Tables {
		visit(t)
	}
	return out
}
