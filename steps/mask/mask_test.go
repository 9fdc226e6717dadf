package mask

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/pii"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// TestEmbeddedDefaultGolden runs the demo path — no DSN: the embedded server
// loaded with fixtures/shop — and compares dataset.json with the golden file
// fixtures/shop/golden/dataset.json (go test ./steps/mask -run Golden -update
// rewrites it). Two runs give the same bytes.
func TestEmbeddedDefaultGolden(t *testing.T) {
	// Only the mask rules, so that the digest in the golden file does not
	// change with the other kinds' rule files.
	dir := t.TempDir()
	for _, f := range []string{"mask.yaml", "mask_test.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../rules", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	set := loadRulesDir(t, dir)
	var got [][]byte
	for i := 0; i < 2; i++ {
		ws := t.TempDir()
		var progress []string
		out, err := Run(context.Background(), Input{Workspace: ws, Rules: set, Now: func() time.Time { return testNow },
			Progress: func(done, total int) { progress = append(progress, strconvItoa(done)+"/"+strconvItoa(total)) }})
		if err != nil {
			t.Fatalf("Run(embedded default) = %v", err)
		}
		if !out.Verified || out.ExitCode() != 0 {
			t.Fatalf("Run(embedded default): verified %v, problems %v", out.Verified, out.Dataset.Verification.Problems)
		}
		if p := out.Params(); p["tables"] != "5" || p["rows"] != "448" || p["verified"] != "true" {
			t.Errorf("Params() = %v, want 5 tables, 448 rows, verified", p)
		}
		if want := []string{"0/7", "1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7"}; !slices.Equal(progress, want) {
			t.Errorf("progress = %v, want %v", progress, want)
		}
		b, err := os.ReadFile(filepath.Join(ws, workspace.DatasetFile))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Errorf("two runs wrote different dataset.json")
	}
	golden := filepath.Join("..", "..", "fixtures", "shop", "golden", "dataset.json")
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, got[0], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got[0], want) {
		t.Errorf("dataset.json differs from %s (rerun with -update if the change is intended):\n%s", golden, got[0])
	}
	if bytes.Contains(got[0], testKey) || bytes.Contains(got[0], []byte(DemoKey)) {
		t.Errorf("dataset.json contains key material")
	}
}

func strconvItoa(i int) string { return string(appendInt(nil, i)) }
func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// sensitive are the source columns whose values must not survive.
var sensitive = []struct{ table, column string }{
	{"customers", "email"}, {"customers", "phone"}, {"customers", "national_id"}, {"customers", "backup_contact"},
	{"payments", "card_number"}, {"payments", "iban"}, {"payments", "client_ip"}, {"addresses", "line1"},
}

// TestMaskShop masks fixtures/shop on each server and checks the target:
// every table and row is there with its foreign keys, no original sensitive
// value is left anywhere, fakes have the right shape, unique columns stay
// unique, kept columns are unchanged, and the same original gives the same
// fake in every place.
func TestMaskShop(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		target := schemaName(t, "preprod")
		out, err := Run(context.Background(), s.input(t, src, target))
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
		if !out.Verified {
			t.Fatalf("not verified: %v", out.Dataset.Verification.Problems)
		}
		for _, tbl := range []string{"customers", "addresses", "orders", "order_items", "payments"} {
			a := s.count(t, "SELECT COUNT(*) FROM `"+src+"`.`"+tbl+"`")
			b := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.`"+tbl+"`")
			if a != b {
				t.Errorf("%s: %d rows in the target, %d in the source", tbl, b, a)
			}
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.referential_constraints WHERE constraint_schema = ?", target); n != 6 {
			t.Errorf("target has %d foreign keys, want the source's 6", n)
		}
		// Nothing sensitive from the source appears in any text of the target.
		originals := map[string]string{}
		for _, c := range sensitive {
			for _, v := range s.strings(t, "SELECT `"+c.column+"` FROM `"+src+"`.`"+c.table+"` WHERE `"+c.column+"` IS NOT NULL") {
				originals[v] = c.table + "." + c.column
			}
		}
		everything := strings.Join(append(append(append(
			s.tableDump(t, target, "customers", "id"), s.tableDump(t, target, "payments", "id")...),
			s.tableDump(t, target, "addresses", "customer_id, kind")...), s.tableDump(t, target, "orders", "id")...), "\n")
		for v, where := range originals {
			if strings.Contains(everything, v) {
				t.Errorf("original %s value %q is in the target", where, v)
			}
		}
		emails := s.strings(t, "SELECT email FROM `"+target+"`.customers ORDER BY id")
		if len(slices.Compact(slices.Sorted(slices.Values(emails)))) != len(emails) {
			t.Errorf("customers.email is not unique in the target")
		}
		for _, e := range emails {
			if !strings.HasSuffix(e, "@example.com") || !pii.IsEmail([]byte(e)) {
				t.Errorf("fake email %q is not an address on example.com", e)
			}
		}
		for _, c := range s.strings(t, "SELECT card_number FROM `"+target+"`.payments WHERE card_number IS NOT NULL") {
			if !transform.LuhnValid([]byte(c)) || !regexp.MustCompile(`^\d{4} \d{4} \d{4} \d{4}$`).MatchString(c) {
				t.Errorf("fake card %q is not a grouped Luhn-valid number", c)
			}
		}
		for _, c := range s.strings(t, "SELECT iban FROM `"+target+"`.payments WHERE iban IS NOT NULL") {
			if !transform.IBANValid([]byte(c)) {
				t.Errorf("fake IBAN %q has wrong check digits", c)
			}
		}
		// Kept columns are unchanged.
		for _, q := range []string{"SELECT CONCAT(id, ':', status, ':', total) FROM `%s`.orders ORDER BY id", "SELECT CONCAT(order_id, ':', line_no, ':', line_total) FROM `%s`.order_items ORDER BY order_id, line_no"} {
			a, b := s.strings(t, strings.ReplaceAll(q, "%s", src)), s.strings(t, strings.ReplaceAll(q, "%s", target))
			if !slices.Equal(a, b) {
				t.Errorf("kept columns changed: %s", q)
			}
		}
		// The email nested in profile got the same fake as the column.
		rows := s.strings(t, "SELECT CONCAT(email, '|', COALESCE(JSON_UNQUOTE(JSON_EXTRACT(profile, '$.contact.email')), 'none')) FROM `"+target+"`.customers ORDER BY id")
		nested := 0
		for _, r := range rows {
			e, inDoc, _ := strings.Cut(r, "|")
			if inDoc != "none" {
				nested++
				if inDoc != e {
					t.Errorf("profile email %q differs from the masked column %q of the same original", inDoc, e)
				}
			}
		}
		if nested == 0 {
			t.Errorf("no profile with a nested email in the target")
		}
		// The metadata table records the run.
		if got := s.strings(t, "SELECT value FROM `"+target+"`.rehearsal_dataset WHERE name IN ('created', 'key_id') ORDER BY name"); len(got) != 2 || got[0] != testNow.Format(time.RFC3339) {
			t.Errorf("rehearsal_dataset created/key_id = %v", got)
		}
	})
}

// TestSameDatasetOnBothServers: the key, not the server, decides the fakes.
func TestSameDatasetOnBothServers(t *testing.T) {
	var emails [][]string
	var ds []workspace.Dataset
	for _, s := range []*server{embeddedServer(t), mariaServer(t)} {
		src := s.loadShop(t)
		target := schemaName(t, "preprod")
		out, err := Run(context.Background(), s.input(t, src, target))
		if err != nil || !out.Verified {
			t.Fatalf("%s: Run = %v (verified %v)", s.name, err, out.Verified)
		}
		emails = append(emails, s.strings(t, "SELECT CONCAT(email, ' ', first_name, ' ', phone) FROM `"+target+"`.customers ORDER BY id"))
		ds = append(ds, out.Dataset)
	}
	if !slices.Equal(emails[0], emails[1]) {
		t.Errorf("embedded and MariaDB targets differ:\n%v\n%v", emails[0][:3], emails[1][:3])
	}
	for i := range ds[0].Tables {
		a, b := ds[0].Tables[i], ds[1].Tables[i]
		a.Digest, b.Digest = "", ""
		aj, _ := json.Marshal(a)
		bj, _ := json.Marshal(b)
		if !bytes.Equal(aj, bj) {
			t.Errorf("table %s decided differently:\n%s\n%s", a.Name, aj, bj)
		}
	}
}

// TestRerunIsIdempotent: masking twice gives the same target, and the second
// run replaces the first (its metadata table says mask made it).
func TestRerunIsIdempotent(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		target := schemaName(t, "preprod")
		var dumps [][]string
		var digests []string
		for i := 0; i < 2; i++ {
			out, err := Run(context.Background(), s.input(t, src, target))
			if err != nil || !out.Verified {
				t.Fatalf("run %d: %v", i+1, err)
			}
			dumps = append(dumps, s.tableDump(t, target, "customers", "id"))
			digests = append(digests, out.Dataset.Tables[1].Digest)
		}
		if !slices.Equal(dumps[0], dumps[1]) || digests[0] != digests[1] {
			t.Errorf("second run changed the target")
		}
	})
}

// TestInsertLoadsTheSameRows: the INSERT fallback loads exactly what LOAD
// DATA loads, including tabs, newlines, backslashes, NUL bytes, binary, BIT
// and ENUM values.
func TestInsertLoadsTheSameRows(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := schemaName(t, "odd")
		stmts := []string{
			"CREATE TABLE things (id INT PRIMARY KEY, label VARCHAR(100), body TEXT, raw VARBINARY(16), kind ENUM('a','b c'), amount DECIMAL(8,3), at DATETIME)",
			`INSERT INTO things VALUES (1, 'tab\there', 'line1\nline2\\\\end', x'00ff10', 'b c', 12.345, '2024-02-29 23:59:59'),
				(2, NULL, 'nul\0byte', NULL, 'a', -1.5, NULL), (3, 'é ü 漢字', '', x'', NULL, 0, '1999-12-31 00:00:00')`,
		}
		if s.name == "mariadb" {
			stmts[0] = strings.Replace(stmts[0], "at DATETIME)", "at DATETIME, flag BIT(1), bits BIT(12))", 1)
			stmts[1] = "INSERT INTO things VALUES (1, 'tab\\there', 'line1\\nline2\\\\\\\\end', x'00ff10', 'b c', 12.345, '2024-02-29 23:59:59', b'1', b'101010101010'), (2, NULL, 'nul\\0byte', NULL, 'a', -1.5, NULL, b'0', NULL), (3, 'é ü 漢字', '', x'', NULL, 0, '1999-12-31 00:00:00', NULL, b'1')"
		}
		s.exec(t, src, stmts...)
		// MariaDB takes LOAD DATA; the embedded server misreads its escapes,
		// so the probe picks INSERT there, and forcing LOAD DATA is refused.
		auto := map[string]string{"mariadb": loadData, "embedded": loadInsert}[s.name]
		var dumps [][]string
		for _, method := range []string{"", loadInsert} {
			target := schemaName(t, "load")
			in := s.input(t, src, target)
			in.Options.Load = method
			out, err := Run(context.Background(), in)
			if err != nil || !out.Verified {
				t.Fatalf("%q: Run = %v, problems %v", method, err, out.Dataset.Verification.Problems)
			}
			if want := cmp.Or(method, auto); out.Dataset.Load != want {
				t.Errorf("dataset load = %q, want %q", out.Dataset.Load, want)
			}
			dumps = append(dumps, s.tableDump(t, target, "things", "id"))
		}
		if s.name == "embedded" {
			in := s.input(t, src, schemaName(t, "forced"))
			in.Options.Load = loadData
			if _, err := Run(context.Background(), in); exitCode(err) != 2 || !strings.Contains(err.Error(), "use --load insert") {
				t.Errorf("forced load-data on the embedded server = %v, want exit 2", err)
			}
		}
		want := s.tableDump(t, src, "things", "id")
		for i, d := range dumps {
			if !slices.Equal(d, want) {
				t.Errorf("load %d:\n%q\nwant\n%q", i, d, want)
			}
		}
	})
}

func exitCode(err error) int { return exitcode.Code(err) }

// TestForeignKeyFollowsItsParent: a foreign key on a masked column (an
// email used as a key) gets the parent's fakes, so every row still finds its
// parent.
func TestForeignKeyFollowsItsParent(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := schemaName(t, "accounts")
		s.exec(t, src,
			"CREATE TABLE users (email VARCHAR(120) NOT NULL PRIMARY KEY, tier VARCHAR(10) NOT NULL)",
			"CREATE TABLE logins (id INT PRIMARY KEY, user_email VARCHAR(120) NOT NULL, at DATETIME NOT NULL, CONSTRAINT fk_logins_user FOREIGN KEY (user_email) REFERENCES users (email))",
			"INSERT INTO users VALUES ('ann@corp.io', 'pro'), ('bob@corp.io', 'free'), ('cy@corp.io', 'free')",
			"INSERT INTO logins VALUES (1, 'ann@corp.io', '2024-01-01 10:00:00'), (2, 'bob@corp.io', '2024-01-02 10:00:00'), (3, 'ann@corp.io', '2024-01-03 10:00:00')")
		target := schemaName(t, "preprod")
		out, err := Run(context.Background(), s.input(t, src, target))
		if err != nil || !out.Verified {
			t.Fatalf("Run = %v, problems %v", err, out.Dataset.Verification.Problems)
		}
		var logins workspace.DatasetTable
		for _, tb := range out.Dataset.Tables {
			if tb.Name == "logins" {
				logins = tb
			}
		}
		if c := logins.Columns[1]; c.Transformer != "email" || c.Rule != "fk:fk_logins_user" {
			t.Errorf("logins.user_email = %+v, want email by fk:fk_logins_user", c)
		}
		got := s.strings(t, "SELECT CONCAT(l.id, ' ', u.email) FROM `"+target+"`.logins l JOIN `"+target+"`.users u ON u.email = l.user_email ORDER BY l.id")
		if len(got) != 3 || strings.Contains(strings.Join(got, " "), "corp.io") {
			t.Errorf("logins joined to users = %v, want 3 rows with fake emails", got)
		}
	})
}

// TestStatisticsAfterLoad: tables are loaded with InnoDB's automatic
// statistics off, and the target still has its statistics computed and the
// source's STATS_AUTO_RECALC setting (the default, or as the source set it).
func TestStatisticsAfterLoad(t *testing.T) {
	onMaria(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		s.exec(t, src, "ALTER TABLE orders STATS_AUTO_RECALC=1")
		target := schemaName(t, "preprod")
		out, err := Run(context.Background(), s.input(t, src, target))
		if err != nil || !out.Verified {
			t.Fatalf("Run = %v (verified %v)", err, out.Verified)
		}
		for table, want := range map[string]string{"customers": "", "orders": "STATS_AUTO_RECALC=1"} {
			var name, ddl string
			if err := s.db.QueryRow("SHOW CREATE TABLE `"+target+"`."+table).Scan(&name, &ddl); err != nil {
				t.Fatal(err)
			}
			if got := statsAutoRecalcRe.FindString(ddl); got != want {
				t.Errorf("%s: STATS_AUTO_RECALC option %q, want %q (as in the source)", table, got, want)
			}
			rows := s.count(t, "SELECT COUNT(*) FROM `"+target+"`."+table)
			stats := s.count(t, "SELECT n_rows FROM mysql.innodb_table_stats WHERE database_name = ? AND table_name = ?", target, table)
			if rows == 0 || stats != rows {
				t.Errorf("%s: statistics say %d rows, the table has %d", table, stats, rows)
			}
		}
	})
}

func TestStatsAutoRecalc(t *testing.T) {
	for ddl, want := range map[string]string{
		"CREATE TABLE `t` (\n  `id` int NOT NULL\n) ENGINE=InnoDB":                                     "DEFAULT",
		"CREATE TABLE `t` (\n  `id` int NOT NULL\n) ENGINE=InnoDB STATS_AUTO_RECALC=0":                 "0",
		"CREATE TABLE `t` (\n  `id` int NOT NULL\n) ENGINE=InnoDB stats_auto_recalc = default":         "DEFAULT",
		"CREATE TABLE `t` (\n  `id` int\n) STATS_AUTO_RECALC=0 STATS_AUTO_RECALC=1 STATS_PERSISTENT=1": "1",
	} {
		if got := statsAutoRecalc(ddl); got != want {
			t.Errorf("statsAutoRecalc(%q) = %q, want %q", ddl, got, want)
		}
	}
}
