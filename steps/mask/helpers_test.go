package mask

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/fixtures/shop"
	"github.com/rehearsal-dev/rehearsal/internal/embeddedsql"
	"github.com/rehearsal-dev/rehearsal/internal/mariadbtest"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// maria is the MariaDB server the tests share (nil when it cannot run here;
// mariaErr says why, and the tests that need it skip with that reason).
var (
	maria    *mariadbtest.Server
	mariaErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		maria, mariaErr = mariadbtest.Start(context.Background())
		if mariaErr != nil {
			fmt.Fprintf(os.Stderr, "steps/mask: MariaDB tests skip: %v\n", mariaErr)
		}
	} else {
		mariaErr = fmt.Errorf("-short")
	}
	code := m.Run()
	maria.Close()
	os.Exit(code)
}

var testKey = []byte("test-key-0123456789abcdef")

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func defaultRules(t testing.TB) *rules.Set { return loadRulesDir(t, "../../rules") }

func loadRulesDir(t testing.TB, dir string) *rules.Set {
	t.Helper()
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// server is a database server a test runs against.
type server struct {
	name string
	dsn  func(schema string) string
	db   *sql.DB
}

var schemaSeq atomic.Int64

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// schema returns a schema name unique to this test.
func schemaName(t testing.TB, what string) string {
	n := nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(n) > 20 {
		n = n[len(n)-20:]
	}
	return fmt.Sprintf("%s_%s_%d", what, strings.Trim(n, "_"), schemaSeq.Add(1))
}

// eachServer runs fn against a fresh embedded server and the shared MariaDB.
func eachServer(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("embedded", func(t *testing.T) { fn(t, embeddedServer(t)) })
	t.Run("mariadb", func(t *testing.T) { fn(t, mariaServer(t)) })
}

func onMaria(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("mariadb", func(t *testing.T) { fn(t, mariaServer(t)) })
}

func embeddedServer(t *testing.T) *server {
	t.Helper()
	e, err := embeddedsql.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	db, err := sql.Open("mysql", e.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &server{name: "embedded", dsn: e.DSN, db: db}
}

func mariaServer(t *testing.T) *server {
	t.Helper()
	if maria == nil {
		mariadbtest.SkipOrFail(t, mariaErr)
	}
	db, err := sql.Open("mysql", maria.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &server{name: "mariadb", dsn: maria.DSN, db: db}
}

// loadShop loads fixtures/shop into a new schema and returns its name.
func (s *server) loadShop(t testing.TB) string {
	t.Helper()
	name := schemaName(t, "shop")
	if err := embeddedsql.LoadSQL(context.Background(), s.dsn(""), name, shop.FS); err != nil {
		t.Fatal(err)
	}
	return name
}

// exec runs statements with schema as the current database.
func (s *server) exec(t testing.TB, schema string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if schema != "" {
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+schema+"`"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "USE `"+schema+"`"); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

// strings returns one column of a query's rows (NULL as "NULL").
func (s *server) strings(t testing.TB, q string, args ...any) []string {
	t.Helper()
	rows, err := s.db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !v.Valid {
			v.String = "NULL"
		}
		out = append(out, v.String)
	}
	return out
}

func (s *server) count(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// input is a run from source schema src to target schema target on s.
func (s *server) input(t testing.TB, src, target string) Input {
	return Input{
		Workspace: t.TempDir(), Rules: defaultRules(t), SourceDSN: s.dsn(src), TargetDSN: s.dsn(""),
		TargetSchema: target, Key: testKey, Now: func() time.Time { return testNow },
	}
}

// tableDump returns every row of a table, ordered, as text, for comparisons.
func (s *server) tableDump(t testing.TB, schema, table, orderBy string) []string {
	t.Helper()
	rows, err := s.db.Query(fmt.Sprintf("SELECT * FROM `%s`.`%s` ORDER BY %s", schema, table, orderBy))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var f []string
		for _, v := range raw {
			if v == nil {
				f = append(f, "NULL")
			} else {
				f = append(f, string(v))
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	return out
}
