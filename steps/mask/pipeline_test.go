package mask

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// A cached fake is the fake: small caches (values evict each other), values
// too long to keep, empty values, and a cache that turns itself off.
func TestFakeCacheGivesTheFake(t *testing.T) {
	key, _ := transform.NewKey(testKey)
	reg := transform.Builtin()
	for _, tc := range []struct {
		name, transformer string
		rows              int64 // sizes the cache
		value             func(i int) string
		off               bool
	}{
		{"repeating names, evicting each other", "first-name", 10, func(i int) string { return fmt.Sprintf("Name%d", i*7919%200) }, false},
		{"values too long to keep", "text", 1000, func(i int) string { return strings.Repeat("word ", 10+i%5) }, true},
		{"empty values", "text", 1000, func(i int) string { return [...]string{"", "a", ""}[i%3] }, false},
		{"distinct values turn it off", "phone", 1e6, func(i int) string { return fmt.Sprintf("+33 6 %08d", i) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := reg.Get(tc.transformer)
			cp := &colPlan{c: &dbschema.Column{Name: "c"}, tr: tr, tcol: transform.Column{DataType: "varchar", Length: 255}}
			c := newFakeCache(tc.rows)
			cached, direct := key.NewWorker(nil), key.NewWorker(nil)
			for i := 0; i < 20000; i++ {
				v := []byte(tc.value(i))
				got, err := c.appendFake([]byte("prefix"), cached, cp, v)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := direct.Fake([]byte("prefix"), tr, v, cp.tcol)
				if string(got) != string(want) {
					t.Fatalf("appendFake(%q) = %q, want %q", v, got, want)
				}
			}
			if c.off != tc.off {
				t.Errorf("cache off = %v after 20,000 values (%d hits), want %v", c.off, c.hits, tc.off)
			}
		})
	}
}

// Two values whose hashes choose the same place are both remembered: the
// second does not evict the first.
func TestFakeCacheKeepsTwoPerSet(t *testing.T) {
	key, _ := transform.NewKey(testKey)
	tr, _ := transform.Builtin().Get("first-name")
	cp := &colPlan{c: &dbschema.Column{Name: "c"}, tr: tr, tcol: transform.Column{DataType: "varchar", Length: 255}}
	c := newFakeCache(1000)
	w := key.NewWorker(nil)
	first := []byte("Name0")
	c.appendFake(nil, w, cp, first) // allocates the slots
	place := func(v []byte) uint64 { return maphash.Bytes(c.seed, v) & uint64(len(c.slots)-1) }
	var second []byte
	for i := 1; second == nil; i++ {
		if v := fmt.Appendf(nil, "Name%d", i); place(v) == place(first) {
			second = v
		}
	}
	c.appendFake(nil, w, cp, second)
	hits := c.hits
	c.appendFake(nil, w, cp, first)
	c.appendFake(nil, w, cp, second)
	if c.hits != hits+2 {
		t.Errorf("%d hits for two values sharing a place, want 2", c.hits-hits)
	}
}

func TestSortedHashes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000, 100000} {
		a := make([]uint64, n)
		for i := range a {
			a[i] = rand.Uint64()
			if i%10 == 0 {
				a[i] = uint64(i) // small values and duplicates
			}
		}
		orig := slices.Clone(a)
		got := sortedHashes(a)
		if want := slices.Sorted(slices.Values(orig)); !slices.Equal(got, want) {
			t.Errorf("sortedHashes(%d hashes) is not sorted", n)
		}
		if !slices.Equal(a, orig) {
			t.Errorf("sortedHashes(%d hashes) changed its input", n)
		}
	}
}

// The scaler tries a worker more only after a window in which the writer
// waited on the transform (with read batches queued) longer than on the
// sink, keeps it only when rows went trialGain times as fast, and tries no
// more after a trial that did not pay.
func TestScaler(t *testing.T) {
	now := time.Unix(0, 0)
	sc := newScaler(3, now)
	// window writes a window of batches of 100 rows, each batch taking
	// batch, of which the writer waited xform on the transform and sink on
	// the sink.
	window := func(batch, xform, sink time.Duration) {
		for i := 0; i < scaleWindow; i++ {
			now = now.Add(batch)
			sc.waited(xform)
			sc.wrote(now, 100, sink)
		}
	}
	active := func() int { return int(sc.active.Load()) }
	window(time.Millisecond, time.Millisecond, 0) // start-up: decides nothing
	window(time.Millisecond, 0, time.Millisecond) // bound by the sink
	window(time.Millisecond, 0, 0)                // nobody waits
	if active() != 1 {
		t.Fatalf("active = %d after windows not bound by the transform, want 1", active())
	}
	window(time.Millisecond, time.Millisecond, 0) // bound by the transform: a trial
	if active() != 2 || len(sc.wake[1]) != 1 {
		t.Fatalf("active = %d after a window bound by the transform, want 2 (woken)", active())
	}
	for i := 0; i < scaleWindow-1; i++ { // the trial pays...
		now = now.Add(time.Millisecond / 2)
		sc.wrote(now, 100, 0)
	}
	if active() != 2 || sc.windows != 4 {
		t.Fatalf("active = %d, %d windows in the middle of a window, want 2 and 4", active(), sc.windows)
	}
	now = now.Add(time.Millisecond / 2) // ...as the window ends
	sc.wrote(now, 100, 0)
	if active() != 2 {
		t.Fatalf("active = %d after a trial that made the load faster, want 2", active())
	}
	window(time.Millisecond/2, time.Millisecond/2, 0) // a second trial
	if active() != 3 {
		t.Fatalf("active = %d, want a trial of 3", active())
	}
	window(time.Millisecond/2, time.Millisecond/2, 0) // that does not pay
	if active() != 2 || !sc.settled {
		t.Fatalf("active = %d after a trial that did not pay, want 2 and no more trials", active())
	}
	window(time.Millisecond, time.Millisecond, 0)
	if active() != 2 {
		t.Fatalf("active = %d after the trials ended, want 2", active())
	}
}

// slowSink takes every batch after a pause, as a database server slower
// than the transform does.
type slowSink struct{ pause time.Duration }

func (s slowSink) write(context.Context, *batch) error { time.Sleep(s.pause); return nil }
func (slowSink) finish(context.Context) (int64, error) { return 0, nil }
func (slowSink) abort(error)                           {}

// A load bound by its sink keeps one transform goroutine. Workers woken,
// parked and woken again while rows flow (the policy forced) leave the rows
// written as they are.
func TestStreamScalesWorkers(t *testing.T) {
	const rows, batchRows = 48 * 1024, 512
	tp := benchTable(t, false)
	key, _ := transform.NewKey(testKey)
	batches := benchBatches(len(tp.load), rows, batchRows)
	run := func(dst sink, workers int) tableResult {
		t.Helper()
		res, err := stream(context.Background(), tp, replay(batches), dst, key, benchUniques(tp, rows), newLeaks(), workers, batchRows)
		if err != nil || res.written != rows {
			t.Fatalf("stream = %d rows, %v", res.written, err)
		}
		return res
	}
	one := run(discard{}, 1)
	if res := run(slowSink{2 * time.Millisecond}, 3); res.workers != 1 || res.digest != one.digest {
		t.Errorf("bound by the sink: ended with %d workers (want 1), same rows %v", res.workers, res.digest == one.digest)
	}
	testScalePolicy = func(window int) int { return []int{3, 1, 2, 3, 1, 3}[window%6] }
	defer func() { testScalePolicy = nil }()
	if res := run(discard{}, 3); res.digest != one.digest {
		t.Errorf("the rows written depend on the workers")
	}
}
