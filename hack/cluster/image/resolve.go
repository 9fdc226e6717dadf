package image

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Module is the Go module whose commands become step images.
const Module = "github.com/rehearsal-dev/rehearsal"

// koRef matches a ko:// reference up to the first character that cannot be
// part of a Go import path (a quote, space, bracket, comma or end of line).
var koRef = regexp.MustCompile(`ko://[A-Za-z0-9_.~/-]+`)

// Ref is the local image reference for the Go main package importPath.
func Ref(prefix, importPath, tag string) string {
	return strings.TrimSuffix(prefix, "/") + "/" + path.Base(importPath) + ":" + tag
}

// Resolve rewrites every ko://github.com/rehearsal-dev/rehearsal/... reference
// (the step commands live in cmd/...) in doc to Ref(prefix, importPath, tag),
// like `ko resolve` does, and changes nothing else: not the layout, the
// comments or other strings. A ko:// reference outside this module is an
// error, because no image exists for it and the pod would fail later with a
// worse message. file names the input in errors. Resolve also returns the
// import paths it rewrote.
func Resolve(file string, doc []byte, prefix, tag string) ([]byte, []string, error) {
	var errs []string
	var resolved []string
	lines := bytes.Split(doc, []byte("\n"))
	for i, line := range lines {
		lines[i] = koRef.ReplaceAllFunc(line, func(m []byte) []byte {
			importPath := strings.TrimSuffix(strings.TrimPrefix(string(m), "ko://"), "/")
			if !strings.HasPrefix(importPath, Module+"/") {
				col := bytes.Index(line, m) + 1
				errs = append(errs, fmt.Sprintf("%s:%d:%d: %s is not a package of %s; only its commands can be resolved to local images",
					file, i+1, col, m, Module))
				return m
			}
			resolved = append(resolved, importPath)
			return []byte(Ref(prefix, importPath, tag))
		})
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return bytes.Join(lines, []byte("\n")), resolved, nil
}
