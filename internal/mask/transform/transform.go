// Package transform holds the mask step's deterministic transformers and the
// keyed machinery behind them. A value's fake is a pure function of the key,
// the transformer and the original: HMAC-SHA256(key, original) gives a
// per-value seed, the seed drives a gofakeit generator of the same kind, so
// the same original becomes the same fake in every table and every run, and
// nobody without the key can link a fake back to its original.
//
// Transformers live in an explicit registry (New rejects duplicate names);
// unique columns draw again, deterministically, when two originals meet on
// the same fake (Domain).
package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/brianvoe/gofakeit/v7"
)

// Column is what a transformer knows of the column it writes.
type Column struct {
	// DataType is the base type in lower case: varchar, int, date, json, …
	DataType string
	// Length is the most characters the column holds (textual columns), or
	// 0 when unknown or unlimited.
	Length int64
}

// Class groups data types by how their values are written.
type Class int

// The type classes.
const (
	Text Class = iota
	Number
	Temporal
	Binary
	JSON
	Enum
	Unsupported
)

// ClassOf returns the class of a base data type.
func ClassOf(dataType string) Class {
	switch strings.ToLower(dataType) {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "string":
		return Text
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
		"float", "double", "real", "bit", "bool", "boolean", "year", "number":
		return Number
	case "date", "datetime", "timestamp", "time":
		return Temporal
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return Binary
	case "json":
		return JSON
	case "enum", "set":
		return Enum
	}
	return Unsupported
}

// Transformer turns an original value into its fake.
type Transformer interface {
	// Name is the registry name rules and overrides use.
	Name() string
	// Apply appends the fake of orig to dst. r is seeded from the keyed
	// hash of orig, so equal originals give equal fakes.
	Apply(dst, orig []byte, r *Rand, col Column) ([]byte, error)
	// Accepts reports whether the transformer can write a column of col's
	// type.
	Accepts(col Column) bool
	// Space estimates how many distinct fakes the transformer can produce
	// for col; unique columns with more distinct values cannot be masked.
	Space(col Column) float64
	// Identifying reports whether an original value identifies a person on
	// its own (an email, a card number), so that finding it anywhere in the
	// target is a leak. Names are not: a fake name may equal someone else's
	// real one.
	Identifying() bool
}

// Registry is the explicit set of transformers, by name.
type Registry struct {
	byName map[string]Transformer
}

// New builds a registry; two transformers with one name are an error.
func New(ts ...Transformer) (*Registry, error) {
	r := &Registry{byName: map[string]Transformer{}}
	for _, t := range ts {
		if _, dup := r.byName[t.Name()]; dup {
			return nil, fmt.Errorf("transformer %q registered twice", t.Name())
		}
		r.byName[t.Name()] = t
	}
	return r, nil
}

// Builtin returns the registry of every built-in transformer.
func Builtin() *Registry {
	r, err := New(builtins()...)
	if err != nil {
		panic(err) // the built-in list is fixed at compile time
	}
	return r
}

// Get returns the transformer named name.
func (r *Registry) Get(name string) (Transformer, bool) {
	t, ok := r.byName[name]
	return t, ok
}

// Names returns every name, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Names returns the names of the built-in transformers, sorted.
func Names() []string { return Builtin().Names() }

// MinKeyLen is the shortest key accepted, in bytes.
const MinKeyLen = 16

// Key is the masking key. It never appears in output; ID names it.
type Key struct {
	key []byte
}

// NewKey checks and wraps key material.
func NewKey(material []byte) (*Key, error) {
	if len(material) < MinKeyLen {
		return nil, fmt.Errorf("key is %d bytes, want at least %d", len(material), MinKeyLen)
	}
	return &Key{key: append([]byte(nil), material...)}, nil
}

// ID is the first 12 hex digits of SHA-256(SHA-256(key)): it tells keys apart
// in dataset.json without revealing anything usable.
func (k *Key) ID() string {
	h := sha256.Sum256(k.key)
	hh := sha256.Sum256(h[:])
	return hex.EncodeToString(hh[:6])
}

// String never shows the key.
func (k *Key) String() string { return "key:" + k.ID() }

// Hasher computes per-value seeds. It is not safe for concurrent use: give
// each goroutine its own.
type Hasher struct {
	mac hash.Hash
	sum []byte
}

// NewHasher returns a hasher for the key.
func (k *Key) NewHasher() *Hasher {
	return &Hasher{mac: hmac.New(sha256.New, k.key), sum: make([]byte, 0, sha256.Size)}
}

// Seed is the first 8 bytes of HMAC-SHA256(key, orig).
func (h *Hasher) Seed(orig []byte) uint64 {
	h.mac.Reset()
	h.mac.Write(orig)
	h.sum = h.mac.Sum(h.sum[:0])
	return binary.BigEndian.Uint64(h.sum)
}

// derive mixes a value's seed with the transformer's name and the draw
// number, so each transformer (and each re-draw) has its own stream.
func derive(seed uint64, name string, attempt int) uint64 {
	x := seed ^ fnv64(name) ^ uint64(attempt)*0x9e3779b97f4a7c15
	return splitmix(x)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Fingerprint is a deterministic 64-bit hash of b (FNV-1a, mixed), used to
// tell fakes apart in unique columns.
func Fingerprint(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return splitmix(h)
}

// Rand is the per-value random source: a PCG generator reseeded for every
// value, wrapped in a gofakeit Faker.
type Rand struct {
	pcg *rand.PCG
	F   *gofakeit.Faker
}

// NewRand returns a source; reseed it with Reset before each value.
func NewRand() *Rand {
	p := rand.NewPCG(1, 2)
	return &Rand{pcg: p, F: gofakeit.NewFaker(p, false)}
}

// Reset reseeds the source.
func (r *Rand) Reset(seed uint64) { r.pcg.Seed(seed, splitmix(seed)) }

// IntN returns a number in [0, n).
func (r *Rand) IntN(n int) int { return r.F.IntN(n) }

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 { return r.pcg.Uint64() }

// MaxDraws is how often a unique value is drawn again before giving up.
const MaxDraws = 64

// ErrSpace is returned when a unique column needs more distinct fakes than a
// transformer finds.
var ErrSpace = errors.New("fake space too small")

// Worker applies transformers for one goroutine.
type Worker struct {
	h    *Hasher
	r    *Rand
	dom  *Domains
	seed uint64
}

// NewWorker returns a worker for the key. dom holds the re-draws decided for
// unique columns (read only here); nil when there are none.
func (k *Key) NewWorker(dom *Domains) *Worker {
	return &Worker{h: k.NewHasher(), r: NewRand(), dom: dom}
}

// Seed returns the keyed seed of orig (also what the leak check hashes).
func (w *Worker) Seed(orig []byte) uint64 { return w.h.Seed(orig) }

// Fake appends the fake of orig under t to dst. Identifying transformers
// never return the original itself: they draw again.
func (w *Worker) Fake(dst []byte, t Transformer, orig []byte, col Column) ([]byte, error) {
	seed := w.h.Seed(orig)
	attempt := 0
	if w.dom != nil {
		attempt = w.dom.attempt(t.Name(), seed)
	}
	return w.FakeSeeded(dst, t, orig, seed, attempt, col)
}

// FakeInfo is Fake, also returning the seed and the draw number it used.
func (w *Worker) FakeInfo(dst []byte, t Transformer, orig []byte, col Column) ([]byte, uint64, int, error) {
	seed := w.h.Seed(orig)
	attempt := 0
	if w.dom != nil {
		attempt = w.dom.attempt(t.Name(), seed)
	}
	out, err := w.FakeSeeded(dst, t, orig, seed, attempt, col)
	return out, seed, attempt, err
}

// FakeSeeded is Fake with the seed and draw number already known.
func (w *Worker) FakeSeeded(dst []byte, t Transformer, orig []byte, seed uint64, attempt int, col Column) ([]byte, error) {
	for a := attempt; a < attempt+MaxDraws; a++ {
		w.r.Reset(derive(seed, t.Name(), a))
		start := len(dst)
		out, err := t.Apply(dst, orig, w.r, col)
		if err != nil {
			return dst, err
		}
		if t.Identifying() && string(out[start:]) == string(orig) {
			dst = out[:start]
			continue
		}
		return out, nil
	}
	return dst, fmt.Errorf("%s: every draw gave the original back: %w", t.Name(), ErrSpace)
}

// Domains records, per transformer, the fakes handed to the values of unique
// columns, so that no two originals share a fake, and the draw number of each
// original that had to draw again (read by every Worker, so that the
// original gets the same fake in every column). Two ways to fill it:
//
//   - Reserve, before anything is written: every value of every unique column
//     in a fixed order (a pass over those columns first);
//   - Claim, while writing, in write order: the fake a worker drew is checked
//     and, on a collision, drawn again — unless the original was already
//     written somewhere with its first fake (ErrDrawnAfterUse): the caller
//     then starts over with Reserve.
//
// Draw numbers may be read concurrently with Claim.
type Domains struct {
	mu       sync.RWMutex
	byName   map[string]*domain
	expected int
	// only, when set, are the only transformers with domains (never
	// changed after NewDomainsFor): the others never draw again, and the
	// draw numbers of values that never drew again are read without the
	// lock.
	only map[string]*domain
}

type domain struct {
	used    *fpTable       // fingerprint of fake → seed of its original
	attempt map[uint64]int // seed of original → draw number, when > 0
	written *bloom         // seeds written so far (Claim mode)
	// redrawn has the bit seed%65536 set when attempt holds seed: a clear
	// bit means draw number 0, read without the lock. A reader that misses
	// a draw being recorded reads what it would have read a moment earlier,
	// which Claim and Written catch.
	redrawn [1024]atomic.Uint64
}

// setAttempt records the draw number of seed's original (d.mu held).
func (dm *domain) setAttempt(seed uint64, a int) {
	dm.attempt[seed] = a
	dm.redrawn[seed/64%1024].Or(1 << (seed % 64))
}

// mayHaveRedrawn is false when seed's original has draw number 0 for sure.
func (dm *domain) mayHaveRedrawn(seed uint64) bool {
	return dm.redrawn[seed/64%1024].Load()&(1<<(seed%64)) != 0
}

// fpTable maps fingerprints to seeds: open addressing with linear probing
// over one array (fingerprint 0 is stored as 1: a collision of two fakes on
// it only costs a needless draw).
type fpTable struct {
	slots []uint64 // fingerprint, seed, fingerprint, seed, …
	n     int
}

func newFPTable(expected int) *fpTable {
	size := 1024
	for size < expected*2 {
		size <<= 1
	}
	return &fpTable{slots: make([]uint64, 2*size)}
}

// probe returns the slot that holds fp (fp 0 is stored as 1), or the empty
// slot where it would go.
func (t *fpTable) probe(fp uint64) (fpKey, slot uint64) {
	if fp == 0 {
		fp = 1
	}
	mask := uint64(len(t.slots)/2 - 1)
	i := fp & mask
	for t.slots[2*i] != fp && t.slots[2*i] != 0 {
		i = (i + 1) & mask
	}
	return fp, i
}

func (t *fpTable) get(fp uint64) (uint64, bool) {
	k, i := t.probe(fp)
	if t.slots[2*i] == k {
		return t.slots[2*i+1], true
	}
	return 0, false
}

// getOrPut returns the seed stored for fp, or stores seed for it (one probe
// unless the table has to grow).
func (t *fpTable) getOrPut(fp, seed uint64) (uint64, bool) {
	k, i := t.probe(fp)
	if t.slots[2*i] == k {
		return t.slots[2*i+1], true
	}
	if t.full() {
		t.put(fp, seed)
		return seed, false
	}
	t.slots[2*i], t.slots[2*i+1] = k, seed
	t.n++
	return seed, false
}

// full reports whether one more entry would fill the table past half.
func (t *fpTable) full() bool { return (t.n+1)*2 > len(t.slots)/2 }

func (t *fpTable) put(fp, seed uint64) {
	if t.full() {
		old := t.slots
		t.slots, t.n = make([]uint64, 2*len(old)), 0
		for i := 0; i < len(old); i += 2 {
			if old[i] != 0 {
				t.put(old[i], old[i+1])
			}
		}
	}
	k, i := t.probe(fp)
	if t.slots[2*i] == 0 {
		t.n++
	}
	t.slots[2*i], t.slots[2*i+1] = k, seed
}

// NewDomains returns empty domains; expected is about how many values will
// be written under the transformers of unique columns (it sizes the record
// of written values; a bad guess only costs false restarts).
func NewDomains(expected ...int) *Domains {
	d := &Domains{byName: map[string]*domain{}}
	if len(expected) > 0 {
		d.expected = expected[0]
	}
	return d
}

// NewDomainsFor returns empty domains for the named transformers only.
func NewDomainsFor(names []string, expected int) *Domains {
	d := NewDomains(expected)
	d.only = map[string]*domain{}
	for _, n := range names {
		d.only[n] = d.domain(n)
	}
	return d
}

// ErrDrawnAfterUse is returned by Claim when an original needs another draw
// but was already written with its first fake.
var ErrDrawnAfterUse = errors.New("a unique value needs another draw after it was written elsewhere")

func (d *Domains) attempt(name string, seed uint64) int {
	if d.only != nil {
		if dm := d.only[name]; dm == nil || !dm.mayHaveRedrawn(seed) {
			return 0
		}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	dm := d.byName[name]
	if dm == nil {
		return 0
	}
	return dm.attempt[seed]
}

// Attempt returns the draw number of seed's original under the transformer.
func (d *Domains) Attempt(name string, seed uint64) int {
	if d == nil {
		return 0
	}
	return d.attempt(name, seed)
}

func (d *Domains) domain(name string) *domain {
	dm := d.byName[name]
	if dm == nil {
		dm = &domain{used: newFPTable(d.expected), attempt: map[uint64]int{}, written: newBloom(d.expected)}
		d.byName[name] = dm
	}
	return dm
}

// Reserve finds orig's fake under t so that it differs from the fake of every
// other original reserved under t, and appends it to dst. The same original
// always gets the same fake.
func (d *Domains) Reserve(w *Worker, dst []byte, t Transformer, orig []byte, col Column) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dm := d.domain(t.Name())
	seed := w.h.Seed(orig)
	start := dm.attempt[seed]
	for a := start; a < start+MaxDraws; a++ {
		out, err := w.FakeSeeded(dst, t, orig, seed, a, col)
		if err != nil {
			return dst, err
		}
		fp := Fingerprint(out[len(dst):])
		if owner, taken := dm.used.get(fp); taken && owner != seed {
			continue
		}
		dm.used.put(fp, seed)
		if a > 0 {
			dm.setAttempt(seed, a)
		}
		return out, nil
	}
	return dst, d.spaceError(t, dm, col)
}

func (d *Domains) spaceError(t Transformer, dm *domain, col Column) error {
	return fmt.Errorf("%s: no distinct fake after %d draws (%d fakes in use, the transformer makes about %s): %w",
		t.Name(), MaxDraws, dm.used.n, FormatSpace(t.Space(col)), ErrSpace)
}

// Warm reads, without changing anything, what claiming and recording these
// values under the transformer named name will read: the table slot of each
// fingerprint and the written-filter block of each seed (fps and seeds in
// pairs; a zero fingerprint is skipped). With a million values, the table and
// the filter are far larger than the processor's caches, and each claim
// would wait for its own reads from memory in turn; here the reads do not
// depend on one another, so the processor overlaps them.
func (d *Domains) Warm(name string, fps, seeds []uint64) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	dm := d.byName[name]
	if dm == nil {
		return
	}
	var sum uint64
	mask := uint64(len(dm.used.slots)/2 - 1)
	for i, seed := range seeds {
		if fp := fps[i]; fp != 0 {
			sum += dm.used.slots[2*(fp&mask)]
		}
		sum += dm.written.blocks[seed&dm.written.mask][0]
	}
	warmed.Add(sum) // keeps the reads
}

// warmed is where Warm leaves what it read.
var warmed atomic.Uint64

// Claim registers, in write order, the fake a worker drew for a value of a
// unique column (seed and draw number as the worker used them). It returns
// the fake to write: fake itself, or another draw appended to dst when fake
// belongs to another original or the original's draw number changed since.
// The value is recorded as written with the draw returned.
// fp is Fingerprint(fake), which the caller may compute ahead.
func (d *Domains) Claim(w *Worker, dst []byte, t Transformer, orig []byte, seed uint64, attempt int, fake []byte, fp uint64, col Column) ([]byte, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dm := d.domain(t.Name())
	a := 0
	if dm.mayHaveRedrawn(seed) {
		a = dm.attempt[seed]
	}
	if a == attempt {
		if owner, taken := dm.used.getOrPut(fp, seed); !taken || owner == seed {
			dm.written.add(seed)
			return fake, false, nil
		}
		if dm.written.has(seed) {
			return dst, false, ErrDrawnAfterUse
		}
		a++
	}
	for start := a; a < start+MaxDraws; a++ {
		out, err := w.FakeSeeded(dst, t, orig, seed, a, col)
		if err != nil {
			return dst, false, err
		}
		fp := Fingerprint(out[len(dst):])
		if owner, taken := dm.used.get(fp); taken && owner != seed {
			continue
		}
		dm.used.put(fp, seed)
		if a > 0 {
			dm.setAttempt(seed, a)
		}
		dm.written.add(seed)
		return out, true, nil
	}
	return dst, false, d.spaceError(t, dm, col)
}

// Written records that seed's original was written under the transformer
// with draw number attempt; false when that number is no longer its own (the
// caller must then write the current draw, or start over).
func (d *Domains) Written(name string, seed uint64, attempt int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	dm := d.domain(name)
	dm.written.add(seed)
	return dm.attempt[seed] == attempt
}

// Used returns how many distinct fakes t has handed out.
func (d *Domains) Used(name string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if dm := d.byName[name]; dm != nil {
		return dm.used.n
	}
	return 0
}

// bloom is a blocked Bloom filter of seeds (already uniformly distributed):
// the 8 probes of a seed fall in one 512-bit block, one cache line, and
// there are about 24 bits per expected entry (false positives near 1e-4).
type bloom struct {
	blocks [][8]uint64
	mask   uint64
}

func newBloom(expected int) *bloom {
	n := uint64(1 << 7) // blocks of 512 bits
	for n*512 < uint64(expected)*24 {
		n <<= 1
	}
	return &bloom{blocks: make([][8]uint64, n), mask: n - 1}
}

func (b *bloom) add(seed uint64) {
	blk := &b.blocks[seed&b.mask]
	h := splitmix(seed)
	for i := 0; i < 8; i++ {
		bit := (h >> (i * 8)) & 511
		blk[bit/64] |= 1 << (bit % 64)
		if i == 3 {
			h = splitmix(h)
		}
	}
}

func (b *bloom) has(seed uint64) bool {
	blk := &b.blocks[seed&b.mask]
	h := splitmix(seed)
	for i := 0; i < 8; i++ {
		bit := (h >> (i * 8)) & 511
		if blk[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
		if i == 3 {
			h = splitmix(h)
		}
	}
	return true
}

// FormatSpace renders a space estimate for messages.
func FormatSpace(s float64) string {
	switch {
	case math.IsInf(s, 1) || s >= 1e15:
		return "unlimited"
	case s >= 1e6:
		return fmt.Sprintf("%.3g", s)
	}
	return fmt.Sprintf("%.0f", s)
}
