package plan

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// errSlowPath says a YAML node uses a feature nodeJSON does not convert
// (merge keys, non-JSON numbers, binary, …); the caller decodes it the
// general way instead.
var errSlowPath = errors.New("convert the general way")

var jsonNumberRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// yamlToJSON converts a parsed YAML node to JSON bytes without going through
// map[string]any: the Kubernetes types then decode the JSON strictly. It is
// what yaml.Node.Decode followed by json.Marshal gives, for the YAML that
// manifests use.
func yamlToJSON(n *yaml.Node) ([]byte, error) {
	var b []byte
	b, err := appendNodeJSON(b, n)
	if errors.Is(err, errSlowPath) {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	return b, err
}

func appendNodeJSON(b []byte, n *yaml.Node) ([]byte, error) {
	var err error
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return append(b, "null"...), nil
		}
		return appendNodeJSON(b, n.Content[0])
	case yaml.AliasNode:
		return appendNodeJSON(b, n.Alias)
	case yaml.MappingNode:
		b = append(b, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" || k.Tag == "!!merge" {
				return nil, errSlowPath
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k.Value)
			b = append(b, ':')
			if b, err = appendNodeJSON(b, n.Content[i+1]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, c := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendNodeJSON(b, c); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return appendJSONString(b, n.Value), nil
		case "!!int", "!!float":
			if jsonNumberRe.MatchString(n.Value) {
				return append(b, n.Value...), nil
			}
		case "!!bool":
			switch strings.ToLower(n.Value) {
			case "true":
				return append(b, "true"...), nil
			case "false":
				return append(b, "false"...), nil
			}
		case "!!null":
			return append(b, "null"...), nil
		}
	}
	return nil, errSlowPath
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// jsonToTree parses the compact JSON json.Marshal writes into the values
// encodeYAML takes (map[string]any, []any, string, json.Number, bool, nil),
// several times faster than json.Unmarshal into any. Malformed input — which
// json.Marshal never writes — is an error.
func jsonToTree(data []byte) (any, error) {
	p := &jsonParser{data: data}
	v, err := p.value()
	if err == nil && p.i != len(p.data) {
		err = p.fail()
	}
	return v, err
}

type jsonParser struct {
	data []byte
	i    int
}

func (p *jsonParser) fail() error {
	return errors.New("unexpected JSON at offset " + itoa(p.i))
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.data) {
		return nil, p.fail()
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		if p.i < len(p.data) && p.data[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			if p.i >= len(p.data) || p.data[p.i] != ':' {
				return nil, p.fail()
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			m[k] = v
			if p.i >= len(p.data) {
				return nil, p.fail()
			}
			if p.data[p.i] == '}' {
				p.i++
				return m, nil
			}
			if p.data[p.i] != ',' {
				return nil, p.fail()
			}
			p.i++
		}
	case c == '[':
		p.i++
		l := []any{}
		if p.i < len(p.data) && p.data[p.i] == ']' {
			p.i++
			return l, nil
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if p.i >= len(p.data) {
				return nil, p.fail()
			}
			if p.data[p.i] == ']' {
				p.i++
				return l, nil
			}
			if p.data[p.i] != ',' {
				return nil, p.fail()
			}
			p.i++
		}
	case c == '"':
		return p.str()
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []struct {
			s string
			v any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if strings.HasPrefix(string(p.data[p.i:min(p.i+5, len(p.data))]), lit.s) {
				p.i += len(lit.s)
				return lit.v, nil
			}
		}
		return nil, p.fail()
	default:
		j := p.i
		for j < len(p.data) && strings.IndexByte("-+.eE0123456789", p.data[j]) >= 0 {
			j++
		}
		if j == p.i {
			return nil, p.fail()
		}
		n := json.Number(p.data[p.i:j])
		p.i = j
		return n, nil
	}
}

// str reads a JSON string; only strings with escapes go through json.Unmarshal.
func (p *jsonParser) str() (string, error) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", p.fail()
	}
	escaped := false
	j := p.i + 1
	for ; j < len(p.data); j++ {
		if c := p.data[j]; c == '\\' {
			escaped = true
			j++
		} else if c == '"' {
			break
		}
	}
	if j >= len(p.data) {
		return "", p.fail()
	}
	tok := p.data[p.i : j+1]
	p.i = j + 1
	if !escaped {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", err
	}
	return s, nil
}

// marshalIndented encodes v as workspace.Marshal does — two-space indented
// JSON, HTML characters unescaped, trailing newline — by indenting the
// compact encoding in one pass, which is several times cheaper for a large
// plan than the encoder's own re-indentation. The tests hold the two to the
// same bytes.
func marshalIndented(v any) ([]byte, error) {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	src := strings.TrimSuffix(buf.String(), "\n")
	out := make([]byte, 0, len(src)*2)
	depth := 0
	newline := func() {
		out = append(out, '\n')
		for range depth {
			out = append(out, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
				} else if src[j] == '"' {
					break
				}
			}
			out = append(out, src[i:j+1]...)
			i = j
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				out = append(out, c, src[i+1])
				i++
				continue
			}
			out = append(out, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			out = append(out, c)
		case ',':
			out = append(out, c)
			newline()
		case ':':
			out = append(out, ':', ' ')
		default:
			out = append(out, c)
		}
	}
	return append(out, '\n'), nil
}
