package mask

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// verify checks the staging tables before the swap: each table holds the
// rows sent to it, no foreign key points at a missing row, and no original
// sensitive value was written unchanged anywhere.
func verify(ctx context.Context, db *sql.DB, st stage, plans []*tablePlan, lk *leaks) (workspace.Verification, error) {
	v := workspace.Verification{RowCounts: true, ForeignKeys: []workspace.FKCheck{}}
	// The leak check is the client's work: it runs while the server counts
	// rows and checks foreign keys.
	leakc := make(chan workspace.LeakCheck, 1)
	go func() { leakc <- lk.check() }()
	names := map[string]bool{}
	for _, tp := range plans {
		names[tp.t.Name] = true
		var n int64
		q := "SELECT COUNT(*) FROM " + qualified(st.schema(), st.name(tp.t.Name))
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return v, fmt.Errorf("count %s: %w", tp.t.Name, err)
		}
		tp.targetRows = n
		if n != tp.sent {
			v.RowCounts = false
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %d rows in staging, %d sent", tp.t.Name, n, tp.sent))
		}
	}
	for _, tp := range plans {
		for _, fk := range tp.t.ForeignKeys {
			if !names[fk.RefTable] {
				continue
			}
			var on, notNull []string
			for i, c := range fk.Columns {
				on = append(on, "p."+dbschema.Quote(fk.RefColumns[i])+" = c."+dbschema.Quote(c))
				notNull = append(notNull, "c."+dbschema.Quote(c)+" IS NOT NULL")
			}
			q := fmt.Sprintf("SELECT COUNT(*) FROM %s c LEFT JOIN %s p ON %s WHERE %s AND p.%s IS NULL",
				qualified(st.schema(), st.name(tp.t.Name)), qualified(st.schema(), st.name(fk.RefTable)),
				strings.Join(on, " AND "), strings.Join(notNull, " AND "), dbschema.Quote(fk.RefColumns[0]))
			var orphans int64
			if err := db.QueryRowContext(ctx, q).Scan(&orphans); err != nil {
				return v, fmt.Errorf("check foreign key %s: %w", fk.Name, err)
			}
			v.ForeignKeys = append(v.ForeignKeys, workspace.FKCheck{Constraint: fk.Name, Table: tp.t.Name, Orphans: orphans})
			if orphans > 0 {
				v.Problems = append(v.Problems, fmt.Sprintf("%s: %d rows of %s reference missing %s rows", fk.Name, orphans, tp.t.Name, fk.RefTable))
			}
		}
	}
	sort.Slice(v.ForeignKeys, func(i, j int) bool {
		a, b := v.ForeignKeys[i], v.ForeignKeys[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Constraint < b.Constraint
	})
	v.Leaks = <-leakc
	if v.Leaks.Found > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d original sensitive values were written unchanged, in %s", v.Leaks.Found, strings.Join(v.Leaks.Columns, ", ")))
	}
	return v, nil
}

// check compares the kept values' hashes with the originals'.
func (lk *leaks) check() workspace.LeakCheck {
	origs := slices.Compact(sortedHashes(lk.origs))
	res := workspace.LeakCheck{Originals: int64(len(origs))}
	cols := make([]string, 0, len(lk.kept))
	for c := range lk.kept {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		found := int64(0)
		for _, h := range lk.kept[c] {
			res.Checked++
			if _, ok := slices.BinarySearch(origs, h); ok {
				found++
			}
		}
		if found > 0 {
			res.Found += found
			res.Columns = append(res.Columns, c)
		}
	}
	return res
}

// sortedHashes returns the hashes in a sorted, in a new slice. It is a radix
// sort, a byte at a time: with millions of hashes it is several times faster
// than a comparison sort.
func sortedHashes(a []uint64) []uint64 {
	bufs := [2][]uint64{make([]uint64, len(a)), make([]uint64, len(a))}
	src := a
	for pass := 0; pass < 8; pass++ {
		dst, shift := bufs[pass%2], 8*pass
		var next [256]int // where the next hash with each byte value goes
		for _, x := range src {
			next[byte(x>>shift)]++
		}
		n := 0
		for i, c := range next {
			next[i], n = n, n+c
		}
		for _, x := range src {
			d := byte(x >> shift)
			dst[next[d]] = x
			next[d]++
		}
		src = dst
	}
	return src
}

// verified reports whether every check passed.
func verified(v workspace.Verification) bool {
	if !v.RowCounts || v.Leaks.Found > 0 {
		return false
	}
	for _, fk := range v.ForeignKeys {
		if fk.Orphans > 0 {
			return false
		}
	}
	return true
}
