// Package sqlscan reads SQL migration files without a database: it splits a
// file into statements (comments, quoted text, `;` and MySQL `DELIMITER`
// handled), names each statement's operation and table, and says whether it can
// destroy data and why — DROP TABLE/DATABASE/SCHEMA, DROP COLUMN, DROP or
// TRUNCATE PARTITION, TRUNCATE, DELETE or UPDATE without WHERE, and column type
// changes that narrow (judged against a Schema built from earlier migrations;
// a type change whose previous type is unknown counts as destructive, because
// nothing proves it does not narrow).
//
// Dropping an index, key or constraint, renaming a table or column, and views
// are not counted as destructive: they lose no rows or values.
package sqlscan

import (
	"fmt"
	"strings"
)

// Statement is one statement of a migration file.
type Statement struct {
	// Line is the 1-based line of the statement's first token.
	Line int `json:"line"`
	// Op is the operation, upper-case: CREATE TABLE, ALTER TABLE, DROP TABLE,
	// CREATE INDEX, TRUNCATE, DELETE, UPDATE, RENAME TABLE, INSERT, … and for
	// anything else the statement's first keyword.
	Op string `json:"op"`
	// Table is the (first) table the statement acts on, as written, unquoted.
	Table       string `json:"table,omitempty"`
	Destructive bool   `json:"destructive"`
	// Reason says what is destroyed, when Destructive.
	Reason string `json:"reason,omitempty"`
	// Text is the statement with comments removed and white space collapsed,
	// cut to 240 bytes.
	Text string `json:"text"`
}

// Scan splits src into statements and judges each one. Column type changes
// are judged against schema, which Scan updates as it goes (CREATE, ALTER,
// DROP and RENAME TABLE), so that a later file sees the effect of an earlier
// one. A nil schema starts empty.
func Scan(src []byte, schema *Schema) []Statement {
	if schema == nil {
		schema = NewSchema()
	}
	raws := split(string(src))
	out := make([]Statement, 0, len(raws))
	for _, r := range raws {
		st := Statement{Line: r.line, Text: r.text}
		a := analyzer{toks: r.toks, schema: schema, st: &st}
		a.run()
		if len(a.reasons) > 0 {
			st.Destructive = true
			st.Reason = strings.Join(a.reasons, "; ")
		}
		out = append(out, st)
	}
	return out
}

type analyzer struct {
	toks    []token
	i       int
	schema  *Schema
	st      *Statement
	reasons []string
	// renamedTo is the table's new key after ALTER TABLE … RENAME TO.
	renamedTo string
}

func (a *analyzer) kw(off int) string {
	if a.i+off < len(a.toks) {
		return a.toks[a.i+off].upper()
	}
	return ""
}

// accept consumes the keywords in order when all of them come next.
func (a *analyzer) accept(words ...string) bool {
	for k, w := range words {
		if a.kw(k) != w {
			return false
		}
	}
	a.i += len(words)
	return true
}

func (a *analyzer) skipAny(words ...string) {
	for {
		found := false
		for _, w := range words {
			if a.kw(0) == w {
				a.i++
				found = true
			}
		}
		if !found {
			return
		}
	}
}

// name reads a possibly qualified name (a.b.c) and returns it as written and
// the last part lower-cased (the schema key).
func (a *analyzer) name() (string, string) {
	var parts []string
	for a.i < len(a.toks) {
		t := a.toks[a.i]
		if t.kind != tWord && t.kind != tIdent {
			break
		}
		parts = append(parts, t.text)
		a.i++
		if a.i < len(a.toks) && a.toks[a.i].kind == tPunct && a.toks[a.i].text == "." {
			a.i++
			continue
		}
		break
	}
	if len(parts) == 0 {
		return "", ""
	}
	return strings.Join(parts, "."), strings.ToLower(parts[len(parts)-1])
}

func (a *analyzer) destroy(format string, args ...any) {
	a.reasons = append(a.reasons, fmt.Sprintf(format, args...))
}

// hasTopLevel reports whether keyword w occurs outside parentheses from tok on.
func hasTopLevel(toks []token, from int, w string) bool {
	depth := 0
	for _, t := range toks[from:] {
		switch {
		case t.kind == tPunct && t.text == "(":
			depth++
		case t.kind == tPunct && t.text == ")":
			depth--
		case depth == 0 && t.upper() == w:
			return true
		}
	}
	return false
}

func (a *analyzer) run() {
	first := a.kw(0)
	switch first {
	case "CREATE":
		a.i++
		a.skipAny("OR", "REPLACE", "TEMPORARY", "TEMP", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE", "UNLOGGED", "GLOBAL", "LOCAL")
		switch {
		case a.accept("TABLE"):
			a.st.Op = "CREATE TABLE"
			a.accept("IF", "NOT", "EXISTS")
			table, key := a.name()
			a.st.Table = table
			a.createTable(key)
		case a.accept("INDEX"):
			a.st.Op = "CREATE INDEX"
			a.accept("CONCURRENTLY")
			a.accept("IF", "NOT", "EXISTS")
			if a.kw(0) != "ON" {
				a.name()
			}
			if a.accept("ON") {
				a.accept("ONLY")
				a.st.Table, _ = a.name()
			}
		default:
			a.st.Op = "CREATE " + a.kw(0)
			if a.kw(0) == "" {
				a.st.Op = "CREATE"
			}
		}
	case "ALTER":
		a.i++
		a.skipAny("ONLINE", "OFFLINE", "IGNORE")
		if !a.accept("TABLE") {
			a.st.Op = strings.TrimSpace("ALTER " + a.kw(0))
			return
		}
		a.st.Op = "ALTER TABLE"
		a.accept("IF", "EXISTS")
		a.accept("ONLY")
		table, key := a.name()
		a.st.Table = table
		a.alterTable(table, key)
	case "DROP":
		a.i++
		a.skipAny("TEMPORARY")
		what := a.kw(0)
		a.i++
		switch what {
		case "TABLE", "TABLES":
			a.st.Op = "DROP TABLE"
			a.accept("IF", "EXISTS")
			var names []string
			for {
				table, key := a.name()
				if table == "" {
					break
				}
				if a.st.Table == "" {
					a.st.Table = table
				}
				names = append(names, table)
				a.schema.dropTable(key)
				if !a.acceptPunct(",") {
					break
				}
			}
			if len(names) > 0 {
				a.destroy("drops table %s", strings.Join(names, ", "))
			} else {
				a.destroy("drops a table")
			}
		case "DATABASE", "SCHEMA":
			a.st.Op = "DROP " + what
			a.accept("IF", "EXISTS")
			n, _ := a.name()
			a.destroy("drops %s %s", strings.ToLower(what), n)
		case "INDEX":
			a.st.Op = "DROP INDEX"
			a.accept("CONCURRENTLY")
			a.accept("IF", "EXISTS")
			a.name()
			if a.accept("ON") {
				a.st.Table, _ = a.name()
			}
		case "":
			a.st.Op = "DROP"
		default:
			a.st.Op = "DROP " + what
		}
	case "TRUNCATE":
		a.i++
		a.st.Op = "TRUNCATE"
		a.accept("TABLE")
		a.accept("ONLY")
		a.st.Table, _ = a.name()
		a.destroy("truncates table %s", a.st.Table)
	case "DELETE":
		a.i++
		a.st.Op = "DELETE"
		a.skipAny("LOW_PRIORITY", "QUICK", "IGNORE")
		a.accept("FROM")
		a.accept("ONLY")
		a.st.Table, _ = a.name()
		if !hasTopLevel(a.toks, a.i, "WHERE") {
			a.destroy("deletes every row of %s (no WHERE)", a.st.Table)
		}
	case "UPDATE":
		a.i++
		a.st.Op = "UPDATE"
		a.skipAny("LOW_PRIORITY", "IGNORE", "ONLY")
		a.st.Table, _ = a.name()
		if !hasTopLevel(a.toks, a.i, "WHERE") {
			a.destroy("overwrites every row of %s (no WHERE)", a.st.Table)
		}
	case "RENAME":
		a.i++
		a.st.Op = "RENAME TABLE"
		a.accept("TABLE")
		a.accept("TABLES")
		for {
			from, fromKey := a.name()
			if from == "" || !a.accept("TO") {
				break
			}
			_, toKey := a.name()
			if a.st.Table == "" {
				a.st.Table = from
			}
			a.schema.renameTable(fromKey, toKey)
			if !a.acceptPunct(",") {
				break
			}
		}
	case "INSERT", "REPLACE":
		a.i++
		a.st.Op = first
		a.skipAny("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE")
		a.accept("INTO")
		a.st.Table, _ = a.name()
	case "":
		a.st.Op = strings.ToUpper(a.toks[0].text)
	default:
		a.st.Op = first
	}
}

func (a *analyzer) acceptPunct(p string) bool {
	if a.i < len(a.toks) && a.toks[a.i].kind == tPunct && a.toks[a.i].text == p {
		a.i++
		return true
	}
	return false
}

// items splits the tokens from a.i up to the end (or the closing parenthesis
// when inParens) at top-level commas.
func (a *analyzer) items(inParens bool) [][]token {
	var out [][]token
	var cur []token
	depth := 0
	for ; a.i < len(a.toks); a.i++ {
		t := a.toks[a.i]
		if t.kind == tPunct {
			switch t.text {
			case "(":
				depth++
			case ")":
				if depth == 0 && inParens {
					a.i++
					return append(out, cur)
				}
				depth--
			case ",":
				if depth == 0 {
					out = append(out, cur)
					cur = nil
					continue
				}
			}
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var constraintWords = map[string]bool{
	"PRIMARY": true, "KEY": true, "INDEX": true, "UNIQUE": true, "CONSTRAINT": true,
	"FOREIGN": true, "FULLTEXT": true, "SPATIAL": true, "CHECK": true, "EXCLUDE": true, "LIKE": true, "PERIOD": true,
}

func (a *analyzer) createTable(key string) {
	if !a.acceptPunct("(") {
		return // CREATE TABLE … LIKE / AS SELECT: columns unknown
	}
	cols := map[string]colType{}
	for _, item := range a.items(true) {
		if len(item) < 2 || constraintWords[item[0].upper()] {
			continue
		}
		if item[0].kind != tWord && item[0].kind != tIdent {
			continue
		}
		t, _ := parseType(item, 1)
		cols[strings.ToLower(item[0].text)] = t
	}
	a.schema.tables[key] = cols
}

func (a *analyzer) alterTable(table, key string) {
	for _, item := range a.items(false) {
		b := &analyzer{toks: item, schema: a.schema, st: a.st}
		b.alterAction(table, key)
		a.reasons = append(a.reasons, b.reasons...)
		if b.renamedTo != "" {
			key = b.renamedTo
		}
	}
}

// alterAction judges one comma-separated action of ALTER TABLE.
func (b *analyzer) alterAction(table, key string) {
	switch {
	case b.accept("ADD"):
		if constraintWords[b.kw(0)] || b.kw(0) == "PARTITION" {
			return
		}
		b.accept("COLUMN")
		b.accept("IF", "NOT", "EXISTS")
		if b.acceptPunct("(") {
			for _, item := range b.items(true) {
				if len(item) >= 2 {
					t, _ := parseType(item, 1)
					b.schema.setColumn(key, strings.ToLower(item[0].text), t)
				}
			}
			return
		}
		col, colKey := b.name()
		if col != "" {
			t, _ := parseType(b.toks, b.i)
			b.schema.setColumn(key, colKey, t)
		}
	case b.accept("DROP"):
		switch b.kw(0) {
		case "PRIMARY", "FOREIGN", "INDEX", "KEY", "CONSTRAINT", "CHECK", "DEFAULT":
			return
		case "PARTITION":
			b.i++
			b.destroy("drops partition %s of %s", b.rest(), table)
			return
		}
		b.accept("COLUMN")
		b.accept("IF", "EXISTS")
		col, colKey := b.name()
		b.destroy("drops column %s.%s", table, col)
		b.schema.dropColumn(key, colKey)
	case b.accept("TRUNCATE", "PARTITION"):
		b.destroy("truncates partition %s of %s", b.rest(), table)
	case b.accept("MODIFY"):
		b.accept("COLUMN")
		col, colKey := b.name()
		t, _ := parseType(b.toks, b.i)
		b.typeChange(table, key, col, colKey, colKey, t)
	case b.accept("CHANGE"):
		b.accept("COLUMN")
		col, colKey := b.name()
		_, newKey := b.name()
		t, _ := parseType(b.toks, b.i)
		b.typeChange(table, key, col, colKey, newKey, t)
	case b.accept("ALTER"):
		b.accept("COLUMN")
		col, colKey := b.name()
		b.accept("SET", "DATA")
		if b.accept("TYPE") {
			t, _ := parseType(b.toks, b.i)
			b.typeChange(table, key, col, colKey, colKey, t)
		}
	case b.accept("RENAME"):
		switch {
		case b.accept("COLUMN"):
			_, from := b.name()
			b.accept("TO")
			_, to := b.name()
			b.schema.renameColumn(key, from, to)
		case b.accept("TO"), b.accept("AS"):
			_, to := b.name()
			b.schema.renameTable(key, to)
			b.renamedTo = to
		case b.kw(0) == "INDEX" || b.kw(0) == "KEY":
		default:
			_, from := b.name()
			if b.accept("TO") {
				_, to := b.name()
				b.schema.renameColumn(key, from, to)
			} else if from != "" {
				b.schema.renameTable(key, from)
				b.renamedTo = from
			}
		}
	}
}

func (b *analyzer) rest() string {
	var parts []string
	for _, t := range b.toks[b.i:] {
		parts = append(parts, t.text)
	}
	return strings.Join(parts, " ")
}

func (b *analyzer) typeChange(table, key, col, oldKey, newKey string, t colType) {
	old, known := b.schema.column(key, oldKey)
	switch {
	case t.name == "":
		b.destroy("changes column %s.%s to an unreadable type; cannot prove it does not narrow", table, col)
	case !known || old.name == "":
		b.destroy("changes the type of %s.%s to %s; previous type unknown, cannot prove it does not narrow", table, col, t)
	default:
		if ok, why := narrows(old, t); ok {
			b.destroy("narrows %s.%s from %s to %s (%s)", table, col, old, t, why)
		}
	}
	b.schema.dropColumn(key, oldKey)
	b.schema.setColumn(key, newKey, t)
}
