package mask

import (
	"fmt"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// benchTable is the customers table of the million-row benchmark.
func benchTable(b *testing.B, identity bool) *tablePlan {
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

// BenchmarkTransformRows is the client-side cost per customers row (5
// personal-data columns) of masking next to copying: ns/op is per row.
func BenchmarkTransformRows(b *testing.B) {
	firsts := []string{"Anna", "Bruno", "Chloe", "David", "Emma", "Farid", "Giulia", "Hugo"}
	lasts := []string{"Martin", "Dubois", "Rossi", "Smith", "Novak", "Garcia", "Muller", "King"}
	for _, mode := range []string{"copy", "mask"} {
		b.Run(mode, func(b *testing.B) {
			tp := benchTable(b, mode == "copy")
			key, _ := transform.NewKey(testKey)
			pw := &pipeWorker{w: key.NewWorker(nil), lk: newLeaks(), domains: map[string]bool{}}
			batch := &batch{}
			const rows = 2048
			b.ResetTimer()
			for done := 0; done < b.N; done += rows {
				b.StopTimer()
				batch.reset(len(tp.load))
				for r := 0; r < rows; r++ {
					i := done + r
					for _, v := range []string{fmt.Sprint(i), fmt.Sprintf("%s.%s%d@gmail.com", firsts[i%8], lasts[i/8%8], i), firsts[i%8], lasts[i/8%8],
						fmt.Sprintf("+33 6 %02d %02d %02d %02d", i%100, i/100%100, i/10000%100, i%97), "1985-03-04", "active", "2020-01-01 00:00:00"} {
						batch.addField([]byte(v), false)
					}
					batch.n++
				}
				b.StartTimer()
				pw.transform(tp, batch)
				if batch.err != nil {
					b.Fatal(batch.err)
				}
			}
		})
	}
}
