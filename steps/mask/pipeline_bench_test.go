package mask

import (
	"context"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// benchTable is the customers table of the million-row benchmark.
func benchTable(b testing.TB, identity bool) *tablePlan {
	t := &dbschema.Table{Name: "customers", PrimaryKey: []string{"id"}, Uniques: [][]string{{"email"}}}
	for _, c := range []struct{ name, typ string }{{"id", "int"}, {"email", "varchar"}, {"first_name", "varchar"}, {"last_name", "varchar"},
		{"phone", "varchar"}, {"birth_date", "date"}, {"status", "varchar"}, {"created_at", "datetime"}} {
		t.Columns = append(t.Columns, &dbschema.Column{Name: c.name, Type: c.typ, DataType: c.typ, Length: 255})
	}
	p := &planner{rules: defaultRules(b), reg: transform.Builtin(), identity: identity, fired: map[string]int{}, messages: map[string]string{}}
	tp, err := p.planTable(nil, &dbschema.Schema{Tables: []*dbschema.Table{t}}, t, true)
	if err != nil {
		b.Fatal(err)
	}
	return tp
}

// benchUniques is how a run keeps the unique email column unique: its fakes
// are claimed in write order.
func benchUniques(tp *tablePlan, rows int) *uniques {
	uq := &uniques{names: map[string]bool{}, inline: true}
	for _, cp := range tp.load {
		cp.claim = cp.unique && cp.tr != nil
		if cp.claim {
			uq.names[cp.name] = true
		}
	}
	uq.dom = transform.NewDomainsFor(slices.Sorted(maps.Keys(uq.names)), 2*rows)
	return uq
}

// benchRow is row seq of the million-row benchmark's customers, as
// benchSchema builds it in SQL (names spread by CRC32 of the id, 20,000
// dates of birth) and as the driver reads it.
func benchRow(seq int) []string {
	firsts := []string{"Anna", "Bruno", "Chloe", "David", "Emma", "Farid", "Giulia", "Hugo"}
	lasts := []string{"Martin", "Dubois", "Rossi", "Smith", "Novak", "Garcia", "Muller", "King"}
	domains := []string{"gmail.com", "orange.fr", "web.de", "proton.me"}
	crc := func(n int) uint32 { return crc32.ChecksumIEEE(fmt.Append(nil, n)) }
	first, last := firsts[crc(seq)%8], lasts[crc(seq*3)%8]
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(crc(seq)%20000))
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq%100000) * time.Minute)
	return []string{
		fmt.Sprint(seq),
		fmt.Sprintf("%s.%s%d@%s", string(first[0]+'a'-'A')+first[1:], string(last[0]+'a'-'A')+last[1:], seq, domains[seq%4]),
		first, last,
		fmt.Sprintf("+33 6 %02d %02d %02d %02d", seq%100, seq/100%100, seq/10000%100, seq%97),
		birth.Format(time.DateOnly), []string{"dormant", "closed", "active"}[seq%3], created.Format(time.DateTime),
	}
}

// benchBatches holds rows 1..n of benchRow in batches of batchRows.
func benchBatches(ncol, n, batchRows int) []*batch {
	var out []*batch
	for seq := 1; seq <= n; seq++ {
		if len(out) == 0 || out[len(out)-1].n == batchRows {
			b := &batch{}
			b.reset(ncol)
			out = append(out, b)
		}
		b := out[len(out)-1]
		for _, v := range benchRow(seq) {
			b.addField([]byte(v), false)
		}
		b.n++
	}
	return out
}

// replay is a source that emits the same batches again each time it runs.
func replay(batches []*batch) source {
	return func(ctx context.Context, take func() *batch, emit func(*batch) bool) error {
		for _, bt := range batches {
			bt.resetOutput()
			if !emit(bt) {
				return ctx.Err()
			}
		}
		return nil
	}
}

// BenchmarkTransformRows is the client-side cost per customers row (5
// personal-data columns) of masking next to copying, on one worker: ns/op is
// per row.
func BenchmarkTransformRows(b *testing.B) {
	const rows = 1 << 17
	for _, mode := range []string{"copy", "mask"} {
		b.Run(mode, func(b *testing.B) {
			tp := benchTable(b, mode == "copy")
			key, _ := transform.NewKey(testKey)
			uq := benchUniques(tp, rows)
			pw := newPipeWorker(tp, key.NewWorker(uq.dom), newLeaks(), uq.names)
			batches := benchBatches(len(tp.load), rows, 2048)
			transform := func(rows int) {
				for done := 0; done < rows; {
					for _, bt := range batches {
						if done >= rows {
							break
						}
						bt.resetOutput()
						pw.transform(tp, bt)
						if bt.err != nil {
							b.Fatal(bt.err)
						}
						done += bt.n
					}
				}
			}
			transform(rows) // the batches' buffers grow once
			b.ReportAllocs()
			b.ResetTimer()
			transform(b.N)
		})
	}
}

// BenchmarkStream is the client-side cost per customers row of the whole
// pipeline (transform workers, the writer's in-order check of the unique
// email column, the LOAD DATA text and its digest) into a sink that
// discards: ns/row is wall time per row, cpu-ns/row the CPU time of the
// process per row (GOMAXPROCS workers).
func BenchmarkStream(b *testing.B) {
	const rows = 1 << 18
	for _, mode := range []string{"copy", "mask"} {
		b.Run(mode, func(b *testing.B) {
			tp := benchTable(b, mode == "copy")
			key, _ := transform.NewKey(testKey)
			batches := benchBatches(len(tp.load), rows, 2048)
			run := func() (tableResult, error) {
				return stream(context.Background(), tp, replay(batches), discard{}, key, benchUniques(tp, rows), newLeaks(), 0, 2048)
			}
			run() // the batches' buffers grow once
			var wall time.Duration
			var cpu float64
			for b.Loop() {
				t0, c0 := time.Now(), cpuSelf()
				res, err := run()
				wall, cpu = wall+time.Since(t0), cpu+cpuSelf()-c0
				if err != nil || res.written != rows {
					b.Fatalf("stream = %d rows, %v", res.written, err)
				}
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*rows), "ns/row")
			b.ReportMetric(cpu*1e9/float64(b.N*rows), "cpu-ns/row")
		})
	}
}

// discard is a sink that drops the rows.
type discard struct{}

func (discard) write(context.Context, *batch) error   { return nil }
func (discard) finish(context.Context) (int64, error) { return 0, nil }
func (discard) abort(error)                           {}
