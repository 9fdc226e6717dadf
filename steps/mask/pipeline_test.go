package mask

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

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
