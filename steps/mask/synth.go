package mask

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7/data"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// examples are originals of the right shape for the transformers that keep
// the format of what they replace.
var examples = map[string]string{
	"phone": "+33 6 12 34 56 78", "national-id": "1 85 03 75 123 456 78", "card": "4111 1111 1111 1111",
	"iban": "FR76 3000 6000 0112 3456 7890 189", "postcode": "75002", "date": "1985-03-04", "ip": "192.168.1.20",
	"secret": "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", "uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
	"text": "A few words about this row, long enough to read like a note.",
}

// synth generates rows when there is no source: every column from its
// transformer (personal data) or its type, foreign keys from rows of the
// parent generated before, unique columns and row keys without duplicates.
type synth struct {
	key   *transform.Key
	gen   map[string]*genTable
	words []string
}

// genTable keeps what later tables need of a generated table: the values of
// the columns foreign keys reference.
type genTable struct {
	rows  int
	cols  map[string][][]byte
	index map[string]map[string][]int
}

func newSynth(key *transform.Key) *synth {
	return &synth{key: key, gen: map[string]*genTable{}, words: data.Lorem["word"]}
}

// referenced lists, per table, the columns some foreign key references.
func referencedColumns(plans []*tablePlan) map[string][]string {
	out := map[string][]string{}
	for _, tp := range plans {
		for _, fk := range tp.t.ForeignKeys {
			for _, c := range fk.RefColumns {
				if !contains(out[fk.RefTable], c) {
					out[fk.RefTable] = append(out[fk.RefTable], c)
				}
			}
		}
	}
	return out
}

// source generates tp's rows; keep lists the columns to remember for the
// tables generated after.
func (s *synth) source(tp *tablePlan, n int64, keep []string) source {
	return func(ctx context.Context, take func() *batch, emit func(b *batch) bool) error {
		g := &genTable{cols: map[string][][]byte{}, index: map[string]map[string][]int{}}
		w := s.key.NewWorker(nil)
		r := transform.NewRand()
		seen := map[*colPlan]map[string]bool{}
		for _, cp := range tp.load {
			if tp.t.Unique(cp.c.Name) {
				seen[cp] = map[string]bool{}
			}
		}
		// Row keys and composite unique keys are checked as tuples.
		rowKeys := map[string]bool{}
		fks := append([]*dbschema.ForeignKey(nil), tp.t.ForeignKeys...)
		sort.SliceStable(fks, func(i, j int) bool { return len(fks[i].Columns) > len(fks[j].Columns) })
		b := take()
		vals := make([][]byte, len(tp.load))
		nulls := make([]bool, len(tp.load))
		pos := map[string]int{}
		for i, cp := range tp.load {
			pos[cp.c.Name] = i
		}
		for i := int64(0); i < n; i++ {
			var err error
			ok := false
			for attempt := 0; attempt < transform.MaxDraws && !ok; attempt++ {
				ok, err = s.row(tp, g, fks, pos, i, attempt, w, r, vals, nulls, seen, rowKeys)
				if err != nil {
					return err
				}
			}
			if !ok {
				return exitcode.Inputf("%s: cannot generate %d distinct rows: after %d rows every draw repeats a key or a unique value (too few parent rows, or a unique column with too few possible values)", tp.t.Name, n, i)
			}
			for ci := range tp.load {
				b.addField(vals[ci], nulls[ci])
			}
			for _, c := range keep {
				if p, ok := pos[c]; ok {
					v := vals[p]
					if nulls[p] {
						v = nil
					} else {
						v = append([]byte(nil), v...)
					}
					g.cols[c] = append(g.cols[c], v)
				}
			}
			g.rows++
			b.n++
			if b.n >= 512 {
				if !emit(b) {
					return ctx.Err()
				}
				b = take()
			}
		}
		if b.n > 0 && !emit(b) {
			return ctx.Err()
		}
		s.gen[tp.t.Name] = g
		return nil
	}
}

func (g *genTable) lookup(cols []string, vals [][]byte) []int {
	sig := strings.Join(cols, "\x00")
	idx, ok := g.index[sig]
	if !ok {
		idx = map[string][]int{}
		for r := 0; r < g.rows; r++ {
			var k []byte
			null := false
			for _, c := range cols {
				v := g.cols[c][r]
				null = null || v == nil
				k = appendKey(k, v, v == nil)
			}
			if !null {
				idx[string(k)] = append(idx[string(k)], r)
			}
		}
		g.index[sig] = idx
	}
	var k []byte
	for _, v := range vals {
		k = appendKey(k, v, false)
	}
	return idx[string(k)]
}

// row fills vals with row i; false when its key or a unique value repeats.
func (s *synth) row(tp *tablePlan, self *genTable, fks []*dbschema.ForeignKey, pos map[string]int, i int64, attempt int,
	w *transform.Worker, r *transform.Rand, vals [][]byte, nulls []bool, seen map[*colPlan]map[string]bool, rowKeys map[string]bool) (bool, error) {
	h := s.key.NewHasher()
	seedOf := func(what string) uint64 {
		return h.Seed([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%d", tp.t.Name, what, i, attempt)))
	}
	assigned := make([]bool, len(tp.load))
	for ci := range vals {
		vals[ci], nulls[ci] = vals[ci][:0], false
	}
	// Foreign keys first, the widest first, so that columns shared by two
	// keys agree.
	for _, fk := range fks {
		var parent *genTable
		if fk.RefTable == tp.t.Name {
			parent = self
		} else {
			parent = s.gen[fk.RefTable]
		}
		nullable := true
		for _, c := range fk.Columns {
			if p, ok := pos[c]; ok && !tp.load[p].c.Nullable {
				nullable = false
			}
		}
		if parent == nil || parent.rows == 0 {
			if !nullable {
				return false, exitcode.Inputf("%s: foreign key %s needs rows of %s, which are generated later or not at all (a cycle of NOT NULL foreign keys)", tp.t.Name, fk.Name, fk.RefTable)
			}
			for _, c := range fk.Columns {
				if p, ok := pos[c]; ok && !assigned[p] {
					nulls[p], assigned[p] = true, true
				}
			}
			continue
		}
		sd := seedOf(fk.Name)
		if nullable && fk.RefTable == tp.t.Name && sd%3 == 0 {
			for _, c := range fk.Columns {
				if p, ok := pos[c]; ok && !assigned[p] {
					nulls[p], assigned[p] = true, true
				}
			}
			continue
		}
		// Candidates agree with the columns already set.
		var fixedCols []string
		var fixedVals [][]byte
		for k, c := range fk.Columns {
			if p, ok := pos[c]; ok && assigned[p] && !nulls[p] {
				fixedCols = append(fixedCols, fk.RefColumns[k])
				fixedVals = append(fixedVals, vals[p])
			}
		}
		var pick int
		switch {
		case len(fixedCols) == len(fk.Columns):
			continue
		case len(fixedCols) > 0:
			cands := parent.lookup(fixedCols, fixedVals)
			if len(cands) == 0 {
				return false, nil
			}
			pick = cands[int(sd%uint64(len(cands)))]
		default:
			pick = int(sd % uint64(parent.rows))
		}
		for k, c := range fk.Columns {
			p, ok := pos[c]
			if !ok || assigned[p] {
				continue
			}
			v := parent.cols[fk.RefColumns[k]][pick]
			vals[p], nulls[p], assigned[p] = append(vals[p], v...), v == nil, true
		}
	}
	for ci, cp := range tp.load {
		if assigned[ci] {
			continue
		}
		sd := seedOf(cp.c.Name)
		r.Reset(sd)
		if cp.c.Nullable && !tp.t.Unique(cp.c.Name) && !contains(tp.key, cp.c.Name) && sd%10 == 0 {
			nulls[ci] = true
			continue
		}
		v, null, err := s.value(tp, cp, i, sd, attempt, w, r)
		if err != nil {
			return false, err
		}
		vals[ci], nulls[ci] = append(vals[ci], v...), null
	}
	for ci, cp := range tp.load {
		if seen[cp] != nil && !nulls[ci] && seen[cp][string(vals[ci])] {
			return false, nil
		}
	}
	var tuples []string
	for ui, key := range append([][]string{tp.key}, tp.t.Uniques...) {
		if ui > 0 && len(key) < 2 {
			continue
		}
		k := []byte{byte(ui)}
		null := false
		for _, c := range key {
			p, ok := pos[c]
			if !ok {
				continue
			}
			null = null || nulls[p]
			k = appendKey(k, vals[p], nulls[p])
		}
		if null && ui > 0 {
			continue // NULLs never collide in a unique key
		}
		if rowKeys[string(k)] {
			return false, nil
		}
		tuples = append(tuples, string(k))
	}
	for _, k := range tuples {
		rowKeys[k] = true
	}
	for ci, cp := range tp.load {
		if seen[cp] != nil && !nulls[ci] {
			seen[cp][string(vals[ci])] = true
		}
	}
	return true, nil
}

var enumRe = regexp.MustCompile(`'((?:[^']|'')*)'`)

// value generates one column's value for row i.
func (s *synth) value(tp *tablePlan, cp *colPlan, i int64, seed uint64, attempt int, w *transform.Worker, r *transform.Rand) ([]byte, bool, error) {
	c := cp.c
	if cp.tr != nil && cp.name != "json" {
		if cp.name == "null" {
			return nil, true, nil
		}
		ex := examples[cp.name]
		if ex == "" {
			ex = c.Name
		}
		out, err := w.FakeSeeded(nil, cp.tr, []byte(ex), seed, attempt, cp.tcol)
		return out, false, err
	}
	// By type: a sequence for single-column integer keys, random values
	// within the type otherwise.
	isKey := len(tp.key) == 1 && tp.key[0] == c.Name
	switch cp.class {
	case transform.Number:
		switch {
		case isKey || (tp.t.Unique(c.Name) && c.DataType != "decimal"):
			return strconv.AppendInt(nil, i+1, 10), false, nil
		case c.DataType == "bit" || strings.HasPrefix(c.Type, "tinyint(1)") || c.DataType == "bool" || c.DataType == "boolean":
			return strconv.AppendInt(nil, int64(r.IntN(2)), 10), false, nil
		case c.DataType == "decimal" || c.DataType == "numeric":
			p, sc := decimalShape(c.Type)
			hi := math.Min(math.Pow(10, float64(p-sc))-1, 10000)
			v := float64(r.IntN(int(hi*100)+1)) / 100
			return strconv.AppendFloat(nil, v, 'f', sc, 64), false, nil
		case c.DataType == "float" || c.DataType == "double" || c.DataType == "real":
			return strconv.AppendFloat(nil, float64(r.IntN(100000))/100, 'f', 2, 64), false, nil
		case c.DataType == "year":
			return strconv.AppendInt(nil, int64(2000+r.IntN(26)), 10), false, nil
		case c.DataType == "tinyint":
			return strconv.AppendInt(nil, int64(r.IntN(100)), 10), false, nil
		}
		return strconv.AppendInt(nil, int64(1+r.IntN(1000)), 10), false, nil
	case transform.Temporal:
		day := 18262 + r.IntN(1500) // from 2020-01-01
		d := time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
		t := fmt.Sprintf("%02d:%02d:%02d", r.IntN(24), r.IntN(60), r.IntN(60))
		switch c.DataType {
		case "date":
			return []byte(d), false, nil
		case "time":
			return []byte(t), false, nil
		}
		return []byte(d + " " + t), false, nil
	case transform.Text:
		var b []byte
		n := 1 + r.IntN(2)
		if c.DataType == "text" || c.DataType == "mediumtext" || c.DataType == "longtext" {
			n = 4 + r.IntN(8)
		}
		for k := 0; k < n; k++ {
			if k > 0 {
				b = append(b, ' ')
			}
			b = append(b, s.words[r.IntN(len(s.words))]...)
		}
		if tp.t.Unique(c.Name) {
			b = append(append(b, '-'), strconv.FormatInt(i+1, 10)...)
		}
		if c.Length > 0 && int64(len(b)) > c.Length {
			if tp.t.Unique(c.Name) {
				b = strconv.AppendInt(nil, i+1, 36)
			}
			if int64(len(b)) > c.Length {
				b = b[:c.Length]
			}
		}
		return b, false, nil
	case transform.JSON:
		return []byte(fmt.Sprintf(`{"note": %q}`, s.words[r.IntN(len(s.words))])), false, nil
	case transform.Enum:
		vals := enumRe.FindAllStringSubmatch(c.Type, -1)
		if len(vals) == 0 {
			return nil, true, nil
		}
		return []byte(strings.ReplaceAll(vals[r.IntN(len(vals))][1], "''", "'")), false, nil
	case transform.Binary:
		n := 16
		if c.Length > 0 && c.Length < 16 {
			n = int(c.Length)
		}
		b := make([]byte, n)
		for k := range b {
			b[k] = byte(r.IntN(256))
		}
		return b, false, nil
	}
	if c.Nullable {
		return nil, true, nil
	}
	return nil, false, exitcode.Inputf("%s.%s: cannot generate values of type %s", tp.t.Name, c.Name, c.Type)
}

var decimalRe = regexp.MustCompile(`\((\d+)(?:,\s*(\d+))?\)`)

func decimalShape(typ string) (int, int) {
	m := decimalRe.FindStringSubmatch(typ)
	if m == nil {
		return 10, 0
	}
	p, _ := strconv.Atoi(m[1])
	s, _ := strconv.Atoi(m[2])
	return p, s
}
