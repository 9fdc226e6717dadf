package mask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// batch is a run of rows moving through the pipeline: read → transform →
// write, in order.
type batch struct {
	seq   int
	n     int      // rows
	ncol  int      // fields per row
	in    []byte   // input fields, back to back
	inEnd []int    // end offset of each field in in
	inNil []bool   // NULL fields
	out   []byte   // output fields
	oEnd  []int    // end offset of each output field
	oNil  []bool   // NULL output fields
	tsv   []byte   // the rows as LOAD DATA text
	origs []uint64 // hashes of original sensitive values
	kept  [][]uint64
	doms  []domValue // values under the transformers of unique columns
	err   error
}

// domValue is a value written under a transformer some unique column uses:
// the writer checks its draw against the unique domains, in write order.
type domValue struct {
	field   int // index of the output field; -1 for a value inside a JSON document
	name    string
	seed    uint64
	fp      uint64 // fingerprint of the fake (claimed columns)
	attempt int
}

func (b *batch) reset(ncol int) {
	b.n, b.ncol = 0, ncol
	b.in, b.inEnd, b.inNil = b.in[:0], b.inEnd[:0], b.inNil[:0]
	b.resetOutput()
}

// resetOutput forgets what transform made of the batch.
func (b *batch) resetOutput() {
	b.out, b.oEnd, b.oNil = b.out[:0], b.oEnd[:0], b.oNil[:0]
	b.tsv, b.origs, b.doms, b.err = b.tsv[:0], b.origs[:0], b.doms[:0], nil
	if len(b.kept) != b.ncol {
		b.kept = make([][]uint64, b.ncol)
	}
	for i := range b.kept {
		b.kept[i] = b.kept[i][:0]
	}
}

func (b *batch) addField(v []byte, null bool) {
	b.in = append(b.in, v...)
	b.inEnd = append(b.inEnd, len(b.in))
	b.inNil = append(b.inNil, null)
}

func (b *batch) field(i int) ([]byte, bool) {
	start := 0
	if i > 0 {
		start = b.inEnd[i-1]
	}
	return b.in[start:b.inEnd[i]], b.inNil[i]
}

func (b *batch) outField(i int) ([]byte, bool) {
	start := 0
	if i > 0 {
		start = b.oEnd[i-1]
	}
	return b.out[start:b.oEnd[i]], b.oNil[i]
}

// leaks collects, for the leak check, hashes of the original sensitive
// values and of every value written unchanged (per column), never the values.
type leaks struct {
	seed  maphash.Seed
	origs []uint64
	kept  map[string][]uint64
}

func newLeaks() *leaks { return &leaks{seed: maphash.MakeSeed(), kept: map[string][]uint64{}} }

// minLeak is the shortest value the leak check considers: shorter ones do
// not identify anybody and would match by chance.
const minLeak = 5

// addKept hashes a kept value and its words.
func (lk *leaks) hashKept(dst []uint64, v []byte) []uint64 {
	if len(v) < minLeak {
		return dst
	}
	dst = append(dst, maphash.Bytes(lk.seed, v))
	start, split := 0, false
	for i := 0; i <= len(v); i++ {
		if i < len(v) && !isSep(v[i]) {
			continue
		}
		if i < len(v) {
			split = true
		}
		w := bytes.TrimRight(v[start:i], ".:!?")
		if split && len(w) >= minLeak && len(w) < len(v) {
			dst = append(dst, maphash.Bytes(lk.seed, w))
		}
		start = i + 1
	}
	return dst
}

func isSep(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ';', '<', '>', '(', ')', '"', '\'', '[', ']', '{', '}':
		return true
	}
	return false
}

// sink receives a table's rows in order.
type sink interface {
	write(ctx context.Context, b *batch) error
	// finish completes the load and returns the rows the server took.
	finish(ctx context.Context) (int64, error)
	// abort stops the load after a failure elsewhere.
	abort(err error)
}

// source yields a table's rows in batches taken from take, handing each to
// emit (false: stop); it returns nil at the end.
type source func(ctx context.Context, take func() *batch, emit func(b *batch) bool) error

// pipeWorker transforms rows, on one goroutine.
type pipeWorker struct {
	w       *transform.Worker
	lk      *leaks
	domains map[string]bool // transformers of unique columns
	cols    []workerColumn  // per loaded column
	tmp     []byte
}

// workerColumn is what a worker keeps per column.
type workerColumn struct {
	// checked: the column's transformer is one a unique column uses, so the
	// writer checks every value written under it, in write order.
	checked bool
	cache   *fakeCache // fakes of recent values; nil when not cached
}

// newPipeWorker returns a worker for tp's rows; domains are the transformers
// of unique columns.
func newPipeWorker(tp *tablePlan, w *transform.Worker, lk *leaks, domains map[string]bool) *pipeWorker {
	pw := &pipeWorker{w: w, lk: lk, domains: domains, cols: make([]workerColumn, len(tp.load))}
	for i, cp := range tp.load {
		pw.cols[i].checked = domains[cp.name]
		if cp.tr != nil && cp.json == nil && !pw.cols[i].checked && !tp.synthetic {
			pw.cols[i].cache = newFakeCache(tp.rowCount)
		}
	}
	return pw
}

// fakeCache remembers the fakes of a column's recent values in sets of two
// slots, the set chosen by a hash of the value: a new value takes the first
// slot and moves the one there to the second, dropping the older (over a
// million rows with 20,000 dates of birth, 26% of the lookups missed with
// one slot per set, 15% with two). Values often repeat (first names, cities, dates of
// birth): a hit costs a hash and comparisons within two cache lines where a
// draw costs the keyed hash and the generator. The cache turns itself off
// when the column's values do not repeat (emails, phone numbers): then
// storing costs more than it saves.
type fakeCache struct {
	seed          maphash.Seed
	slots         []cacheSlot // allocated at the first lookup
	size          int
	lookups, hits int
	off           bool
}

// cacheSlot holds a value and its fake back to back, when together they fit
// its 64 bytes; n+m == 0 is an empty slot.
type cacheSlot struct {
	n, m uint8 // lengths of the value and of its fake
	kv   [62]byte
}

// maxCacheSlots bounds each column's cache.
const maxCacheSlots = 1 << 15

// newFakeCache returns a cache for a column of a table of about rows rows
// (0: unknown).
func newFakeCache(rows int64) *fakeCache {
	size := maxCacheSlots
	for size > 256 && rows > 0 && int64(size/2) >= rows {
		size /= 2
	}
	return &fakeCache{seed: maphash.MakeSeed(), size: size}
}

// appendFake appends the fake of v under cp's transformer to dst: the one
// remembered, or a new draw (then remembered).
func (c *fakeCache) appendFake(dst []byte, w *transform.Worker, cp *colPlan, v []byte) ([]byte, error) {
	if !c.off && c.lookups == 16384 && c.hits < 1638 { // fewer than one hit in ten
		c.off, c.slots = true, nil
	}
	if c.off {
		return w.Fake(dst, cp.tr, v, cp.tcol)
	}
	if c.slots == nil {
		c.slots = make([]cacheSlot, c.size)
	}
	i := maphash.Bytes(c.seed, v) & uint64(len(c.slots)-1) &^ 1
	set := c.slots[i : i+2 : i+2]
	c.lookups++
	for k := range set {
		if s := &set[k]; s.holds(v) {
			c.hits++
			return append(dst, s.kv[s.n:s.n+s.m]...), nil
		}
	}
	start := len(dst)
	dst, err := w.Fake(dst, cp.tr, v, cp.tcol)
	if err != nil {
		return dst, err
	}
	if fake := dst[start:]; len(v)+len(fake) <= len(set[0].kv) {
		set[1] = set[0]
		set[0].n, set[0].m = uint8(len(v)), uint8(len(fake))
		copy(set[0].kv[copy(set[0].kv[:], v):], fake)
	}
	return dst, nil
}

// holds reports whether the slot remembers value v.
func (s *cacheSlot) holds(v []byte) bool {
	return int(s.n)+int(s.m) > 0 && int(s.n) == len(v) && string(s.kv[:s.n]) == string(v)
}

// transform computes a batch's output fields, their LOAD DATA text and the
// leak hashes.
func (pw *pipeWorker) transform(tp *tablePlan, b *batch) {
	cols := tp.load
	for r := 0; r < b.n; r++ {
		for ci, cp := range cols {
			i := r*b.ncol + ci
			v, null := b.field(i)
			switch {
			case null || (cp.name == "null" && !tp.synthetic):
				b.oEnd = append(b.oEnd, len(b.out))
				b.oNil = append(b.oNil, true)
				continue
			case tp.synthetic:
				// Generated values are final: the generator applied the
				// transformers.
				b.out = append(b.out, v...)
			case cp.json != nil:
				out, err := pw.maskJSON(b, ci, cp, v)
				if err != nil {
					b.err = fmt.Errorf("%s.%s: %w", tp.t.Name, cp.c.Name, err)
					return
				}
				b.out = out
			case cp.tr == nil:
				b.out = append(b.out, v...)
				if cp.class == transform.Text {
					b.kept[ci] = pw.lk.hashKept(b.kept[ci], v)
				}
			case !pw.cols[ci].checked:
				out, err := pw.cols[ci].cache.appendFake(b.out, pw.w, cp, v)
				if err != nil {
					b.err = fmt.Errorf("%s.%s: %w", tp.t.Name, cp.c.Name, err)
					return
				}
				b.out = out
			default:
				out, seed, attempt, err := pw.w.FakeInfo(b.out, cp.tr, v, cp.tcol)
				if err != nil {
					b.err = fmt.Errorf("%s.%s: %w", tp.t.Name, cp.c.Name, err)
					return
				}
				start := len(b.out)
				b.out = out
				dv := domValue{field: i, name: cp.name, seed: seed, attempt: attempt}
				if cp.claim {
					dv.fp = transform.Fingerprint(out[start:])
				}
				b.doms = append(b.doms, dv)
			}
			if !tp.synthetic && cp.json == nil && cp.tr != nil && cp.tr.Identifying() && len(v) >= minLeak {
				b.origs = append(b.origs, maphash.Bytes(pw.lk.seed, v))
			}
			b.oEnd = append(b.oEnd, len(b.out))
			b.oNil = append(b.oNil, false)
		}
	}
	b.encode()
}

// encode writes the output fields as LOAD DATA text.
func (b *batch) encode() {
	b.tsv = b.tsv[:0]
	for r := 0; r < b.n; r++ {
		for ci := 0; ci < b.ncol; ci++ {
			if ci > 0 {
				b.tsv = append(b.tsv, '\t')
			}
			v, null := b.outField(r*b.ncol + ci)
			if null {
				b.tsv = append(b.tsv, '\\', 'N')
				continue
			}
			b.tsv = appendEscaped(b.tsv, v)
		}
		b.tsv = append(b.tsv, '\n')
	}
}

// replace swaps output fields (index → new value) and re-encodes the batch.
func (b *batch) replace(fields map[int][]byte) {
	size := len(b.out)
	for _, v := range fields {
		size += len(v)
	}
	out := make([]byte, 0, size)
	ends := make([]int, 0, len(b.oEnd))
	for i := range b.oEnd {
		v, _ := b.outField(i)
		if nv, ok := fields[i]; ok {
			v = nv
		}
		out = append(out, v...)
		ends = append(ends, len(out))
	}
	b.out, b.oEnd = out, ends
	b.encode()
}

// maskJSON rewrites one JSON document, leaf by leaf.
func (pw *pipeWorker) maskJSON(b *batch, ci int, cp *colPlan, doc []byte) ([]byte, error) {
	start := len(b.out)
	out, err := rewriteJSON(b.out, doc, func(l leaf) (jsontext.Value, error) {
		lp, err := cp.json.get(l)
		if err != nil {
			return nil, err
		}
		text := leafText(l)
		if lp.tr == nil {
			if l.Kind == '"' {
				b.kept[ci] = pw.lk.hashKept(b.kept[ci], text)
			}
			return nil, nil
		}
		if lp.tn == "null" {
			return jsontext.Value("null"), nil
		}
		var seed uint64
		var attempt int
		pw.tmp, seed, attempt, err = pw.w.FakeInfo(pw.tmp[:0], lp.tr, text, lp.col)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Path, err)
		}
		if pw.domains[lp.tn] {
			b.doms = append(b.doms, domValue{field: -1, name: lp.tn, seed: seed, attempt: attempt})
		}
		if lp.tr.Identifying() && len(text) >= minLeak {
			b.origs = append(b.origs, maphash.Bytes(pw.lk.seed, text))
		}
		if l.Kind == '0' && jsontext.Value(pw.tmp).IsValid() {
			return jsontext.Value(append([]byte(nil), pw.tmp...)), nil
		}
		q, err := jsontext.AppendQuote(nil, pw.tmp)
		if err != nil {
			return nil, err
		}
		return jsontext.Value(q), nil
	})
	if err != nil {
		// A value that is not JSON cannot be walked: it is not written as
		// it is (it may hold anything); the load fails with the reason.
		return b.out[:start], fmt.Errorf("not a JSON document: %w", err)
	}
	return out, nil
}

// escapes marks the bytes LOAD DATA needs escaped.
var escapes = [256]bool{'\\': true, '\t': true, '\n': true, '\r': true, 0: true}

// appendEscaped writes v for LOAD DATA ... FIELDS ESCAPED BY '\\'.
func appendEscaped(dst, v []byte) []byte {
	i := 0
	for i < len(v) && !escapes[v[i]] {
		i++
	}
	dst = append(dst, v[:i]...)
	for _, c := range v[i:] {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0:
			dst = append(dst, '\\', '0')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// tableResult is what streaming one table produced.
type tableResult struct {
	read    int64 // rows read from the source (or generated)
	written int64 // rows sent to the sink
	loaded  int64 // rows the server took
	digest  string
	workers int // transform goroutines running at the end
}

// scaler decides how many transform goroutines run. A load starts with one.
// After a window of batches in which the writer waited longer for
// transformed batches (while read ones were queued for a worker) than for
// the sink, it wakes one more for a trial window, and keeps it only if rows
// were written at least trialGain times as fast; otherwise that worker is
// parked again and the table goes on without trials. A second worker helps
// when the client has a core to itself; when the database server shares the
// machine the cores are already busy, and on the 2-core benchmark machine a
// second worker made the masked million-row load slower (hack/bench/mask.sh).
type scaler struct {
	max    int
	active atomic.Int32    // workers allowed to take batches
	wake   []chan struct{} // per worker, buffered: a parked worker waits on its own
	// policy, when set (tests), decides the active count after each window
	// instead of the measurement.
	policy func(window int) int

	windows             int
	batches, rows       int
	start               time.Time // of the window
	waitXform, waitSink time.Duration
	trial               bool
	base                float64 // rows/s before the trial
	settled             bool    // a trial failed: no more
}

// testScalePolicy, when set by a test, decides every load's worker count.
var testScalePolicy func(window int) int

// Windows: how many batches a decision looks at, and how much faster a
// trial worker must make the load to stay.
const (
	scaleWindow = 32
	trialGain   = 1.2
)

func newScaler(max int, now time.Time) *scaler {
	s := &scaler{max: max, start: now}
	s.active.Store(1)
	for range max {
		s.wake = append(s.wake, make(chan struct{}, 1))
	}
	return s
}

// waited records the writer waiting d for a transformed batch while read
// batches were queued.
func (s *scaler) waited(d time.Duration) { s.waitXform += d }

// wrote records a batch of rows written at now, the sink taking d; at the
// end of a window it decides.
func (s *scaler) wrote(now time.Time, rows int, d time.Duration) {
	s.waitSink += d
	s.rows += rows
	if s.batches++; s.batches < scaleWindow {
		return
	}
	s.windows++
	rate := float64(s.rows) / max(now.Sub(s.start).Seconds(), 1e-9)
	n := int(s.active.Load())
	switch {
	case s.policy != nil:
		n = min(max(s.policy(s.windows), 1), s.max)
	case s.trial:
		s.trial = false
		if rate < s.base*trialGain {
			n--
			s.settled = true
		}
	case s.windows > 1 && !s.settled && n < s.max && s.waitXform > s.waitSink:
		// (The first window holds the start-up: it decides nothing.)
		s.trial, s.base = true, rate
		n++
	}
	s.set(n)
	s.batches, s.rows, s.start, s.waitXform, s.waitSink = 0, 0, now, 0, 0
}

// set allows n workers, waking those that were parked.
func (s *scaler) set(n int) {
	for i := int(s.active.Load()); i < n; i++ {
		select {
		case s.wake[i] <- struct{}{}:
		default:
		}
	}
	s.active.Store(int32(n))
}

// park is where worker i waits while it is not allowed to work; false: the
// load is over (everything was read, or it was cancelled).
func (s *scaler) park(ctx context.Context, i int, readDone <-chan struct{}) bool {
	for i >= int(s.active.Load()) {
		select {
		case <-s.wake[i]:
		case <-readDone: // the allowed workers finish what was read
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// stream runs one table through read → transform → write with workers
// goroutines transforming in between, keeping row order.
func stream(ctx context.Context, tp *tablePlan, src source, dst sink, key *transform.Key, uq *uniques, lk *leaks, workers, batchRows int) (tableResult, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ncol := len(tp.load)
	free := make(chan *batch, workers*2+2)
	for i := 0; i < cap(free); i++ {
		free <- &batch{}
	}
	jobs := make(chan *batch, workers)
	done := make(chan *batch, workers*2+2)
	var res tableResult
	var readErr error
	readDone := make(chan struct{}) // closed once readErr and res.read are final
	go func() {
		defer close(readDone)
		defer close(jobs)
		seq := 0
		take := func() *batch {
			b := takeBatch(free)
			b.reset(ncol)
			return b
		}
		readErr = src(ctx, take, func(b *batch) bool {
			b.seq = seq
			seq++
			res.read += int64(b.n)
			select {
			case jobs <- b:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	// Every worker is started; all but the allowed ones wait (see scaler).
	sc := newScaler(workers, time.Now())
	if testScalePolicy != nil {
		sc.policy = testScalePolicy
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := newPipeWorker(tp, key.NewWorker(uq.dom), lk, uq.names)
			for sc.park(ctx, i, readDone) {
				b, ok := <-jobs
				if !ok {
					return
				}
				pw.transform(tp, b)
				select {
				case done <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	h := sha256.New()
	pending := map[int]*batch{}
	next := 0
	var werr error
	checker := key.NewWorker(uq.dom)
	write := func(b *batch) error {
		if b.err != nil {
			return b.err
		}
		if err := uq.check(tp, b, checker); err != nil {
			return err
		}
		h.Write(b.tsv)
		t0 := time.Now()
		if err := dst.write(ctx, b); err != nil {
			return err
		}
		now := time.Now()
		sc.wrote(now, b.n, now.Sub(t0))
		res.written += int64(b.n)
		lk.origs = append(lk.origs, b.origs...)
		for ci, k := range b.kept {
			if len(k) > 0 {
				name := tp.t.Name + "." + tp.load[ci].c.Name
				lk.kept[name] = append(lk.kept[name], k...)
			}
		}
		return nil
	}
	for {
		queued := len(jobs) > 0
		t0 := time.Now()
		b, ok := <-done
		if !ok {
			break
		}
		if queued {
			sc.waited(time.Since(t0))
		}
		if werr != nil {
			continue
		}
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := write(nb); err != nil {
				werr = err
				cancel()
				break
			}
			recycle(free, nb)
		}
	}
	// On a failure the workers may stop before the reader: wait for it (the
	// context is cancelled, so it stops too).
	<-readDone
	if werr == nil && readErr != nil && !errors.Is(readErr, context.Canceled) {
		werr = readErr
	}
	if werr == nil && ctx.Err() != nil {
		werr = ctx.Err()
	}
	if werr != nil {
		dst.abort(werr)
		return res, werr
	}
	n, err := dst.finish(ctx)
	if err != nil {
		return res, err
	}
	res.loaded, res.workers = n, int(sc.active.Load())
	res.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return res, nil
}

func recycle(free chan *batch, b *batch) {
	select {
	case free <- b:
	default:
	}
}

// takeBatch hands out a recycled batch, or a new one.
func takeBatch(free chan *batch) *batch {
	select {
	case b := <-free:
		return b
	default:
		return &batch{}
	}
}

// readSource reads a table from the source in key order, keeping the rows
// whose key is in tp.keys when the table is a subset.
func readSource(db queryer, schema string, tp *tablePlan, batchRows int) source {
	return func(ctx context.Context, take func() *batch, emit func(b *batch) bool) error {
		exprs := make([]string, len(tp.load))
		keyIdx := make([]int, len(tp.key))
		for i, c := range tp.load {
			exprs[i] = selectExpr(c)
		}
		for k, name := range tp.key {
			keyIdx[k] = -1
			for i, c := range tp.load {
				if c.c.Name == name {
					keyIdx[k] = i
				}
			}
		}
		q := fmt.Sprintf("SELECT %s FROM %s.%s ORDER BY %s", strings.Join(exprs, ", "),
			dbschema.Quote(schema), dbschema.Quote(tp.t.Name), dbschema.QuoteList(tp.key))
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", schema, tp.t.Name, err)
		}
		defer rows.Close()
		raw := make([]sql.RawBytes, len(tp.load))
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		b := take()
		var kb []byte
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return fmt.Errorf("read %s.%s: %w", schema, tp.t.Name, err)
			}
			if tp.keys != nil {
				kb = kb[:0]
				for _, i := range keyIdx {
					kb = appendKey(kb, raw[i], raw[i] == nil)
				}
				if _, ok := tp.keys[string(kb)]; !ok {
					continue
				}
			}
			for _, v := range raw {
				b.addField(v, v == nil)
			}
			b.n++
			if b.n >= batchRows {
				if !emit(b) {
					return ctx.Err()
				}
				b = take()
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s.%s: %w", schema, tp.t.Name, err)
		}
		if b.n > 0 && !emit(b) {
			return ctx.Err()
		}
		return nil
	}
}

// appendKey appends one key field, length-prefixed so keys compare exactly.
func appendKey(dst, v []byte, null bool) []byte {
	if null {
		return append(dst, 0xff, 0xff, 0xff, 0xff)
	}
	n := len(v)
	dst = append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(dst, v...)
}

// queryer is a *sql.DB, *sql.Conn or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// uniques is how a run keeps unique columns unique.
type uniques struct {
	dom *transform.Domains
	// names are the transformers some unique column uses: every value
	// written under them is checked.
	names map[string]bool
	// inline: fakes of unique columns are claimed while writing; otherwise
	// they were all reserved before the load and the domains are fixed.
	inline  bool
	redraws int
	// fps and seeds are check's scratch space.
	fps, seeds []uint64
}

// warmRun is how many values check reads ahead at a time: enough for the
// processor to overlap their reads, few enough that what it read is still in
// its caches when the values are checked.
const warmRun = 256

// warm reads ahead what checking doms will read (see Domains.Warm).
func (uq *uniques) warm(doms []domValue) {
	for name := range uq.names {
		uq.fps, uq.seeds = uq.fps[:0], uq.seeds[:0]
		for _, dv := range doms {
			if dv.name == name {
				uq.fps, uq.seeds = append(uq.fps, dv.fp), append(uq.seeds, dv.seed)
			}
		}
		if len(uq.seeds) > 0 {
			uq.dom.Warm(name, uq.fps, uq.seeds)
		}
	}
}

// errRestart asks the run to start over, reserving the fakes of unique
// columns before loading.
var errRestart = errors.New("restart with a reservation pass")

// check runs, in write order, the values of a batch written under the
// transformers of unique columns: a unique column's fake must be its own (or
// is drawn again), and every value must use its original's current draw.
func (uq *uniques) check(tp *tablePlan, b *batch, w *transform.Worker) error {
	if !uq.inline || len(b.doms) == 0 {
		return nil
	}
	var patch map[int][]byte
	for i, dv := range b.doms {
		if i%warmRun == 0 {
			uq.warm(b.doms[i:min(i+warmRun, len(b.doms))])
		}
		if dv.field < 0 {
			if !uq.dom.Written(dv.name, dv.seed, dv.attempt) {
				return errRestart // inside a JSON document: not patched in place
			}
			continue
		}
		cp := tp.load[dv.field%b.ncol]
		orig, _ := b.field(dv.field)
		fake, _ := b.outField(dv.field)
		if cp.claim {
			out, changed, err := uq.dom.Claim(w, nil, cp.tr, orig, dv.seed, dv.attempt, fake, dv.fp, cp.tcol)
			switch {
			case errors.Is(err, transform.ErrDrawnAfterUse):
				return errRestart
			case errors.Is(err, transform.ErrSpace):
				return exitcode.Inputf("%s.%s is unique: %v; choose another transformer for it (rule %s)", tp.t.Name, cp.c.Name, err, cp.rule)
			case err != nil:
				return err
			}
			if changed {
				uq.redraws++
				if patch == nil {
					patch = map[int][]byte{}
				}
				patch[dv.field] = out
			}
			continue // Claim recorded it as written
		}
		if !uq.dom.Written(dv.name, dv.seed, dv.attempt) {
			// Drawn again after the worker ran: write the current draw.
			out, err := w.FakeSeeded(nil, cp.tr, orig, dv.seed, uq.dom.Attempt(dv.name, dv.seed), cp.tcol)
			if err != nil {
				return err
			}
			if patch == nil {
				patch = map[int][]byte{}
			}
			patch[dv.field] = out
		}
	}
	if patch != nil {
		b.replace(patch)
	}
	return nil
}
