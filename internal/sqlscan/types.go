package sqlscan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Schema is what the scanner knows of tables and column types from the
// statements it has seen. Keys are lower-case table and column names.
type Schema struct {
	tables map[string]map[string]colType
}

// NewSchema returns an empty schema.
func NewSchema() *Schema { return &Schema{tables: map[string]map[string]colType{}} }

// Column returns the type of table.column as the scanner normalised it (for
// example "VARCHAR(255)", "INT UNSIGNED") and whether it is known.
func (s *Schema) Column(table, column string) (string, bool) {
	t, ok := s.column(strings.ToLower(table), strings.ToLower(column))
	return t.String(), ok
}

func (s *Schema) column(table, column string) (colType, bool) {
	t, ok := s.tables[table][column]
	return t, ok
}

func (s *Schema) setColumn(table, column string, t colType) {
	if table == "" || column == "" {
		return
	}
	if s.tables[table] == nil {
		s.tables[table] = map[string]colType{}
	}
	s.tables[table][column] = t
}

func (s *Schema) dropColumn(table, column string) { delete(s.tables[table], column) }

func (s *Schema) dropTable(table string) { delete(s.tables, table) }

func (s *Schema) renameTable(from, to string) {
	if from == "" || to == "" || from == to {
		return
	}
	if cols, ok := s.tables[from]; ok {
		s.tables[to] = cols
		delete(s.tables, from)
	}
}

func (s *Schema) renameColumn(table, from, to string) {
	if t, ok := s.tables[table][from]; ok && to != "" {
		delete(s.tables[table], from)
		s.tables[table][to] = t
	}
}

// colType is a normalised column type.
type colType struct {
	name     string   // upper-case base name, synonyms folded (INTEGER → INT)
	args     []string // parenthesised arguments as written
	unsigned bool
}

func (t colType) String() string {
	s := t.name
	if len(t.args) > 0 {
		s += "(" + strings.Join(t.args, ",") + ")"
	}
	if t.unsigned {
		s += " UNSIGNED"
	}
	return s
}

var synonyms = map[string]string{
	"INTEGER": "INT", "INT4": "INT", "INT2": "SMALLINT", "INT8": "BIGINT", "INT1": "TINYINT", "INT3": "MEDIUMINT",
	"SERIAL": "BIGINT", "BIGSERIAL": "BIGINT", "SMALLSERIAL": "SMALLINT",
	"BOOL": "TINYINT", "BOOLEAN": "TINYINT",
	"DEC": "DECIMAL", "NUMERIC": "DECIMAL", "FIXED": "DECIMAL",
	"FLOAT4": "FLOAT", "REAL": "FLOAT", "FLOAT8": "DOUBLE",
	"CHARACTER": "CHAR", "NCHAR": "CHAR", "NVARCHAR": "VARCHAR",
	"TIMESTAMPTZ": "TIMESTAMP", "BYTEA": "LONGBLOB",
}

// parseType reads a column type starting at toks[i]: a name (two words for
// DOUBLE PRECISION and CHARACTER VARYING), optional parenthesised arguments and
// UNSIGNED. It returns the index after the type.
func parseType(toks []token, i int) (colType, int) {
	var t colType
	if i >= len(toks) || (toks[i].kind != tWord && toks[i].kind != tIdent) {
		return t, i
	}
	t.name = strings.ToUpper(toks[i].text)
	i++
	if i < len(toks) {
		next := toks[i].upper()
		switch {
		case t.name == "DOUBLE" && next == "PRECISION":
			i++
		case (t.name == "CHARACTER" || t.name == "CHAR") && next == "VARYING":
			t.name = "VARCHAR"
			i++
		case t.name == "NATIONAL" && (next == "CHAR" || next == "VARCHAR" || next == "CHARACTER"):
			t.name = next
			i++
		}
	}
	if s, ok := synonyms[t.name]; ok {
		if t.name == "SERIAL" {
			t.unsigned = true
		}
		t.name = s
	}
	if i < len(toks) && toks[i].kind == tPunct && toks[i].text == "(" {
		var args []string
		var cur strings.Builder
		j := i + 1
		for ; j < len(toks); j++ {
			tk := toks[j]
			if tk.kind == tPunct && tk.text == ")" {
				break
			}
			if tk.kind == tPunct && tk.text == "," {
				args = append(args, cur.String())
				cur.Reset()
				continue
			}
			cur.WriteString(tk.text)
		}
		args = append(args, cur.String())
		t.args = args
		i = j + 1
	}
	for i < len(toks) {
		switch toks[i].upper() {
		case "UNSIGNED":
			t.unsigned = true
			i++
			continue
		case "SIGNED", "ZEROFILL":
			i++
			continue
		}
		break
	}
	// Display widths of integer types (INT(11)) change nothing stored.
	if intBytes[t.name] > 0 {
		t.args = nil
	}
	return t, i
}

var intBytes = map[string]int{"TINYINT": 1, "SMALLINT": 2, "MEDIUMINT": 3, "INT": 4, "BIGINT": 8}

// intDigits is how many decimal digits the largest value of an integer type has.
var intDigits = map[string]int{"TINYINT": 3, "SMALLINT": 5, "MEDIUMINT": 8, "INT": 10, "BIGINT": 20}

var textLen = map[string]int64{"TINYTEXT": 255, "TEXT": 65535, "MEDIUMTEXT": 16777215, "LONGTEXT": 4294967295}
var blobLen = map[string]int64{"TINYBLOB": 255, "BLOB": 65535, "MEDIUMBLOB": 16777215, "LONGBLOB": 4294967295}

var timeRank = map[string]int{"YEAR": 1, "DATE": 2, "TIMESTAMP": 3, "DATETIME": 4}

func family(t colType) string {
	switch {
	case intBytes[t.name] > 0:
		return "int"
	case t.name == "DECIMAL":
		return "decimal"
	case t.name == "FLOAT" || t.name == "DOUBLE":
		return "float"
	case t.name == "CHAR" || t.name == "VARCHAR" || textLen[t.name] > 0:
		return "text"
	case t.name == "BINARY" || t.name == "VARBINARY" || blobLen[t.name] > 0:
		return "bytes"
	case timeRank[t.name] > 0:
		return "time"
	case t.name == "ENUM" || t.name == "SET":
		return t.name
	}
	return t.name
}

// length is the maximum length of a text or bytes type, -1 when unknown.
func length(t colType) int64 {
	if n, ok := textLen[t.name]; ok && len(t.args) == 0 {
		return n
	}
	if n, ok := blobLen[t.name]; ok && len(t.args) == 0 {
		return n
	}
	if len(t.args) == 1 {
		if n, err := strconv.ParseInt(strings.TrimSpace(t.args[0]), 10, 64); err == nil {
			return n
		}
	}
	if t.name == "CHAR" || t.name == "BINARY" {
		return 1
	}
	return -1
}

func numArg(t colType, i int, def int) int {
	if i < len(t.args) {
		if n, err := strconv.Atoi(strings.TrimSpace(t.args[i])); err == nil {
			return n
		}
	}
	return def
}

// narrows reports whether changing a column from old to new can lose values,
// with a short explanation. Changes it cannot judge count as narrowing.
func narrows(old, new colType) (bool, string) {
	if old.String() == new.String() {
		return false, ""
	}
	fo, fn := family(old), family(new)
	switch {
	case fo == "int" && fn == "int":
		ob, nb := intBytes[old.name], intBytes[new.name]
		switch {
		case nb < ob:
			return true, "smaller integer"
		case old.unsigned == new.unsigned:
			return false, ""
		case new.unsigned:
			return true, "negative values no longer fit"
		case nb == ob:
			return true, "large unsigned values no longer fit"
		}
		return false, ""
	case fo == "int" && fn == "decimal":
		if numArg(new, 0, 10)-numArg(new, 1, 0) < intDigits[old.name] {
			return true, "fewer integer digits"
		}
		return false, ""
	case fo == "decimal" && fn == "decimal":
		op, os := numArg(old, 0, 10), numArg(old, 1, 0)
		np, ns := numArg(new, 0, 10), numArg(new, 1, 0)
		if ns < os {
			return true, "fewer decimal places"
		}
		if np-ns < op-os {
			return true, "fewer integer digits"
		}
		return false, ""
	case fo == "float" && fn == "float":
		if old.name == "DOUBLE" && new.name == "FLOAT" {
			return true, "less precision"
		}
		return false, ""
	case fo == "int" && fn == "float":
		if new.name == "FLOAT" && intBytes[old.name] >= 3 || new.name == "DOUBLE" && old.name == "BIGINT" {
			return true, "less precision"
		}
		return false, ""
	case (fo == "text" && fn == "text") || (fo == "bytes" && fn == "bytes"):
		ol, nl := length(old), length(new)
		if ol < 0 || nl < 0 {
			return true, "length unknown"
		}
		if nl < ol {
			return true, "shorter"
		}
		return false, ""
	case fo == "time" && fn == "time":
		if timeRank[new.name] < timeRank[old.name] {
			return true, "less date/time range or precision"
		}
		if numArg(new, 0, 0) < numArg(old, 0, 0) {
			return true, "fewer fractional seconds"
		}
		return false, ""
	case (fo == "ENUM" && fn == "ENUM") || (fo == "SET" && fn == "SET"):
		for _, v := range old.args {
			if !slices.Contains(new.args, v) {
				return true, fmt.Sprintf("value %s removed", v)
			}
		}
		return false, ""
	case (fo == "ENUM" || fo == "SET") && fn == "text":
		for _, v := range old.args {
			if int64(len(v)-2) > length(new) && length(new) >= 0 {
				return true, "shorter"
			}
		}
		return false, ""
	case fo == fn:
		return true, "arguments changed"
	}
	return true, "different kind of type"
}
