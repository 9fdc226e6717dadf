package mask

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// subsetTable holds the columns of one table that subsetting needs: its row
// key and every column of a foreign key from or to it.
type subsetTable struct {
	tp       *tablePlan
	cols     []string
	pos      map[string]int
	rows     [][][]byte
	keys     []string
	selected []bool
	index    map[string]map[string][]int
}

func (st *subsetTable) tuple(row int, cols []string) (string, bool) {
	var b []byte
	for _, c := range cols {
		v := st.rows[row][st.pos[c]]
		if v == nil {
			return "", false
		}
		b = appendKey(b, v, false)
	}
	return string(b), true
}

// lookup returns the rows whose cols equal tuple.
func (st *subsetTable) lookup(cols []string, tuple string) []int {
	sig := strings.Join(cols, "\x00")
	idx, ok := st.index[sig]
	if !ok {
		idx = map[string][]int{}
		for r := range st.rows {
			if t, ok := st.tuple(r, cols); ok {
				idx[t] = append(idx[t], r)
			}
		}
		st.index[sig] = idx
	}
	return idx[tuple]
}

// subsetter computes the rows of a foreign-key-closed subset.
type subsetter struct {
	db     queryer
	schema string
	plans  map[string]*tablePlan
	key    *transform.Key
	tables map[string]*subsetTable
}

// closure chooses every table's rows: the roots' rows, the rows that
// reference them (down the foreign keys, transitively, self-references
// aside), then every row those rows reference (up, transitively, until
// nothing changes). Tables with no foreign-key path to a root stay whole.
// It returns notes for dataset.json.
func (s *subsetter) closure(ctx context.Context) ([]string, error) {
	names := make([]string, 0, len(s.plans))
	for n := range s.plans {
		names = append(names, n)
	}
	sort.Strings(names)
	// Components of the foreign-key graph that contain a root.
	adj := map[string][]string{}
	for _, n := range names {
		for _, fk := range s.plans[n].t.ForeignKeys {
			if s.plans[fk.RefTable] != nil {
				adj[n] = append(adj[n], fk.RefTable)
				adj[fk.RefTable] = append(adj[fk.RefTable], n)
			}
		}
	}
	inSubset := map[string]bool{}
	var queue []string
	for _, n := range names {
		if s.plans[n].root != nil {
			inSubset[n] = true
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range adj[n] {
			if !inSubset[m] {
				inSubset[m] = true
				queue = append(queue, m)
			}
		}
	}
	var notes []string
	s.tables = map[string]*subsetTable{}
	for _, n := range names {
		if !inSubset[n] {
			notes = append(notes, fmt.Sprintf("%s has no foreign-key path to a subset root: copied whole", n))
			continue
		}
		st, err := s.load(ctx, s.plans[n])
		if err != nil {
			return nil, err
		}
		s.tables[n] = st
	}
	// Roots.
	var down []ref
	for _, n := range names {
		tp := s.plans[n]
		if tp.root == nil {
			continue
		}
		rows, err := s.roots(ctx, s.tables[n])
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if !s.tables[n].selected[r] {
				s.tables[n].selected[r] = true
				down = append(down, ref{n, r})
			}
		}
	}
	// Down: rows referencing selected rows, from the roots.
	children := map[string][]*dbschema.ForeignKey{}
	for _, n := range names {
		for _, fk := range s.plans[n].t.ForeignKeys {
			if fk.RefTable != n && s.tables[n] != nil {
				children[fk.RefTable] = append(children[fk.RefTable], fk)
			}
		}
	}
	var all []ref
	for len(down) > 0 {
		x := down[0]
		down = down[1:]
		all = append(all, x)
		parent := s.tables[x.table]
		for _, fk := range children[x.table] {
			t, ok := parent.tuple(x.row, fk.RefColumns)
			if !ok {
				continue
			}
			child := s.tables[fk.Table]
			for _, r := range child.lookup(fk.Columns, t) {
				if !child.selected[r] {
					child.selected[r] = true
					down = append(down, ref{fk.Table, r})
				}
			}
		}
	}
	// Up: every row a selected row references, until nothing changes.
	for len(all) > 0 {
		x := all[len(all)-1]
		all = all[:len(all)-1]
		st := s.tables[x.table]
		for _, fk := range st.tp.t.ForeignKeys {
			parent := s.tables[fk.RefTable]
			if parent == nil {
				continue
			}
			t, ok := st.tuple(x.row, fk.Columns)
			if !ok {
				continue
			}
			for _, r := range parent.lookup(fk.RefColumns, t) {
				if !parent.selected[r] {
					parent.selected[r] = true
					parent.tp.pulled = true
					all = append(all, ref{fk.RefTable, r})
				}
			}
		}
	}
	for _, n := range names {
		st := s.tables[n]
		if st == nil {
			continue
		}
		st.tp.keys = map[string]struct{}{}
		for r, sel := range st.selected {
			if sel {
				st.tp.keys[st.keys[r]] = struct{}{}
			}
		}
		if st.tp.root == nil {
			st.tp.pulled = true
		}
	}
	return notes, nil
}

type ref struct {
	table string
	row   int
}

// load reads the projection of a table subsetting needs, in key order.
func (s *subsetter) load(ctx context.Context, tp *tablePlan) (*subsetTable, error) {
	st := &subsetTable{tp: tp, pos: map[string]int{}, index: map[string]map[string][]int{}}
	add := func(c string) {
		if _, ok := st.pos[c]; !ok {
			st.pos[c] = len(st.cols)
			st.cols = append(st.cols, c)
		}
	}
	for _, c := range tp.key {
		add(c)
	}
	for _, fk := range tp.t.ForeignKeys {
		for _, c := range fk.Columns {
			add(c)
		}
	}
	for _, other := range s.plans {
		for _, fk := range other.t.ForeignKeys {
			if fk.RefTable == tp.t.Name {
				for _, c := range fk.RefColumns {
					add(c)
				}
			}
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", dbschema.QuoteList(st.cols), qualified(s.schema, tp.t.Name), dbschema.QuoteList(tp.key))
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read keys of %s: %w", tp.t.Name, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(st.cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([][]byte, len(raw))
		var k []byte
		for i, v := range raw {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		for _, c := range tp.key {
			k = appendKey(k, row[st.pos[c]], row[st.pos[c]] == nil)
		}
		st.rows = append(st.rows, row)
		st.keys = append(st.keys, string(k))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st.selected = make([]bool, len(st.rows))
	return st, nil
}

// roots returns the rows a root's decision chooses.
func (s *subsetter) roots(ctx context.Context, st *subsetTable) ([]int, error) {
	tp := st.tp
	d := tp.root
	byKey := make(map[string]int, len(st.keys))
	for i, k := range st.keys {
		byKey[k] = i
	}
	var out []int
	if d.Percent > 0 {
		h := s.key.NewHasher()
		for i, k := range st.keys {
			if float64(h.Seed([]byte(tp.t.Name+"\x00"+k))%10000) < d.Percent*100 {
				if d.Where == "" {
					out = append(out, i)
				} else {
					out = append(out, -1-i) // filtered below
				}
			}
		}
		if d.Where == "" {
			return out, nil
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s", dbschema.QuoteList(tp.key), qualified(s.schema, tp.t.Name))
	if d.Where != "" {
		q += " WHERE " + d.Where
	}
	q += " ORDER BY " + dbschema.QuoteList(tp.key)
	if d.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", d.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, exitcode.Inputf("%s: subset of %s: %v", tp.rootRule, tp.t.Name, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(tp.key))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	matched := map[int]bool{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var k []byte
		for _, v := range raw {
			k = appendKey(k, v, v == nil)
		}
		if i, ok := byKey[string(k)]; ok {
			matched[i] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if d.Percent > 0 {
		var both []int
		for _, x := range out {
			if i := -1 - x; matched[i] {
				both = append(both, i)
			}
		}
		return both, nil
	}
	for i := range st.keys {
		if matched[i] {
			out = append(out, i)
		}
	}
	return out, nil
}
