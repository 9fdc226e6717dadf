package sqlscan

import (
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tWord   tokKind = iota // keyword or bare identifier
	tIdent                 // quoted identifier (`x` or "x"), text unquoted
	tString                // string literal, text as written
	tNumber                // numeric literal
	tPunct                 // one punctuation character
)

type token struct {
	kind tokKind
	text string
}

// upper returns the token's keyword form: upper-case for bare words, "" for others.
func (t token) upper() string {
	if t.kind != tWord {
		return ""
	}
	return strings.ToUpper(t.text)
}

// rawStmt is one statement as the splitter found it.
type rawStmt struct {
	line int
	toks []token
	text string
}

// maxText bounds the statement text kept in the output; the op, table and
// verdict come from the whole statement.
const maxText = 240

// split cuts src into statements at the delimiter (";" unless a DELIMITER line
// changes it), skipping comments and keeping quoted text intact. It never fails:
// an unterminated string or comment runs to the end of the input.
func split(src string) []rawStmt {
	var (
		out   []rawStmt
		cur   rawStmt
		text  strings.Builder
		delim = ";"
		line  = 1
		i     = 0
	)
	space := func() {
		if text.Len() > 0 && !strings.HasSuffix(text.String(), " ") {
			text.WriteByte(' ')
		}
	}
	add := func(k tokKind, raw, val string, at int) {
		if len(cur.toks) == 0 {
			cur.line = at
		}
		cur.toks = append(cur.toks, token{kind: k, text: val})
		text.WriteString(raw)
	}
	flush := func() {
		if len(cur.toks) > 0 {
			cur.text = clip(strings.TrimSpace(text.String()))
			out = append(out, cur)
		}
		cur = rawStmt{}
		text.Reset()
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			space()
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			space()
		case len(cur.toks) == 0 && isDelimiterCommand(src[i:]):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			fields := strings.Fields(src[i : i+end])
			if len(fields) >= 2 {
				delim = fields[1]
			}
			i += end
		case strings.HasPrefix(src[i:], delim):
			i += len(delim)
			flush()
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space()
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			stop := len(src)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			line += strings.Count(src[i:stop], "\n")
			i = stop
			space()
		case c == '\'' || c == '"' || c == '`':
			start, at := i, line
			stop := quoted(src, i, c)
			raw := src[start:stop]
			line += strings.Count(raw, "\n")
			i = stop
			switch c {
			case '\'':
				add(tString, raw, raw, at)
			default:
				add(tIdent, raw, unquote(raw, c), at)
			}
		case c == '$' && dollarTag(src[i:]) != "" && (i == 0 || !isIdent(src[i-1])):
			tag := dollarTag(src[i:])
			end := strings.Index(src[i+len(tag):], tag)
			stop := len(src)
			if end >= 0 {
				stop = i + len(tag) + end + len(tag)
			}
			raw := src[i:stop]
			add(tString, raw, raw, line)
			line += strings.Count(raw, "\n")
			i = stop
		case isDigit(c):
			j := i
			for j < len(src) && (isIdent(src[j]) || src[j] == '.') {
				j++
			}
			add(tNumber, src[i:j], src[i:j], line)
			i = j
		case isIdent(c) || c >= utf8.RuneSelf:
			j := i
			for j < len(src) && (isIdent(src[j]) || src[j] >= utf8.RuneSelf) {
				j++
			}
			add(tWord, src[i:j], src[i:j], line)
			i = j
		default:
			add(tPunct, src[i:i+1], src[i:i+1], line)
			i++
		}
	}
	flush()
	return out
}

// quoted returns the index just past the quoted text that starts at src[i],
// honouring doubled quotes and, outside identifiers, backslash escapes.
func quoted(src string, i int, q byte) int {
	j := i + 1
	for j < len(src) {
		switch {
		case src[j] == '\\' && q != '`':
			j += 2
		case src[j] == q && j+1 < len(src) && src[j+1] == q:
			j += 2
		case src[j] == q:
			return j + 1
		default:
			j++
		}
	}
	return len(src)
}

func unquote(raw string, q byte) string {
	s := strings.TrimPrefix(raw, string(q))
	s = strings.TrimSuffix(s, string(q))
	return strings.ReplaceAll(s, string([]byte{q, q}), string(q))
}

// dollarTag returns the PostgreSQL dollar-quote opener at the start of s
// ("$$" or "$tag$"), or "".
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '$':
			return s[:j+1]
		case isIdent(s[j]) && !(j == 1 && isDigit(s[j])):
		default:
			return ""
		}
	}
	return ""
}

func isDelimiterCommand(s string) bool {
	const kw = "delimiter"
	return len(s) > len(kw) && strings.EqualFold(s[:len(kw)], kw) && (s[len(kw)] == ' ' || s[len(kw)] == '\t')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdent(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
