// Package workspace defines the files that Rehearsal's steps exchange through one
// workspace directory, their JSON shapes, and how they are written: atomically, in
// canonical form, so that the same inputs always give the same bytes.
package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names inside a workspace. Tools outside the repository rely on them.
const (
	ChangeFile   = "change.json"
	GraphFile    = "graph.json"
	WorkflowFile = "workflow.yaml"
	ApprovalsDir = "approvals"
	PacketFile   = "packet.json"
	PacketMD     = "packet.md"
	PacketSig    = "packet.sig"
	RunFile      = "run.json"
	CatalogFile  = "catalog.json"
	KeysDir      = "keys"
)

// ApprovalFile is the path of a gate's approval record inside a workspace.
func ApprovalFile(gate string) string {
	return filepath.Join(ApprovalsDir, gate+".json")
}

// Marshal encodes v as indented JSON with a trailing newline. Map keys are sorted
// by encoding/json, so equal values always give equal bytes.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteJSON writes v as canonical JSON to dir/name atomically.
func WriteJSON(dir, name string, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return WriteFile(filepath.Join(dir, name), b)
}

// WriteFile writes data to path through a temporary file in the same directory and
// a rename, so a reader sees either the old file or the new one, never a part.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSON decodes dir/name into v, refusing unknown keys so that a misspelt
// field is an error rather than a silent default.
func ReadJSON(dir, name string, v any) error {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return DecodeJSON(path, f, v)
}

// DecodeJSON decodes one JSON document from r into v; errors name the source and
// the byte offset where decoding stopped.
func DecodeJSON(source string, r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: offset %d: %w", source, dec.InputOffset(), err)
	}
	return nil
}

// Digest returns "sha256:<hex>" of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FileDigest returns the digest of the file at path.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// ReadChange reads the workspace's change.json.
func ReadChange(dir string) (Change, error) {
	var c Change
	if err := ReadJSON(dir, ChangeFile, &c); err != nil {
		return c, fmt.Errorf("read change: %w", err)
	}
	return c, nil
}
