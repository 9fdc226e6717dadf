package mask

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

// TestBadInput: each problem is refused with exit 2, a message naming the
// table, column or file:line:col, and nothing is created on the target.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name      string
		schema    []string // extra statements in the source schema (shop loaded first)
		over      string   // overrides file content
		rule      string   // a rule prepended to the default mask rules
		mariaOnly bool
		want      []string
	}{
		{name: "table without primary key", schema: []string{"CREATE TABLE audit_log (at DATETIME, msg TEXT)"},
			want: []string{".audit_log has no primary key", "{table: audit_log, skip: true}"}},
		{name: "unknown column in overrides", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: customers, column: emial, transformer: email}\n",
			want: []string{"overrides.yaml:4:5: unknown column customers.emial (the table has id, email,"}},
		{name: "unknown table in overrides", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ntables:\n  - {table: custmers, rows: 5}\n",
			want: []string{"overrides.yaml:4:5: unknown table custmers"}},
		{name: "unknown transformer in overrides", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: customers, column: email, transformer: emial}\n",
			want: []string{`overrides.yaml:4:52: transformer "emial" is not one of`}},
		{name: "unknown column in rules", rule: "  - id: custom.emial\n    description: d\n    when: column.table == 'customers' && column.name == 'emial'\n    effect: {transformer: email}\n",
			want: []string{"mask.yaml:", "rule custom.emial: names column customers.emial, which does not exist"}},
		{name: "unsupported type", schema: []string{"CREATE TABLE places (id INT PRIMARY KEY, location POINT NOT NULL)"},
			want: []string{"places.location (point): type point is not supported"}},
		{name: "transformer that cannot write the type", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: orders, column: total, transformer: email}\n",
			want: []string{"overrides.yaml:4:5: orders.total (decimal(10,2)): email cannot write decimal columns"}},
		{name: "null on a NOT NULL column", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: customers, column: email, transformer: null}\n",
			want: []string{"customers.email (varchar(255)): null cannot write a NOT NULL column"}},
		{name: "foreign key to a missing table", mariaOnly: true,
			schema: []string{"SET foreign_key_checks = 0", "CREATE TABLE refunds (id INT PRIMARY KEY, invoice_id INT, CONSTRAINT fk_refunds_invoice FOREIGN KEY (invoice_id) REFERENCES invoices (id))"},
			want:   []string{"refunds: foreign key fk_refunds_invoice references table invoices, which does not exist"}},
		{name: "unique column whose fake space is too small",
			schema: append([]string{"CREATE TABLE members (id INT PRIMARY KEY, nickname VARCHAR(40) NOT NULL, UNIQUE KEY uq_nick (nickname))"}, nicknames(2000)...),
			over:   "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: members, column: nickname, transformer: first-name}\n",
			want:   []string{"members.nickname is unique with 2000 distinct values, but first-name", "makes about 1611 distinct fakes"}},
		{name: "bad subset condition", over: "apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ntables:\n  - {table: customers, subset: {where: \"regio = 'eu'\"}}\n",
			want: []string{"override:", "subset of customers", "regio"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			servers := eachServer
			if tc.mariaOnly { // the embedded server refuses such a schema at CREATE time
				servers = onMaria
			}
			servers(t, func(t *testing.T, s *server) {
				src := s.loadShop(t)
				if len(tc.schema) > 0 {
					s.exec(t, src, tc.schema...)
				}
				target := schemaName(t, "preprod")
				in := s.input(t, src, target)
				if tc.over != "" {
					in.OverridesFile = filepath.Join(t.TempDir(), "overrides.yaml")
					os.WriteFile(in.OverridesFile, []byte(tc.over), 0o644)
				}
				if tc.rule != "" {
					in.Rules = rulesWith(t, tc.rule)
				}
				_, err := Run(context.Background(), in)
				if exitCode(err) != 2 {
					t.Fatalf("Run = %v (exit %d), want exit 2", err, exitCode(err))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Run = %v\nwant it to contain %q", err, w)
					}
				}
				if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE ?", target+"%"); n != 0 {
					t.Errorf("a refused run left %d schemas named %s*", n, target)
				}
			})
		})
	}
}

func nicknames(n int) []string {
	var vals []string
	for i := 0; i < n; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'nick%05d')", i+1, i))
	}
	return []string{"INSERT INTO members VALUES " + strings.Join(vals, ", ")}
}

// rulesWith is the default rules with rule prepended to mask.yaml.
func rulesWith(t *testing.T, rule string) *rules.Set {
	t.Helper()
	dir := t.TempDir()
	entries, _ := os.ReadDir("../../rules")
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("../../rules", e.Name()))
		if e.Name() == "mask.yaml" {
			b = []byte(strings.Replace(string(b), "rules:\n", "rules:\n"+rule, 1))
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestUnreachableServer: exit 3, and the password never shows.
func TestUnreachableServer(t *testing.T) {
	in := Input{Rules: defaultRules(t), Key: testKey, Workspace: t.TempDir(),
		SourceDSN: "app:s3cr3t-pw@tcp(127.0.0.1:1)/shop", TargetDSN: "app:s3cr3t-pw@tcp(127.0.0.1:1)/"}
	_, err := Run(context.Background(), in)
	if exitCode(err) != 3 {
		t.Fatalf("Run(unreachable) = %v, want exit 3", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") || !strings.Contains(err.Error(), "app:***@tcp(127.0.0.1:1)") {
		t.Errorf("Run(unreachable) = %q: want the DSN with its password redacted", err)
	}
	in.SourceDSN = "app:s3cr3t-pw@nonsense(("
	_, err = Run(context.Background(), in)
	if exitCode(err) != 2 || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("Run(malformed DSN) = %v, want exit 2 without the password", err)
	}
	if _, err := os.Stat(filepath.Join(in.Workspace, "dataset.json")); err == nil {
		t.Errorf("a failed run wrote dataset.json")
	}
}

// TestConcurrentRunRefused: while one run holds the target, another is
// refused (exit 3) and changes nothing.
func TestConcurrentRunRefused(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		target := schemaName(t, "preprod")
		ctx := context.Background()
		holder, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		var got int
		if err := holder.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName(target)).Scan(&got); err != nil || got != 1 {
			t.Fatalf("GET_LOCK = %d, %v", got, err)
		}
		_, err = Run(ctx, s.input(t, src, target))
		if exitCode(err) != 3 || !errors.Is(err, ErrLocked) {
			t.Fatalf("Run while another holds the lock = %v, want exit 3 and ErrLocked", err)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE ?", target+"%"); n != 0 {
			t.Errorf("the refused run created %d schemas", n)
		}
		holder.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", lockName(target))
		if out, err := Run(ctx, s.input(t, src, target)); err != nil || !out.Verified {
			t.Errorf("Run after the lock was released = %v", err)
		}
	})
}

// TestServerKilledMidLoad (MariaDB): the server dies after the first table is
// loaded. The run fails with exit 3, the previous dataset is intact after a
// restart, and the next run removes the staging left behind.
func TestServerKilledMidLoad(t *testing.T) {
	s := mariaServer(t)
	src := s.loadShop(t)
	target := schemaName(t, "preprod")
	ctx := context.Background()
	if out, err := Run(ctx, s.input(t, src, target)); err != nil || !out.Verified {
		t.Fatalf("first run = %v", err)
	}
	before := s.tableDump(t, target, "customers", "id")
	// The second run masks with another key, so a half-swapped target would show.
	in := s.input(t, src, target)
	in.Key = []byte("another-key-0123456789")
	killed := false
	testHookAfterTable = func(string) {
		if !killed {
			killed = true
			maria.Kill()
		}
	}
	_, err := Run(ctx, in)
	testHookAfterTable = nil
	if exitCode(err) != 3 {
		t.Fatalf("Run with the server killed = %v, want exit 3", err)
	}
	if err := maria.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("mysql", maria.DSN(""))
	defer db.Close()
	s.db = db
	if after := s.tableDump(t, target, "customers", "id"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the target changed although the run died before the swap")
	}
	if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", stagingSchema(target)); n != 1 {
		t.Fatalf("staging schema count after the kill = %d, want the leftover", n)
	}
	out, err := Run(ctx, in)
	if err != nil || !out.Verified {
		t.Fatalf("run after restart = %v", err)
	}
	if !strings.Contains(strings.Join(out.Dataset.Notes, "\n"), "dropped "+stagingSchema(target)+", left by an interrupted run") {
		t.Errorf("notes %v do not mention the cleaned staging", out.Dataset.Notes)
	}
	if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE ?", target+"\\_\\_%"); n != 0 {
		t.Errorf("%d staging schemas remain", n)
	}
}

// TestLeakFailsVerification: an original email copied into a kept column is
// found by the hash check; the run ends with exit 1 and the target untouched.
func TestLeakFailsVerification(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		s.exec(t, src, "CREATE TABLE crm_notes (id INT PRIMARY KEY, body VARCHAR(300))",
			"INSERT INTO crm_notes SELECT id, CONCAT('ticket from ', email, ' about delivery') FROM customers WHERE id <= 3")
		target := schemaName(t, "preprod")
		in := s.input(t, src, target)
		in.OverridesFile = filepath.Join(t.TempDir(), "overrides.yaml")
		os.WriteFile(in.OverridesFile, []byte("apiVersion: rehearsal.dev/v1\nkind: mask-overrides\ncolumns:\n  - {table: crm_notes, column: body, transformer: keep}\n"), 0o644)
		out, err := Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if out.Verified || out.ExitCode() != 1 {
			t.Fatalf("a leaked email passed verification")
		}
		l := out.Dataset.Verification.Leaks
		if l.Found != 3 || strings.Join(l.Columns, ",") != "crm_notes.body" {
			t.Errorf("leaks = %+v, want 3 found in crm_notes.body", l)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE ?", target+"%"); n != 0 {
			t.Errorf("a failed verification left %d schemas", n)
		}
		b, _ := os.ReadFile(filepath.Join(in.Workspace, "dataset.json"))
		if strings.Contains(string(b), "@gmail.com") || !strings.Contains(string(b), `"verified": false`) {
			t.Errorf("dataset.json must record the failure without the leaked values")
		}
	})
}

// TestReplaceGuard: a schema mask did not make is not replaced without
// Replace; with it, it is.
func TestReplaceGuard(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := s.loadShop(t)
		target := schemaName(t, "precious")
		s.exec(t, target, "CREATE TABLE keepme (id INT PRIMARY KEY)", "INSERT INTO keepme VALUES (1)")
		_, err := Run(context.Background(), s.input(t, src, target))
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "was not made by mask") {
			t.Fatalf("Run over a foreign schema = %v, want exit 2", err)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM `"+target+"`.keepme"); n != 1 {
			t.Fatalf("the foreign schema was touched")
		}
		in := s.input(t, src, target)
		in.Replace = true
		if out, err := Run(context.Background(), in); err != nil || !out.Verified {
			t.Fatalf("Run with Replace = %v", err)
		}
		if n := s.count(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'keepme'", target); n != 0 {
			t.Errorf("the replaced target still has the old table")
		}
	})
}

// TestFailOnSuspect: a kept column that looks sensitive stops the run before
// anything is loaded.
func TestFailOnSuspect(t *testing.T) {
	s := embeddedServer(t)
	src := s.loadShop(t)
	s.exec(t, src, "CREATE TABLE staff (id INT PRIMARY KEY, manager_name VARCHAR(80))", "INSERT INTO staff VALUES (1, 'Team lead'), (2, NULL)")
	target := schemaName(t, "preprod")
	in := s.input(t, src, target)
	in.FailOnSuspect = true
	out, err := Run(context.Background(), in)
	if err != nil || out.ExitCode() != 1 {
		t.Fatalf("Run = %v, exit %d; want exit 1", err, out.ExitCode())
	}
	if len(out.Dataset.Suspects) != 1 || out.Dataset.Suspects[0].Column != "manager_name" || out.Dataset.Suspects[0].Rule != "mask.suspect.name" {
		t.Errorf("suspects = %+v, want staff.manager_name by mask.suspect.name", out.Dataset.Suspects)
	}
	if n := s.count(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE ?", target+"%"); n != 0 {
		t.Errorf("nothing may be loaded, found %d schemas", n)
	}
	in.FailOnSuspect = false
	if out, err := Run(context.Background(), in); err != nil || !out.Verified || len(out.Dataset.Suspects) != 1 {
		t.Errorf("without FailOnSuspect the run proceeds and reports the suspect: %v", err)
	}
}

// TestNoKey: only the embedded demo runs without a key.
func TestNoKey(t *testing.T) {
	s := embeddedServer(t)
	src := s.loadShop(t)
	in := s.input(t, src, schemaName(t, "preprod"))
	in.Key = nil
	if _, err := Run(context.Background(), in); exitCode(err) != 2 || !strings.Contains(err.Error(), "no masking key") {
		t.Errorf("Run without a key = %v, want exit 2", err)
	}
	in.Key = []byte("short")
	if _, err := Run(context.Background(), in); exitCode(err) != 2 || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("Run with a short key = %v, want exit 2", err)
	}
}

// TestUniqueDrawsAgain: a unique column whose fakes collide keeps its values
// unique by drawing again, and the same original keeps one fake everywhere —
// here it was written in another table first, so the run starts over with a
// reservation pass.
func TestUniqueDrawsAgain(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		src := schemaName(t, "codes")
		var tags, codes []string
		for i := 1; i <= 9; i++ {
			tags = append(tags, fmt.Sprintf("(%d, '%d')", i, i))
			codes = append(codes, fmt.Sprintf("(%d, '%d')", i, 10-i))
		}
		s.exec(t, src,
			"CREATE TABLE aa_tags (id INT PRIMARY KEY, code CHAR(1) NOT NULL)",
			"CREATE TABLE zz_codes (id INT PRIMARY KEY, code CHAR(1) NOT NULL, UNIQUE KEY uq_code (code))",
			"INSERT INTO aa_tags VALUES "+strings.Join(tags, ", "),
			"INSERT INTO zz_codes VALUES "+strings.Join(codes, ", "))
		over := "columns:\n  - {table: aa_tags, column: code, transformer: postcode}\n  - {table: zz_codes, column: code, transformer: postcode}\n"
		for _, reserve := range []bool{false, true} {
			target := schemaName(t, "preprod")
			in := s.input(t, src, target)
			in.OverridesFile = writeOverrides(t, over)
			in.Options.Reserve = reserve
			out, err := Run(context.Background(), in)
			if err != nil || !out.Verified {
				t.Fatalf("Run(reserve %v) = %v", reserve, err)
			}
			got := s.strings(t, "SELECT code FROM `"+target+"`.zz_codes ORDER BY code")
			if len(slices.Compact(slices.Clone(got))) != 9 {
				t.Errorf("zz_codes.code = %v, want 9 distinct values", got)
			}
			// Same original, same fake: tag i and code 10-i hold the same original.
			pairs := s.strings(t, "SELECT CONCAT(a.code, '=', z.code) FROM `"+target+"`.aa_tags a JOIN `"+target+"`.zz_codes z ON z.id = 10 - a.id")
			for _, p := range pairs {
				if a, z, _ := strings.Cut(p, "="); a != z {
					t.Errorf("one original, two fakes: %s", p)
				}
			}
			notes := strings.Join(out.Dataset.Notes, "\n")
			if !reserve && !strings.Contains(notes, "the load restarted with a pass over the unique columns first") {
				t.Errorf("notes %q: want the restart explained", notes)
			}
		}
		// Alone, the unique column draws again while loading, in one pass.
		target := schemaName(t, "preprod")
		in := s.input(t, src, target)
		in.OverridesFile = writeOverrides(t, "columns:\n  - {table: zz_codes, column: code, transformer: postcode}\n")
		out, err := Run(context.Background(), in)
		if err != nil || !out.Verified {
			t.Fatalf("Run = %v", err)
		}
		notes := strings.Join(out.Dataset.Notes, "\n")
		if strings.Contains(notes, "restarted") || !strings.Contains(notes, "values of unique columns were drawn again to stay unique") {
			t.Errorf("notes %q: want draws again in one pass", notes)
		}
	})
}
