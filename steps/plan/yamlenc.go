package plan

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// encodeYAML writes v — a value decoded from JSON (maps, slices, strings,
// float64, bools) — as block-style YAML with sorted keys. Strings are plain
// when that is unambiguous, single-quoted when printable on one line, and
// JSON-quoted (a subset of YAML's double-quoted style) otherwise. It is a
// fraction of the cost of a round trip through a general YAML library, which
// matters when a plan emits a Rollout per service.
func encodeYAML(v any) []byte { return encodeYAMLSized(v, 0) }

// encodeYAMLSized is encodeYAML with a size hint (e.g. the length of the JSON
// the value came from), so the output is written without regrowing.
func encodeYAMLSized(v any, hint int) []byte {
	var b strings.Builder
	b.Grow(hint)
	writeYAML(&b, v, 0, false)
	return []byte(b.String())
}

// plain reports whether s can be written unquoted: it starts with a letter,
// '_' or '/', holds only letters, digits and _ . / = -, and is not a word YAML
// reads as a bool or null.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '=' && c != '-' {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "true", "false", "on", "off", "null":
		return false
	}
	return true
}

func scalarYAML(s string) string {
	if plain(s) {
		return s
	}
	printable := s != "" && !strings.ContainsAny(s, "\n\r\t") && strings.TrimSpace(s) == s
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			printable = false
		}
	}
	if printable {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// writeYAML writes v at indent; inSeq says the first line continues a "- ".
func writeYAML(b *strings.Builder, v any, indent int, inSeq bool) {
	pad := strings.Repeat(" ", indent)
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			b.WriteString("{}\n")
			return
		}
		for i, k := range keys {
			if i > 0 || !inSeq {
				b.WriteString(pad)
			}
			b.WriteString(scalarYAML(k))
			b.WriteString(":")
			writeValue(b, x[k], indent)
		}
	case []any:
		if len(x) == 0 {
			b.WriteString("[]\n")
			return
		}
		for i, e := range x {
			if i > 0 || !inSeq {
				b.WriteString(pad)
			}
			b.WriteString("- ")
			switch e.(type) {
			case map[string]any, []any:
				writeYAML(b, e, indent+2, true)
			default:
				b.WriteString(leaf(e))
				b.WriteString("\n")
			}
		}
	default:
		b.WriteString(leaf(v))
		b.WriteString("\n")
	}
}

// writeValue writes the value after "key:".
func writeValue(b *strings.Builder, v any, indent int) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteString("\n")
		writeYAML(b, x, indent+2, false)
	case []any:
		if len(x) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteString("\n")
		writeYAML(b, x, indent, false)
	default:
		b.WriteString(" ")
		b.WriteString(leaf(v))
		b.WriteString("\n")
	}
}

func leaf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case string:
		return scalarYAML(x)
	}
	return scalarYAML("")
}
