// Package yamlsrc decodes YAML input files strictly and keeps the position of every
// node, so that problems can be reported as `file:line:col`.
package yamlsrc

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
)

// Doc is one parsed YAML document with its source.
type Doc struct {
	File string
	Src  []byte
	Root *yaml.Node // the document's top node (a mapping for all Rehearsal files)
}

var lineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse parses data as exactly one YAML document. Syntax errors come back as a
// diag.List naming the file and line.
func Parse(file string, data []byte) (*Doc, error) {
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, diag.List{{File: file, Line: 1, Col: 1, Msg: "empty document"}}.Err()
		}
		return nil, located(file, data, err)
	}
	if len(n.Content) == 0 {
		return nil, diag.List{{File: file, Line: 1, Col: 1, Msg: "empty document"}}.Err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, diag.List{{File: file, Line: extra.Line, Col: extra.Column, Msg: "only one YAML document is allowed"}}.Err()
	}
	return &Doc{File: file, Src: data, Root: n.Content[0]}, nil
}

// Decode decodes the document into v, refusing unknown fields. Every problem is
// reported with its position.
func (d *Doc) Decode(v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(d.Src))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return located(d.File, d.Src, err)
	}
	return nil
}

// located turns a yaml error into positioned problems.
func located(file string, src []byte, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var l diag.List
	for _, m := range msgs {
		if sm := lineRe.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			l.Add(file, line, firstCol(src, line), "%s", sm[2])
			continue
		}
		l.Add(file, 0, 0, "%s", strings.TrimPrefix(m, "yaml: "))
	}
	return l.Err()
}

// firstCol is the column of the first non-blank character of a 1-based line.
func firstCol(src []byte, line int) int {
	lines := bytes.Split(src, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	s := lines[line-1]
	return len(s) - len(bytes.TrimLeft(s, " \t")) + 1
}

// Get returns the value node under key in mapping node m, or nil.
func Get(m *yaml.Node, key string) *yaml.Node {
	if k := Key(m, key); k != nil {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i] == k {
				return m.Content[i+1]
			}
		}
	}
	return nil
}

// Key returns the key node named key in mapping node m, or nil.
func Key(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// Items returns the items of a sequence node, or nil.
func Items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// Pos is a position in a file.
type Pos struct {
	Line, Col int
}

// At returns the position of n, or of fallback when n is nil.
func At(n, fallback *yaml.Node) Pos {
	if n == nil {
		n = fallback
	}
	if n == nil {
		return Pos{}
	}
	return Pos{n.Line, n.Column}
}
