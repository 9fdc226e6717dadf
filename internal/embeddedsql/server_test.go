package embeddedsql

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rehearsal-dev/rehearsal/fixtures/shop"
)

func TestStartAndLoadShop(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := LoadSQL(ctx, s.DSN(""), shop.Schema, shop.FS); err != nil {
		t.Fatalf("LoadSQL(shop) = %v", err)
	}
	db, err := sql.Open("mysql", s.DSN(shop.Schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for table, want := range map[string]int{"customers": 40, "addresses": 67, "orders": 88, "order_items": 181, "payments": 72} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	// Databases created over the wire take foreign keys (primary-key
	// indexes are on), and LOAD DATA LOCAL is allowed.
	var v int
	if err := db.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&v); err != nil || v != 1 {
		t.Errorf("@@local_infile = %d (%v), want 1", v, err)
	}
}

func TestLoadSQLNamesTheStatement(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fsys := fstest.MapFS{"a.sql": {Data: []byte("CREATE TABLE t (id INT PRIMARY KEY);\n\n-- comment\nINSERT INTO nope VALUES (1);\n")}}
	err = LoadSQL(ctx, s.DSN(""), "x", fsys)
	if err == nil || !strings.HasPrefix(err.Error(), "a.sql:4: ") {
		t.Errorf("LoadSQL(bad) = %v, want an error at a.sql:4", err)
	}
}

func TestStatements(t *testing.T) {
	got := Statements("-- c\nCREATE TABLE a (x TEXT DEFAULT 'a;\nb');\nINSERT INTO a VALUES ('it''s; fine');\n\nSELECT 1")
	want := []Statement{{"CREATE TABLE a (x TEXT DEFAULT 'a;\nb')", 2}, {"INSERT INTO a VALUES ('it''s; fine')", 4}, {"SELECT 1", 6}}
	if !slices.Equal(got, want) {
		t.Errorf("Statements = %v, want %v", got, want)
	}
}
