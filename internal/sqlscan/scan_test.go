package sqlscan

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		lines []int
		ops   []string
	}{
		{"two statements", "CREATE TABLE a (id INT);\nDROP TABLE b;\n", []int{1, 2}, []string{"CREATE TABLE", "DROP TABLE"}},
		{"line comment hides a statement", "-- DROP TABLE users;\nSELECT 1;", []int{2}, []string{"SELECT"}},
		{"block comment over lines", "/* DROP TABLE x;\n DROP TABLE y; */\n\nINSERT INTO t VALUES (1);", []int{4}, []string{"INSERT"}},
		{"semicolon inside strings", "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);\nUPDATE t SET a = 'it''s; here' WHERE id = 1;", []int{1, 2}, []string{"INSERT", "UPDATE"}},
		{"backslash escape", "INSERT INTO t VALUES ('a\\';b');SELECT 2", []int{1, 1}, []string{"INSERT", "SELECT"}},
		{"no trailing semicolon", "\n\nTRUNCATE users", []int{3}, []string{"TRUNCATE"}},
		{"empty statements", ";;\n;", nil, nil},
		{"delimiter", "DELIMITER //\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END//\nDELIMITER ;\nDELETE FROM x WHERE id = 2;", []int{2, 4}, []string{"CREATE TRIGGER", "DELETE"}},
		{"dollar quoting", "CREATE FUNCTION f() RETURNS int AS $$ BEGIN DELETE FROM t; END $$ LANGUAGE plpgsql;\nSELECT 1;", []int{1, 2}, []string{"CREATE FUNCTION", "SELECT"}},
		{"unterminated string runs to the end", "SELECT 'abc;\nDROP TABLE x;", []int{1}, []string{"SELECT"}},
		{"unterminated comment", "SELECT 1; /* DROP TABLE x;", []int{1}, []string{"SELECT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.src), nil)
			var lines []int
			var ops []string
			for _, s := range got {
				lines = append(lines, s.Line)
				ops = append(ops, s.Op)
			}
			if !reflect.DeepEqual(lines, tt.lines) || !reflect.DeepEqual(ops, tt.ops) {
				t.Errorf("Scan(%q) lines %v ops %q, want %v %q", tt.src, lines, ops, tt.lines, tt.ops)
			}
		})
	}
}

func TestScanVerdicts(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		op, table   string
		destructive bool
		reason      string // substring of the reason
	}{
		{"create table", "CREATE TABLE IF NOT EXISTS `users` (id BIGINT PRIMARY KEY)", "CREATE TABLE", "users", false, ""},
		{"create index", "CREATE UNIQUE INDEX idx_email ON users (email)", "CREATE INDEX", "users", false, ""},
		{"drop table", "DROP TABLE sessions_old", "DROP TABLE", "sessions_old", true, "drops table sessions_old"},
		{"drop tables", "drop table if exists a, b.c", "DROP TABLE", "a", true, "drops table a, b.c"},
		{"drop database", "DROP DATABASE IF EXISTS shop", "DROP DATABASE", "", true, "drops database shop"},
		{"drop schema", "DROP SCHEMA legacy", "DROP SCHEMA", "", true, "drops schema legacy"},
		{"drop index is not destructive", "DROP INDEX idx_a ON users", "DROP INDEX", "users", false, ""},
		{"truncate", "TRUNCATE TABLE audit_log", "TRUNCATE", "audit_log", true, "truncates table audit_log"},
		{"delete without where", "DELETE FROM carts", "DELETE", "carts", true, "deletes every row of carts"},
		{"delete with where", "DELETE FROM carts WHERE created_at < '2020-01-01'", "DELETE", "carts", false, ""},
		{"where only in a subquery", "UPDATE users SET tier = (SELECT t FROM x WHERE x.id = 1)", "UPDATE", "users", true, "overwrites every row of users"},
		{"update with where", "UPDATE users SET tier = 'gold' WHERE id IN (1, 2)", "UPDATE", "users", false, ""},
		{"where inside a string does not count", "DELETE FROM notes -- WHERE id = 1\n", "DELETE", "notes", true, "no WHERE"},
		{"alter drop column", "ALTER TABLE users DROP COLUMN legacy_id", "ALTER TABLE", "users", true, "drops column users.legacy_id"},
		{"alter drop without COLUMN", "ALTER TABLE users DROP legacy_id, ADD COLUMN x INT", "ALTER TABLE", "users", true, "drops column users.legacy_id"},
		{"alter drop index", "ALTER TABLE users DROP INDEX idx_a, DROP FOREIGN KEY fk_b, DROP PRIMARY KEY", "ALTER TABLE", "users", false, ""},
		{"alter drop partition", "ALTER TABLE events DROP PARTITION p2019", "ALTER TABLE", "events", true, "drops partition p2019 of events"},
		{"alter add column", "ALTER TABLE users ADD COLUMN nickname VARCHAR(32) NULL", "ALTER TABLE", "users", false, ""},
		{"modify with unknown previous type", "ALTER TABLE users MODIFY email VARCHAR(64)", "ALTER TABLE", "users", true, "previous type unknown"},
		{"postgres alter type unknown", "ALTER TABLE users ALTER COLUMN email TYPE varchar(64)", "ALTER TABLE", "users", true, "previous type unknown"},
		{"rename table", "RENAME TABLE a TO b", "RENAME TABLE", "a", false, ""},
		{"insert", "INSERT INTO users (id) VALUES (1)", "INSERT", "users", false, ""},
		{"other statement", "SET foreign_key_checks = 0", "SET", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.src), nil)
			if len(got) != 1 {
				t.Fatalf("Scan(%q) = %d statements, want 1", tt.src, len(got))
			}
			s := got[0]
			if s.Op != tt.op || s.Table != tt.table || s.Destructive != tt.destructive || !strings.Contains(s.Reason, tt.reason) || (tt.reason == "" && s.Reason != "") {
				t.Errorf("Scan(%q) = %+v, want op %q table %q destructive %v reason ~%q", tt.src, s, tt.op, tt.table, tt.destructive, tt.reason)
			}
		})
	}
}

// TestNarrowing judges type changes against a schema built from earlier
// statements, the way classify replays a service's base migrations.
func TestNarrowing(t *testing.T) {
	base := `CREATE TABLE users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  email VARCHAR(255) NOT NULL,
  bio TEXT,
  score INT(11) DEFAULT 0,
  price DECIMAL(10,2),
  status ENUM('active','disabled') NOT NULL,
  born DATETIME(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_email (email)
);
ALTER TABLE users ADD COLUMN code CHAR(8);`
	tests := []struct {
		name        string
		change      string
		destructive bool
		reason      string
	}{
		{"varchar shorter", "ALTER TABLE users MODIFY COLUMN email VARCHAR(64) NOT NULL", true, "narrows users.email from VARCHAR(255) to VARCHAR(64) (shorter)"},
		{"varchar longer", "ALTER TABLE users MODIFY email VARCHAR(512) NOT NULL", false, ""},
		{"varchar to text", "ALTER TABLE users MODIFY email TEXT", false, ""},
		{"text to varchar", "ALTER TABLE users MODIFY bio VARCHAR(1000)", true, "narrows users.bio from TEXT to VARCHAR(1000)"},
		{"bigint to int", "ALTER TABLE users MODIFY id INT UNSIGNED NOT NULL", true, "smaller integer"},
		{"unsigned to signed same size", "ALTER TABLE users MODIFY id BIGINT NOT NULL", true, "large unsigned values"},
		{"int display width ignored", "ALTER TABLE users MODIFY score INTEGER(10) DEFAULT 0", false, ""},
		{"int to bigint", "ALTER TABLE users CHANGE score score BIGINT", false, ""},
		{"change renames and narrows", "ALTER TABLE users CHANGE COLUMN score points SMALLINT", true, "smaller integer"},
		{"decimal fewer places", "ALTER TABLE users MODIFY price DECIMAL(12,1)", true, "fewer decimal places"},
		{"decimal wider", "ALTER TABLE users MODIFY price DECIMAL(14,4)", false, ""},
		{"enum value removed", "ALTER TABLE users MODIFY status ENUM('active')", true, "value 'disabled' removed"},
		{"enum value added", "ALTER TABLE users MODIFY status ENUM('active','disabled','banned')", false, ""},
		{"datetime to date", "ALTER TABLE users MODIFY born DATE", true, "less date/time range"},
		{"fewer fractional seconds", "ALTER TABLE users MODIFY born DATETIME", true, "fewer fractional seconds"},
		{"char from alter add", "ALTER TABLE users MODIFY code CHAR(4)", true, "CHAR(8) to CHAR(4)"},
		{"different family", "ALTER TABLE users MODIFY email INT", true, "different kind of type"},
		{"postgres set data type", "ALTER TABLE users ALTER COLUMN email SET DATA TYPE character varying(100)", true, "VARCHAR(255) to VARCHAR(100)"},
		{"unknown column", "ALTER TABLE users MODIFY nope INT", true, "previous type unknown"},
		{"unknown table", "ALTER TABLE others MODIFY email VARCHAR(300)", true, "previous type unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := NewSchema()
			Scan([]byte(base), schema)
			got := Scan([]byte(tt.change), schema)
			if len(got) != 1 {
				t.Fatalf("Scan(%q) = %d statements, want 1", tt.change, len(got))
			}
			s := got[0]
			if s.Destructive != tt.destructive || !strings.Contains(s.Reason, tt.reason) {
				t.Errorf("Scan(%q) = destructive %v reason %q, want %v ~%q", tt.change, s.Destructive, s.Reason, tt.destructive, tt.reason)
			}
		})
	}
}

func TestSchemaFollowsRenamesAndDrops(t *testing.T) {
	schema := NewSchema()
	Scan([]byte(`CREATE TABLE a (x VARCHAR(10), y INT);
RENAME TABLE a TO b;
ALTER TABLE b RENAME COLUMN x TO z;
ALTER TABLE b DROP COLUMN y;`), schema)
	tests := []struct {
		table, col, want string
		ok               bool
	}{
		{"a", "x", "", false},
		{"b", "z", "VARCHAR(10)", true},
		{"b", "y", "", false},
	}
	for _, tt := range tests {
		got, ok := schema.Column(tt.table, tt.col)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Column(%q, %q) = %q, %v, want %q, %v", tt.table, tt.col, got, ok, tt.want, tt.ok)
		}
	}
}

func TestText(t *testing.T) {
	got := Scan([]byte("ALTER TABLE  users\n   -- drop it\n  DROP COLUMN /* old */ legacy_id ;"), nil)
	if want := "ALTER TABLE users DROP COLUMN legacy_id"; len(got) != 1 || got[0].Text != want {
		t.Fatalf("Scan text = %+v, want %q", got, want)
	}
	long := "INSERT INTO t VALUES ('" + strings.Repeat("é", 300) + "')"
	s := Scan([]byte(long), nil)[0].Text
	if len(s) > maxText+len("…") || !strings.HasSuffix(s, "…") {
		t.Errorf("Scan(long).Text has %d bytes (%q…), want at most %d ending in …", len(s), s[:20], maxText)
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE a (x VARCHAR(10));ALTER TABLE a MODIFY x VARCHAR(5);",
		"DELIMITER //\nSELECT 1//\nDELIMITER ;\n",
		"SELECT $$a$$; SELECT $x$ b $x$; /* c */ -- d\n'e''f' \"g\\\"\" `h``i`",
		"ALTER TABLE t CHANGE a b ENUM('x','y'), RENAME TO u, DROP PARTITION p, ADD (c INT, d TEXT)",
		"DROP TABLE", "ALTER TABLE", "RENAME TABLE a TO", "CREATE INDEX ON", "(((", "$", "DELIMITER ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		schema := NewSchema()
		for _, s := range Scan([]byte(src), schema) {
			if s.Line < 1 {
				t.Fatalf("Scan(%q): statement at line %d", src, s.Line)
			}
			if s.Destructive != (s.Reason != "") {
				t.Fatalf("Scan(%q): destructive %v with reason %q", src, s.Destructive, s.Reason)
			}
		}
	})
}
