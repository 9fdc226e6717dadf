// Package prompts carries the versioned prompt files the model wrapper sends
// as system instructions. A prompt's id is its file name without ".md"
// (intent.v1, explain-finding.v1, …); a changed prompt is a new file with a new
// version, so an audit record's prompt id and digest always name one text.
package prompts

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

//go:embed *.md
var files embed.FS

// The prompts the code uses.
const (
	Intent         = "intent.v1"
	ExplainFinding = "explain-finding.v1"
	ExplainGate    = "explain-gate.v1"
	PacketSummary  = "packet-summary.v1"
)

// Prompt is one prompt file.
type Prompt struct {
	// ID is name.vN, the file name without ".md".
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Text    string `json:"-"`
	// Digest is "sha256:<hex>" of the file's bytes.
	Digest string `json:"digest"`
}

var idRe = regexp.MustCompile(`^([a-z][a-z0-9-]*)\.v([1-9][0-9]*)$`)

// Load returns the prompt with the given id.
func Load(id string) (Prompt, error) {
	m := idRe.FindStringSubmatch(id)
	if m == nil {
		return Prompt{}, fmt.Errorf("prompt %q: an id is name.vN", id)
	}
	b, err := fs.ReadFile(files, id+".md")
	if err != nil {
		return Prompt{}, fmt.Errorf("prompt %q: no such prompt file (have %s)", id, strings.Join(IDs(), ", "))
	}
	var v int
	fmt.Sscanf(m[2], "%d", &v)
	sum := sha256.Sum256(b)
	return Prompt{ID: id, Name: m[1], Version: v, Text: string(b), Digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// Must returns the prompt with the given id and panics when there is none;
// for the constants above, which a test loads.
func Must(id string) Prompt {
	p, err := Load(id)
	if err != nil {
		panic(err)
	}
	return p
}

// IDs lists every prompt file's id, sorted.
func IDs() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".md"))
	}
	sort.Strings(out)
	return out
}
