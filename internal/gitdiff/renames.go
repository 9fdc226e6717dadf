package gitdiff

import (
	"bytes"
	"hash/maphash"
	"path"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Rename detection follows git's defaults: exact renames first (same blob),
// then, unless there are more than renameLimit² added×deleted pairs, renames
// of files at least renameScore% similar, where similarity is git's measure:
// bytes of the old file found again in the new one (in chunks cut at a newline
// or after 64 bytes), divided by the larger size.
const (
	renameScore = 50
	renameLimit = 1000
)

// side is one end of a change: a tree entry and, once read, its content.
type side struct {
	path    string
	hash    plumbing.Hash
	mode    filemode.FileMode
	content []byte
}

// pair is a change: from nil = added, to nil = deleted.
type pair struct {
	from, to *side
}

// detectRenames pairs added with deleted files. Contents of added and deleted
// files must already be read. It returns the renames and what is left.
func detectRenames(added, deleted []*side) (renames []pair, addLeft, delLeft []*side) {
	usedA := make([]bool, len(added))
	usedD := make([]bool, len(deleted))
	byHash := map[plumbing.Hash][]int{}
	for j, d := range deleted {
		if len(d.content) > 0 {
			byHash[d.hash] = append(byHash[d.hash], j)
		}
	}
	for i, a := range added {
		if len(a.content) == 0 {
			continue
		}
		best := -1
		for _, j := range byHash[a.hash] {
			if usedD[j] || !sameType(a.mode, deleted[j].mode) {
				continue
			}
			if best < 0 || (path.Base(deleted[j].path) == path.Base(a.path) && path.Base(deleted[best].path) != path.Base(a.path)) {
				best = j
			}
		}
		if best >= 0 {
			usedA[i], usedD[best] = true, true
			renames = append(renames, pair{from: deleted[best], to: a})
		}
	}
	var ai, di []int
	for i := range added {
		if !usedA[i] && len(added[i].content) > 0 {
			ai = append(ai, i)
		}
	}
	for j := range deleted {
		if !usedD[j] && len(deleted[j].content) > 0 {
			di = append(di, j)
		}
	}
	if len(ai) > 0 && len(di) > 0 && len(ai)*len(di) <= renameLimit*renameLimit {
		seed := maphash.MakeSeed()
		sigA := make([]signature, len(ai))
		for k, i := range ai {
			sigA[k] = newSignature(seed, added[i].content)
		}
		sigD := make([]signature, len(di))
		for k, j := range di {
			sigD[k] = newSignature(seed, deleted[j].content)
		}
		type cand struct{ a, d, score int }
		var cands []cand
		for ka, i := range ai {
			for kd, j := range di {
				if !sameType(added[i].mode, deleted[j].mode) {
					continue
				}
				if s := similarity(sigD[kd], sigA[ka]); s >= renameScore*scale/100 {
					cands = append(cands, cand{i, j, s})
				}
			}
		}
		sort.Slice(cands, func(x, y int) bool {
			if cands[x].score != cands[y].score {
				return cands[x].score > cands[y].score
			}
			if cands[x].a != cands[y].a {
				return added[cands[x].a].path < added[cands[y].a].path
			}
			return deleted[cands[x].d].path < deleted[cands[y].d].path
		})
		for _, c := range cands {
			if usedA[c.a] || usedD[c.d] {
				continue
			}
			usedA[c.a], usedD[c.d] = true, true
			renames = append(renames, pair{from: deleted[c.d], to: added[c.a]})
		}
	}
	for i, a := range added {
		if !usedA[i] {
			addLeft = append(addLeft, a)
		}
	}
	for j, d := range deleted {
		if !usedD[j] {
			delLeft = append(delLeft, d)
		}
	}
	return renames, addLeft, delLeft
}

func sameType(a, b filemode.FileMode) bool {
	return (a == filemode.Symlink) == (b == filemode.Symlink) && (a == filemode.Submodule) == (b == filemode.Submodule)
}

const scale = 60000 // git's MAX_SCORE

// signature is a file's chunks: hash → bytes, and its size.
type signature struct {
	chunks map[uint64]int
	size   int
}

func newSignature(seed maphash.Seed, b []byte) signature {
	s := signature{chunks: map[uint64]int{}, size: len(b)}
	for len(b) > 0 {
		n := bytes.IndexByte(b[:min(len(b), 64)], '\n') + 1
		if n == 0 {
			n = min(len(b), 64)
		}
		s.chunks[maphash.Bytes(seed, b[:n])] += n
		b = b[n:]
	}
	return s
}

// similarity is git's score (0..scale) of dst as a copy of src.
func similarity(src, dst signature) int {
	maxSize, minSize := max(src.size, dst.size), min(src.size, dst.size)
	// Too different in size to reach the threshold: skip, as git does.
	if maxSize == 0 || (maxSize-minSize)*100 > maxSize*(100-renameScore) {
		return 0
	}
	copied := 0
	small, big := src.chunks, dst.chunks
	if len(small) > len(big) {
		small, big = big, small
	}
	for h, n := range small {
		copied += min(n, big[h])
	}
	return copied * scale / maxSize
}
