package mask

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"io"
	"regexp"
	"strings"
)

// leaf is one scalar inside a JSON document.
type leaf struct {
	Path string // normalised: $.contact.phones[*]
	Name string // the nearest object key: phones
	Kind jsontext.Kind
	Raw  jsontext.Value // the value as written (quoted for strings)
}

var jsonOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

type frame struct {
	array bool
	key   string // current member name (objects)
	name  string // nearest object key, for arrays
}

// rewriteJSON copies doc to dst, calling fn for every scalar; fn returns the
// raw JSON value to write instead (nil keeps the original). Output is
// compact; member order is kept.
func rewriteJSON(dst, doc []byte, fn func(l leaf) (jsontext.Value, error)) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(doc), jsonOpts...)
	buf := bytes.NewBuffer(dst)
	enc := jsontext.NewEncoder(buf, jsonOpts...)
	var stack []frame
	var path []string // one segment per open container
	expectKey := false
	for {
		k := dec.PeekKind()
		if k == 0 {
			_, err := dec.ReadToken()
			if errors.Is(err, io.EOF) {
				break
			}
			return dst, err
		}
		switch k {
		case '{', '[':
			tok, err := dec.ReadToken()
			if err != nil {
				return dst, err
			}
			if err := enc.WriteToken(tok); err != nil {
				return dst, err
			}
			f := frame{array: k == '['}
			seg := "[*]"
			name := ""
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				name = top.name
				if !top.array {
					seg, name = keySeg(top.key), top.key
				}
			}
			if len(stack) == 0 {
				seg = "$"
			}
			f.name = name
			stack = append(stack, f)
			path = append(path, seg)
			expectKey = k == '{'
			continue
		case '}', ']':
			tok, err := dec.ReadToken()
			if err != nil {
				return dst, err
			}
			if err := enc.WriteToken(tok); err != nil {
				return dst, err
			}
			stack = stack[:len(stack)-1]
			path = path[:len(path)-1]
			expectKey = len(stack) > 0 && !stack[len(stack)-1].array
			continue
		}
		if expectKey {
			tok, err := dec.ReadToken()
			if err != nil {
				return dst, err
			}
			stack[len(stack)-1].key = tok.String()
			if err := enc.WriteToken(tok); err != nil {
				return dst, err
			}
			expectKey = false
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return dst, err
		}
		l := leaf{Kind: k, Raw: v}
		if len(stack) == 0 {
			l.Path, l.Name = "$", ""
		} else {
			top := stack[len(stack)-1]
			if top.array {
				l.Path, l.Name = strings.Join(path, "")+"[*]", top.name
			} else {
				l.Path, l.Name = strings.Join(path, "")+keySeg(top.key), top.key
			}
			if len(path) > 0 && path[0] == "$" && l.Path[0] != '$' {
				l.Path = "$" + l.Path
			}
		}
		out, err := fn(l)
		if err != nil {
			return dst, err
		}
		if out == nil {
			out = v
		}
		if err := enc.WriteValue(out); err != nil {
			return dst, err
		}
		if len(stack) > 0 && !stack[len(stack)-1].array {
			expectKey = true
		}
	}
	b := buf.Bytes()
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return b, nil
}

func keySeg(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	q, _ := jsontext.AppendQuote(nil, k)
	return "[" + string(q) + "]"
}

// leafText is a leaf's value as text: strings unquoted, numbers as written.
func leafText(l leaf) []byte {
	if l.Kind == '"' {
		b, err := jsontext.AppendUnquote(nil, []byte(l.Raw))
		if err != nil {
			return []byte(l.Raw)
		}
		return b
	}
	return []byte(l.Raw)
}

// leafDataType is the data type rules see for a leaf.
func leafDataType(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return "null"
}
