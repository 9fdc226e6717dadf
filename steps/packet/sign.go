package packet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rehearsal-dev/rehearsal/internal/canonical"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Algorithm is the only signature algorithm.
const Algorithm = "ed25519"

// LocalKeyFile is the workspace key used when no key file is given.
var LocalKeyFile = filepath.Join(workspace.KeysDir, "packet.key")

// Canonicalization names how packet.json is reduced to the signed bytes.
const Canonicalization = "RFC 8785"

// Signature is packet.sig: an ed25519 signature over the canonical form
// (RFC 8785) of packet.json, its SHA-256 digest, the public key and its id.
// Re-indenting packet.json keeps the signature valid; changing any value
// breaks it.
type Signature struct {
	Algorithm        string `json:"algorithm"`
	Canonicalization string `json:"canonicalization"`
	Digest           string `json:"digest"` // sha256:<hex> of the canonical packet
	KeyID            string `json:"keyId"`
	PublicKey        string `json:"publicKey"` // base64 of the 32-byte key
	Signature        string `json:"signature"` // base64
}

// KeyID is the first 16 hex digits of the SHA-256 of the public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

func publicKey(key ed25519.PrivateKey) ed25519.PublicKey {
	return key.Public().(ed25519.PublicKey)
}

func encodeKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

func sign(key ed25519.PrivateKey, packet []byte) (Signature, error) {
	c, err := canonical.Transform(packet)
	if err != nil {
		return Signature{}, fmt.Errorf("canonicalize %s: %w", workspace.PacketFile, err)
	}
	pub := publicKey(key)
	return Signature{
		Algorithm:        Algorithm,
		Canonicalization: Canonicalization,
		Digest:           workspace.Digest(c),
		KeyID:            KeyID(pub),
		PublicKey:        encodeKey(pub),
		Signature:        base64.StdEncoding.EncodeToString(ed25519.Sign(key, c)),
	}, nil
}

// signingKey loads the key from keyFile, or the workspace key (created once
// when missing) with a warning that it proves integrity, not authorship.
func signingKey(dir, keyFile string) (ed25519.PrivateKey, string, error) {
	if keyFile != "" {
		key, err := LoadPrivateKey(keyFile)
		return key, "", err
	}
	path := filepath.Join(dir, LocalKeyFile)
	warn := fmt.Sprintf("no key file given: signed with the workspace key %s; a local key proves the packet's integrity, not who produced it",
		filepath.ToSlash(LocalKeyFile))
	key, err := LoadPrivateKey(path)
	if err == nil {
		return key, warn, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", exitcode.Infrastructure(fmt.Errorf("generate key: %w", err))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("encode key: %w", err)
	}
	if err := writePrivate(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, "", exitcode.Infrastructure(err)
	}
	return key, warn + " (created now)", nil
}

// writePrivate writes a key readable by its owner only, atomically.
func writePrivate(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(name)
		return fmt.Errorf("write key %s: %w", path, errors.Join(werr, cerr))
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

// LoadPrivateKey reads an ed25519 key from a PEM "PRIVATE KEY" (PKCS#8) file,
// as `openssl genpkey -algorithm ed25519` writes it and a Kubernetes Secret
// mount holds it. Errors never include the key material.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, exitcode.Input(fmt.Errorf("key file %s: %w", path, err))
	}
	if err != nil {
		return nil, exitcode.Infrastructure(fmt.Errorf("key file %s: %w", path, err))
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, exitcode.Inputf("key file %s: not a PEM \"PRIVATE KEY\" (PKCS#8) block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, exitcode.Inputf("key file %s: not a PKCS#8 private key", path)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, exitcode.Inputf("key file %s: a %T, want an ed25519 key", path, k)
	}
	return key, nil
}

// LoadPublicKey reads an ed25519 public key from a PEM file: a "PUBLIC KEY"
// (PKIX, `openssl pkey -in key.pem -pubout`) or a "PRIVATE KEY" whose public
// half is taken.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, exitcode.Input(fmt.Errorf("public key %s: %w", path, err))
	}
	block, _ := pem.Decode(b)
	switch {
	case block == nil:
		return nil, exitcode.Inputf("public key %s: not a PEM file", path)
	case block.Type == "PRIVATE KEY":
		key, err := LoadPrivateKey(path)
		if err != nil {
			return nil, err
		}
		return publicKey(key), nil
	case block.Type != "PUBLIC KEY":
		return nil, exitcode.Inputf("public key %s: PEM block %q, want \"PUBLIC KEY\"", path, block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, exitcode.Inputf("public key %s: not a PKIX public key", path)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, exitcode.Inputf("public key %s: a %T, want an ed25519 key", path, k)
	}
	return pub, nil
}

// verifySignature checks sig over packet with pub (nil: the key in sig).
func verifySignature(sig Signature, packet []byte, pub ed25519.PublicKey) (ed25519.PublicKey, error) {
	if sig.Algorithm != Algorithm {
		return nil, fmt.Errorf("%s: algorithm %q, want %q", workspace.PacketSig, sig.Algorithm, Algorithm)
	}
	recorded, err := base64.StdEncoding.DecodeString(sig.PublicKey)
	if err != nil || len(recorded) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: publicKey is not a base64 ed25519 public key", workspace.PacketSig)
	}
	if pub == nil {
		pub = recorded
	} else if !bytes.Equal(pub, recorded) {
		return nil, fmt.Errorf("%s: signed by key %s, not the expected key %s", workspace.PacketSig, KeyID(recorded), KeyID(pub))
	}
	if id := KeyID(pub); sig.KeyID != id {
		return nil, fmt.Errorf("%s: keyId %s does not match the key (%s)", workspace.PacketSig, sig.KeyID, id)
	}
	if sig.Canonicalization != Canonicalization {
		return nil, fmt.Errorf("%s: canonicalization %q, want %q", workspace.PacketSig, sig.Canonicalization, Canonicalization)
	}
	c, err := canonical.Transform(packet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", workspace.PacketFile, err)
	}
	if d := workspace.Digest(c); d != sig.Digest {
		return nil, fmt.Errorf("%s: digest %s, but the canonical %s is %s", workspace.PacketSig, sig.Digest, workspace.PacketFile, d)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !ed25519.Verify(pub, c, raw) {
		return nil, fmt.Errorf("%s: the signature does not verify %s with key %s", workspace.PacketSig, workspace.PacketFile, sig.KeyID)
	}
	return pub, nil
}
