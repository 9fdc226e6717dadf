package gitdiff

import (
	"bytes"
	"hash/maphash"
)

// lineCounter counts added and removed lines between two texts. It keeps its
// buffers between calls.
type lineCounter struct {
	seed   maphash.Seed
	seeded bool
	a, b   []uint64
	counts map[uint64]int32
	v      []int
	fa, fb []uint64
}

// maxCost bounds the Myers search (edit distance × length). Past it the counts
// come from line multisets: never more than the minimal diff's, and equal to
// it whenever the common lines are in the same order.
const maxCost = 1 << 26

// count returns (added, removed) from old to cur, lines split at '\n' with the
// terminator part of the line (so a missing final newline changes that line, as
// in git).
func (lc *lineCounter) count(old, cur []byte) (added, removed int) {
	if !lc.seeded {
		lc.seed = maphash.MakeSeed()
		lc.seeded = true
	}
	lc.a = lc.hashLines(lc.a[:0], old)
	lc.b = lc.hashLines(lc.b[:0], cur)
	a, b := lc.a, lc.b
	// Common prefix and suffix are never part of the diff.
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	if len(a) == 0 || len(b) == 0 {
		return len(b), len(a)
	}
	// Lines that occur only on one side cannot be common: drop them (git's
	// xdiff does the same) before the search.
	if lc.counts == nil {
		lc.counts = map[uint64]int32{}
	}
	clear(lc.counts)
	for _, h := range a {
		lc.counts[h] |= 1
	}
	for _, h := range b {
		lc.counts[h] |= 2
	}
	lc.fa, lc.fb = lc.fa[:0], lc.fb[:0]
	for _, h := range a {
		if lc.counts[h] == 3 {
			lc.fa = append(lc.fa, h)
		}
	}
	for _, h := range b {
		if lc.counts[h] == 3 {
			lc.fb = append(lc.fb, h)
		}
	}
	lcs := lc.lcs(lc.fa, lc.fb)
	return len(b) - lcs, len(a) - lcs
}

func (lc *lineCounter) hashLines(dst []uint64, text []byte) []uint64 {
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			i = len(text) - 1
		}
		dst = append(dst, maphash.Bytes(lc.seed, text[:i+1]))
		text = text[i+1:]
	}
	return dst
}

// lcs is the length of the longest common subsequence of a and b, by Myers'
// O((N+M)D) greedy search for the shortest edit script.
func (lc *lineCounter) lcs(a, b []uint64) int {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return 0
	}
	maxD := n + m
	off := maxD + 1
	if cap(lc.v) < 2*maxD+3 {
		lc.v = make([]int, 2*maxD+3)
	}
	v := lc.v[:2*maxD+3]
	v[off+1] = 0
	for d := 0; d <= maxD; d++ {
		if d*(n+m) > maxCost {
			return multisetCommon(a, b)
		}
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return (n + m - d) / 2
			}
		}
	}
	return 0
}

// multisetCommon counts the lines a and b have in common, ignoring order.
func multisetCommon(a, b []uint64) int {
	seen := make(map[uint64]int, len(a))
	for _, h := range a {
		seen[h]++
	}
	common := 0
	for _, h := range b {
		if seen[h] > 0 {
			seen[h]--
			common++
		}
	}
	return common
}
