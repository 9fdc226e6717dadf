package mask

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func writeOverrides(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "overrides.yaml")
	if err := os.WriteFile(p, []byte("apiVersion: rehearsal.dev/v1\nkind: mask-overrides\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSubsetIsClosed: five EU customers as roots bring their addresses,
// orders, order items and payments (down), and every customer and address
// those rows reference (up, through the self-reference and the composite
// key); nothing else.
func TestSubsetIsClosed(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		target := schemaName(t, "preprod")
		in := s.input(t, src, target)
		in.OverridesFile = writeOverrides(t, "tables:\n  - {table: customers, subset: {where: \"region = 'eu'\", limit: 5}}\n")
		out, err := Run(context.Background(), in)
		if err != nil || !out.Verified {
			t.Fatalf("Run = %v, problems %v", err, out.Dataset.Verification.Problems)
		}
		if out.Dataset.Mode != workspace.ModeSubset {
			t.Errorf("mode = %q, want subset", out.Dataset.Mode)
		}
		roots := s.strings(t, "SELECT id FROM `"+src+"`.customers WHERE region = 'eu' ORDER BY id LIMIT 5")
		got := s.strings(t, "SELECT id FROM `"+target+"`.customers ORDER BY id")
		for _, r := range roots {
			if !slices.Contains(got, r) {
				t.Errorf("root customer %s is missing", r)
			}
		}
		in5 := "(" + strings.Join(roots, ",") + ")"
		// Down: all orders of the roots, and their items and payments.
		for _, q := range []string{
			"SELECT id FROM `%s`.orders WHERE customer_id IN " + in5 + " ORDER BY id",
			"SELECT CONCAT(order_id, '/', line_no) FROM `%s`.order_items WHERE order_id IN (SELECT id FROM `%s`.orders WHERE customer_id IN " + in5 + ") ORDER BY 1",
			"SELECT id FROM `%s`.payments WHERE order_id IN (SELECT id FROM `%s`.orders WHERE customer_id IN " + in5 + ") ORDER BY id",
			"SELECT CONCAT(customer_id, '/', kind) FROM `%s`.addresses WHERE customer_id IN " + in5 + " ORDER BY 1",
		} {
			want := s.strings(t, strings.ReplaceAll(q, "%s", src))
			have := s.strings(t, strings.ReplaceAll(q, "%s", target))
			if !slices.Equal(want, have) {
				t.Errorf("%s:\ntarget %v\nsource %v", q, have, want)
			}
		}
		// Up: every referenced customer is there; only rows reachable are.
		if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.orders WHERE customer_id NOT IN "+in5); n != 0 {
			t.Errorf("%d orders of customers that are not roots", n)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.customers c LEFT JOIN `"+target+"`.customers p ON p.id = c.referred_by WHERE c.referred_by IS NOT NULL AND p.id IS NULL"); n != 0 {
			t.Errorf("%d customers whose referrer is missing", n)
		}
		total := s.count(t, "SELECT COUNT(*) FROM `"+src+"`.customers")
		if int64(len(got)) >= total {
			t.Errorf("subset has %d of %d customers", len(got), total)
		}
		for _, tb := range out.Dataset.Tables {
			switch {
			case tb.Name == "customers" && (tb.Subset == nil || !tb.Subset.Root || tb.Subset.Limit != 5 || !strings.HasPrefix(tb.Subset.Rule, "override:")):
				t.Errorf("customers subset = %+v, want the override's root", tb.Subset)
			case tb.Name != "customers" && (tb.Subset == nil || tb.Subset.Root):
				t.Errorf("%s subset = %+v, want rows pulled by foreign keys", tb.Name, tb.Subset)
			}
			if tb.TargetRows > tb.SourceRows {
				t.Errorf("%s: %d target rows > %d source rows", tb.Name, tb.TargetRows, tb.SourceRows)
			}
		}
	})
}

// TestSubsetByRuleIsDeterministic: a percent root chosen by a rule picks the
// same rows for the same key, and closes over a two-table cycle.
func TestSubsetByRuleIsDeterministic(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		s.exec(t, src,
			"CREATE TABLE departments (id INT PRIMARY KEY, name VARCHAR(40), head_id INT)",
			"CREATE TABLE employees (id INT PRIMARY KEY, dept_id INT, CONSTRAINT fk_emp_dept FOREIGN KEY (dept_id) REFERENCES departments (id))",
			"ALTER TABLE departments ADD CONSTRAINT fk_dept_head FOREIGN KEY (head_id) REFERENCES employees (id)",
			"INSERT INTO departments VALUES (1, 'ops', NULL), (2, 'dev', NULL), (3, 'hr', NULL)",
			"INSERT INTO employees VALUES (10, 1), (11, 2), (12, 2), (13, 3), (14, NULL)",
			"UPDATE departments SET head_id = 12 WHERE id = 1",
			"UPDATE departments SET head_id = 13 WHERE id = 2")
		rule := "  - id: custom.half-of-customers\n    description: half the customers, and department 1\n    scope: table\n    when: table.name == 'customers'\n    effect: {subset: {percent: 50}}\n" +
			"  - id: custom.ops\n    description: the ops department\n    scope: table\n    when: table.name == 'departments'\n    effect: {subset: {where: \"name = 'ops'\"}}\n"
		var picks [][]string
		for i, key := range [][]byte{testKey, testKey, []byte("yet-another-key-0123456789")} {
			target := schemaName(t, "preprod")
			in := s.input(t, src, target)
			in.Rules, in.Key = rulesWith(t, rule), key
			out, err := Run(context.Background(), in)
			if err != nil || !out.Verified {
				t.Fatalf("run %d = %v, problems %v", i, err, out.Dataset.Verification.Problems)
			}
			picks = append(picks, s.strings(t, "SELECT id FROM `"+target+"`.customers ORDER BY id"))
			// ops (root) → head 12 → department 2 → head 13 → department 3.
			if got := s.strings(t, "SELECT id FROM `"+target+"`.departments ORDER BY id"); !slices.Equal(got, []string{"1", "2", "3"}) {
				t.Errorf("departments = %v, want the cycle closed: 1, 2, 3", got)
			}
			if got := s.strings(t, "SELECT id FROM `"+target+"`.employees ORDER BY id"); !slices.Equal(got, []string{"10", "12", "13"}) {
				t.Errorf("employees = %v, want 10 (of ops), 12 and 13 (heads)", got)
			}
			if !slices.ContainsFunc(out.Dataset.Rules, func(f workspace.Fired) bool { return f.ID == "custom.half-of-customers" }) {
				t.Errorf("dataset rules %v do not name the subset rule", out.Dataset.Rules)
			}
		}
		if !slices.Equal(picks[0], picks[1]) {
			t.Errorf("the same key picked different customers")
		}
		if slices.Equal(picks[0], picks[2]) {
			t.Errorf("another key picked the same customers")
		}
		n := len(picks[0])
		if n < 10 || n > 35 {
			t.Errorf("50%% of 40 customers (plus referrers) gave %d", n)
		}
	})
}

// TestSynthetic: with no source, rows are generated from a DDL file: counts
// from rules and overrides, every foreign key satisfied (composite and
// self-referencing included), unique columns unique, personal data fake.
func TestSynthetic(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		target := schemaName(t, "synth")
		in := s.input(t, "", target)
		in.SourceDSN = ""
		in.DDLFile = "../../fixtures/shop/01-schema.sql"
		in.OverridesFile = writeOverrides(t, "tables:\n  - {table: orders, rows: 150}\n  - {table: customers, rows: 30}\n")
		out, err := Run(context.Background(), in)
		if err != nil || !out.Verified {
			t.Fatalf("Run = %v, problems %v", err, out.Dataset.Verification.Problems)
		}
		if out.Dataset.Mode != workspace.ModeSynthetic || out.Dataset.Source != "" {
			t.Errorf("mode %q source %q, want synthetic without source", out.Dataset.Mode, out.Dataset.Source)
		}
		for tbl, want := range map[string]int64{"customers": 30, "orders": 150, "addresses": 100, "order_items": 100, "payments": 100} {
			if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.`"+tbl+"`"); n != want {
				t.Errorf("%s: %d rows, want %d", tbl, n, want)
			}
		}
		if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.orders o LEFT JOIN `"+target+"`.addresses a ON a.customer_id = o.customer_id AND a.kind = o.shipping_kind WHERE a.customer_id IS NULL"); n != 0 {
			t.Errorf("%d orders without their (customer, kind) address", n)
		}
		emails := s.strings(t, "SELECT email FROM `"+target+"`.customers")
		if len(slices.Compact(slices.Sorted(slices.Values(emails)))) != 30 || !strings.HasSuffix(emails[0], "@example.com") {
			t.Errorf("emails %v: want 30 distinct addresses on example.com", emails[:3])
		}
		if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.order_items WHERE line_total <> quantity * unit_price"); n != 0 {
			t.Errorf("generated column not computed by the server")
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", target+"__rh_ddl"); n != 0 {
			t.Errorf("the DDL scratch schema was left behind")
		}
		if !slices.ContainsFunc(out.Dataset.Rules, func(f workspace.Fired) bool { return f.ID == "mask.synthetic.rows" }) {
			t.Errorf("dataset rules %v do not name mask.synthetic.rows", out.Dataset.Rules)
		}
		// Same key, same rows.
		again := s.input(t, "", schemaName(t, "synth"))
		again.SourceDSN, again.DDLFile, again.OverridesFile = "", in.DDLFile, in.OverridesFile
		out2, err := Run(context.Background(), again)
		if err != nil {
			t.Fatal(err)
		}
		for i := range out.Dataset.Tables {
			if out.Dataset.Tables[i].Digest != out2.Dataset.Tables[i].Digest {
				t.Errorf("%s: generated twice, different rows", out.Dataset.Tables[i].Name)
			}
		}
	})
}

// TestSyntheticIntoLiveEmptySchema: no source and no DDL — the target's own
// empty tables say what to generate.
func TestSyntheticIntoLiveEmptySchema(t *testing.T) {
	s := mariaServer(t)
	target := schemaName(t, "live")
	s.exec(t, target, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, phone VARCHAR(20))",
		"CREATE TABLE logins (id BIGINT PRIMARY KEY, user_id INT NOT NULL, at DATETIME NOT NULL, ip VARCHAR(45), CONSTRAINT fk_logins_user FOREIGN KEY (user_id) REFERENCES users (id))")
	in := s.input(t, "", target)
	in.SourceDSN = ""
	out, err := Run(context.Background(), in)
	if err != nil || !out.Verified {
		t.Fatalf("Run = %v", err)
	}
	if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.logins"); n != 100 {
		t.Errorf("logins: %d rows, want 100", n)
	}
	// A filled schema mask did not make is refused.
	other := schemaName(t, "filled")
	s.exec(t, other, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	in = s.input(t, "", other)
	in.SourceDSN = ""
	if _, err := Run(context.Background(), in); exitCode(err) != 2 {
		t.Errorf("generating over a filled schema = %v, want exit 2", err)
	}
}

// TestGC drops expired datasets and interrupted runs' staging, keeps the rest.
func TestGC(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		short, long := schemaName(t, "short"), schemaName(t, "long")
		for _, tc := range []struct {
			target string
			ttl    time.Duration
		}{{short, time.Hour}, {long, 48 * time.Hour}} {
			in := s.input(t, src, tc.target)
			in.TTL = tc.ttl
			if out, err := Run(context.Background(), in); err != nil || !out.Verified {
				t.Fatal(err)
			}
		}
		orphan := schemaName(t, "gone") + "__rh_stage"
		s.exec(t, orphan, "CREATE TABLE x (id INT PRIMARY KEY)")
		at := func(d time.Duration) func() time.Time { return func() time.Time { return testNow.Add(d) } }
		out, err := GC(context.Background(), GCInput{TargetDSN: s.dsn(""), Now: at(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(out.Dropped, short) || slices.Contains(out.Dropped, long) || !slices.Contains(out.Dropped, orphan) {
			t.Errorf("GC at +30m dropped %v, want only the orphan staging %s", out.Dropped, orphan)
		}
		out, err = GC(context.Background(), GCInput{TargetDSN: s.dsn(""), Now: at(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(out.Dropped, short) || slices.Contains(out.Dropped, long) {
			t.Errorf("GC at +2h dropped %v, want %s and not %s", out.Dropped, short, long)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN (?, ?)", short, long); n != 1 {
			t.Errorf("%d of the two datasets remain, want 1", n)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", src); n != 1 {
			t.Errorf("GC dropped the source schema")
		}
	})
}
