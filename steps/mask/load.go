package mask

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
)

// Load methods.
const (
	loadData   = "load-data"
	loadInsert = "insert"
)

// Swap methods.
const (
	swapRename         = "rename"
	swapRenameInSchema = "rename-in-schema"
)

// Prefixes of staging and old tables when they live in the target schema.
const (
	newPrefix = "_rh_new_"
	oldPrefix = "_rh_old_"
)

// stage is where a run loads its tables before swapping them into the target.
type stage interface {
	method() string
	// prepare removes what an interrupted run left and creates the staging
	// area; it returns a note when it cleaned something.
	prepare(ctx context.Context) ([]string, error)
	// schema is the schema staging tables live in; name the table's name.
	schema() string
	name(table string) string
	// create makes the staging table from the source's CREATE TABLE.
	create(ctx context.Context, conn *sql.Conn, t *dbschema.Table) error
	// swap replaces the target's tables with the staging tables at once.
	swap(ctx context.Context, tables []*dbschema.Table) error
	// drop removes the staging area (after a failure).
	drop(ctx context.Context) error
}

// statsAutoRecalcRe finds the STATS_AUTO_RECALC table option in SHOW CREATE
// TABLE.
var statsAutoRecalcRe = regexp.MustCompile(`(?i)\bSTATS_AUTO_RECALC\s*=\s*(0|1|DEFAULT)\b`)

// statsAutoRecalc is a table's STATS_AUTO_RECALC option as its CREATE TABLE
// sets it (DEFAULT when it does not).
func statsAutoRecalc(ddl string) string {
	if m := statsAutoRecalcRe.FindAllStringSubmatch(ddl, -1); len(m) > 0 {
		return strings.ToUpper(m[len(m)-1][1])
	}
	return "DEFAULT"
}

// analyze sets a loaded table's STATS_AUTO_RECALC option back to recalc and
// computes its statistics once (ANALYZE TABLE reports failures as rows).
func analyze(ctx context.Context, conn *sql.Conn, table, recalc string) error {
	if err := exec(ctx, conn, "ALTER TABLE "+table+" STATS_AUTO_RECALC="+recalc); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, "ANALYZE TABLE "+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, op, kind, msg sql.NullString
		if err := rows.Scan(&name, &op, &kind, &msg); err != nil {
			return err
		}
		if strings.EqualFold(kind.String, "error") {
			return fmt.Errorf("ANALYZE TABLE %s: %s", table, msg.String)
		}
	}
	return rows.Err()
}

// targetState is what the target schema holds before the run.
type targetState struct {
	exists  bool
	tables  []string // base tables
	hasMeta bool
}

func inspectTarget(ctx context.Context, db *sql.DB, target string) (targetState, error) {
	var st targetState
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", target).Scan(&n); err != nil {
		return st, err
	}
	st.exists = n > 0
	if !st.exists {
		return st, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", target)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return st, err
		}
		if strings.Contains(strings.ToUpper(typ), "VIEW") {
			continue
		}
		st.tables = append(st.tables, name)
		if name == MetaTable {
			st.hasMeta = true
		}
	}
	return st, rows.Err()
}

func exec(ctx context.Context, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) error {
	for _, s := range stmts {
		if _, err := e.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", abbreviate(s), err)
		}
	}
	return nil
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// schemaStage loads into a staging schema beside the target and swaps with
// one RENAME TABLE moving every old table out and every new one in
// (MariaDB, MySQL).
type schemaStage struct {
	db     *sql.DB
	target string
	// createdTarget is set when the swap created the target schema.
	createdTarget bool
}

func (s *schemaStage) method() string           { return swapRename }
func (s *schemaStage) schema() string           { return stagingSchema(s.target) }
func (s *schemaStage) name(table string) string { return table }

func (s *schemaStage) prepare(ctx context.Context) ([]string, error) {
	var notes []string
	for _, name := range []string{stagingSchema(s.target), oldSchema(s.target)} {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			if err := exec(ctx, s.db, "DROP DATABASE "+dbschema.Quote(name)); err != nil {
				return nil, err
			}
			notes = append(notes, fmt.Sprintf("dropped %s, left by an interrupted run", name))
		}
	}
	return notes, exec(ctx, s.db, "CREATE DATABASE "+dbschema.Quote(s.schema()))
}

func (s *schemaStage) create(ctx context.Context, conn *sql.Conn, t *dbschema.Table) error {
	return exec(ctx, conn, "USE "+dbschema.Quote(s.schema()), "SET foreign_key_checks = 0", t.CreateSQL)
}

func (s *schemaStage) swap(ctx context.Context, tables []*dbschema.Table) error {
	st, err := inspectTarget(ctx, s.db, s.target)
	if err != nil {
		return err
	}
	old := oldSchema(s.target)
	if !st.exists {
		if err := exec(ctx, s.db, "CREATE DATABASE "+dbschema.Quote(s.target)); err != nil {
			return err
		}
		s.createdTarget = true
	}
	if err := exec(ctx, s.db, "CREATE DATABASE "+dbschema.Quote(old)); err != nil {
		return err
	}
	var pairs []string
	for _, t := range st.tables {
		pairs = append(pairs, qualified(s.target, t)+" TO "+qualified(old, t))
	}
	for _, t := range tables {
		pairs = append(pairs, qualified(s.schema(), t.Name)+" TO "+qualified(s.target, t.Name))
	}
	if err := exec(ctx, s.db, "RENAME TABLE "+strings.Join(pairs, ", ")); err != nil {
		_ = exec(context.WithoutCancel(ctx), s.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(old))
		if s.createdTarget {
			_ = exec(context.WithoutCancel(ctx), s.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(s.target))
		}
		return err
	}
	s.createdTarget = false
	return exec(ctx, s.db, "DROP DATABASE "+dbschema.Quote(old), "DROP DATABASE "+dbschema.Quote(s.schema()))
}

func (s *schemaStage) drop(ctx context.Context) error {
	return exec(ctx, s.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(s.schema()))
}

func qualified(schema, table string) string {
	return dbschema.Quote(schema) + "." + dbschema.Quote(table)
}

// inSchemaStage loads into prefixed tables inside the target schema and
// swaps with one RENAME TABLE there. The embedded server needs it: its RENAME
// TABLE ignores schema qualifiers, and foreign key names are unique per
// schema, so staging tables are created without foreign keys, which are
// added back (with their names) once the old tables are dropped.
type inSchemaStage struct {
	db            *sql.DB
	target        string
	createdTarget bool
}

func (s *inSchemaStage) method() string           { return swapRenameInSchema }
func (s *inSchemaStage) schema() string           { return s.target }
func (s *inSchemaStage) name(table string) string { return newPrefix + table }

func (s *inSchemaStage) prepare(ctx context.Context) ([]string, error) {
	st, err := inspectTarget(ctx, s.db, s.target)
	if err != nil {
		return nil, err
	}
	if !st.exists {
		if err := exec(ctx, s.db, "CREATE DATABASE "+dbschema.Quote(s.target)); err != nil {
			return nil, err
		}
		s.createdTarget = true
		return nil, nil
	}
	var left []string
	for _, t := range st.tables {
		if strings.HasPrefix(t, newPrefix) || strings.HasPrefix(t, oldPrefix) {
			left = append(left, qualified(s.target, t))
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := exec(ctx, conn, dropEach(left)...); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("dropped %d staging tables left in %s by an interrupted run", len(left), s.target)}, nil
}

var (
	createHeadRe = regexp.MustCompile("(?i)^\\s*CREATE TABLE `(?:[^`]|``)+`")
	fkLineRe     = regexp.MustCompile("(?i)^\\s*CONSTRAINT `(?:[^`]|``)+` FOREIGN KEY")
)

// stagingDDL renames the table of a CREATE TABLE and drops its foreign keys.
func stagingDDL(ddl, name string) string {
	lines := strings.Split(ddl, "\n")
	var out []string
	for i, l := range lines {
		if i == 0 {
			l = createHeadRe.ReplaceAllString(l, "CREATE TABLE "+dbschema.Quote(name))
		}
		if fkLineRe.MatchString(l) {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), ")") && len(out) > 0 {
			out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], ",")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func (s *inSchemaStage) create(ctx context.Context, conn *sql.Conn, t *dbschema.Table) error {
	return exec(ctx, conn, "USE "+dbschema.Quote(s.target), "SET foreign_key_checks = 0", stagingDDL(t.CreateSQL, s.name(t.Name)))
}

func (s *inSchemaStage) swap(ctx context.Context, tables []*dbschema.Table) error {
	st, err := inspectTarget(ctx, s.db, s.target)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var pairs, olds []string
	for _, t := range st.tables {
		if strings.HasPrefix(t, newPrefix) || strings.HasPrefix(t, oldPrefix) {
			continue
		}
		pairs = append(pairs, dbschema.Quote(t)+" TO "+dbschema.Quote(oldPrefix+t))
		olds = append(olds, dbschema.Quote(oldPrefix+t))
	}
	for _, t := range tables {
		pairs = append(pairs, dbschema.Quote(s.name(t.Name))+" TO "+dbschema.Quote(t.Name))
	}
	if err := exec(ctx, conn, "USE "+dbschema.Quote(s.target), "RENAME TABLE "+strings.Join(pairs, ", ")); err != nil {
		return err
	}
	s.createdTarget = false
	// One DROP per table: the embedded server's multi-table DROP TABLE
	// leaves some tables behind.
	stmts := []string{"SET foreign_key_checks = 0"}
	for _, o := range olds {
		stmts = append(stmts, "DROP TABLE "+o)
	}
	stmts = append(stmts, "SET foreign_key_checks = 1")
	for _, t := range tables {
		for _, fk := range t.ForeignKeys {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
				dbschema.Quote(t.Name), dbschema.Quote(fk.Name), dbschema.QuoteList(fk.Columns), dbschema.Quote(fk.RefTable), dbschema.QuoteList(fk.RefColumns)))
		}
	}
	return exec(ctx, conn, stmts...)
}

func (s *inSchemaStage) drop(ctx context.Context) error {
	if s.createdTarget {
		return exec(ctx, s.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(s.target))
	}
	st, err := inspectTarget(ctx, s.db, s.target)
	if err != nil {
		return err
	}
	var left []string
	for _, t := range st.tables {
		if strings.HasPrefix(t, newPrefix) {
			left = append(left, qualified(s.target, t))
		}
	}
	if len(left) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return exec(ctx, conn, dropEach(left)...)
}

// dropEach drops tables one statement each, foreign key checks off.
func dropEach(tables []string) []string {
	stmts := []string{"SET foreign_key_checks = 0"}
	for _, t := range tables {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+t)
	}
	return stmts
}

// loadDataSink streams a table into LOAD DATA LOCAL INFILE through the
// driver's reader handler.
type loadDataSink struct {
	pw      *io.PipeWriter
	pr      *io.PipeReader
	handler string
	done    chan loadResult
}

type loadResult struct {
	rows int64
	err  error
}

var handlerSeq atomic.Int64

func loadColumns(tp *tablePlan) (list string, set string) {
	var cols, sets []string
	for i, c := range tp.load {
		if c.bit {
			v := fmt.Sprintf("@v%d", i)
			cols = append(cols, v)
			sets = append(sets, fmt.Sprintf("%s = CAST(%s AS UNSIGNED)", dbschema.Quote(c.c.Name), v))
			continue
		}
		cols = append(cols, dbschema.Quote(c.c.Name))
	}
	list = "(" + strings.Join(cols, ", ") + ")"
	if len(sets) > 0 {
		set = " SET " + strings.Join(sets, ", ")
	}
	return list, set
}

func newLoadDataSink(ctx context.Context, conn *sql.Conn, table string, tp *tablePlan) *loadDataSink {
	s := &loadDataSink{done: make(chan loadResult, 1)}
	s.pr, s.pw = io.Pipe()
	s.handler = fmt.Sprintf("rehearsal-mask-%d", handlerSeq.Add(1))
	mysql.RegisterReaderHandler(s.handler, func() io.Reader { return s.pr })
	list, set := loadColumns(tp)
	q := fmt.Sprintf("LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' %s%s",
		s.handler, dbschema.Quote(table), list, set)
	go func() {
		res, err := conn.ExecContext(ctx, q)
		var n int64
		if err == nil {
			n, _ = res.RowsAffected()
			err = warnings(ctx, conn)
		}
		// Unblock the writer if the server refused the load early.
		if err != nil {
			s.pr.CloseWithError(err)
		} else {
			s.pr.Close()
		}
		s.done <- loadResult{n, err}
	}()
	return s
}

// warnings turns the warnings of a load into an error: LOAD DATA LOCAL
// truncates or converts bad values with a warning only.
func warnings(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&n); err != nil || n == 0 {
		return nil
	}
	rows, err := conn.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("%d warnings", n)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if rows.Scan(&level, &code, &msg) == nil {
			msgs = append(msgs, msg)
		}
	}
	return fmt.Errorf("the server reported %d warnings, e.g. %s", n, strings.Join(msgs, "; "))
}

func (s *loadDataSink) write(ctx context.Context, b *batch) error {
	_, err := s.pw.Write(b.tsv)
	if err != nil {
		if r := <-s.done; r.err != nil {
			s.done <- r
			return r.err
		}
	}
	return err
}

func (s *loadDataSink) finish(ctx context.Context) (int64, error) {
	s.pw.Close()
	r := <-s.done
	mysql.DeregisterReaderHandler(s.handler)
	return r.rows, r.err
}

func (s *loadDataSink) abort(err error) {
	s.pw.CloseWithError(err)
	<-s.done
	mysql.DeregisterReaderHandler(s.handler)
}

// insertSink loads with multi-row INSERT statements, for servers that refuse
// LOAD DATA LOCAL.
type insertSink struct {
	conn   *sql.Conn
	table  string
	tp     *tablePlan
	rows   int64
	maxArg int
}

func newInsertSink(conn *sql.Conn, table string, tp *tablePlan) *insertSink {
	return &insertSink{conn: conn, table: table, tp: tp, maxArg: 30000}
}

func (s *insertSink) write(ctx context.Context, b *batch) error {
	ncol := len(s.tp.load)
	per := max(1, min(500, s.maxArg/ncol))
	ph := make([]string, ncol)
	for i, c := range s.tp.load {
		ph[i] = "?"
		if c.bit {
			ph[i] = "CAST(? AS UNSIGNED)"
		}
	}
	row := "(" + strings.Join(ph, ", ") + ")"
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", dbschema.Quote(s.table), dbschema.QuoteList(colNames(s.tp.load)))
	for start := 0; start < b.n; start += per {
		end := min(b.n, start+per)
		var q strings.Builder
		q.WriteString(head)
		args := make([]any, 0, (end-start)*ncol)
		for r := start; r < end; r++ {
			if r > start {
				q.WriteString(", ")
			}
			q.WriteString(row)
			for ci, c := range s.tp.load {
				v, null := b.outField(r*ncol + ci)
				switch {
				case null:
					args = append(args, nil)
				case c.class == transform.Binary:
					args = append(args, append(make([]byte, 0, len(v)), v...)) // never nil: nil is NULL
				default:
					args = append(args, string(v))
				}
			}
		}
		res, err := s.conn.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("insert into %s: %w", s.table, err)
		}
		n, _ := res.RowsAffected()
		s.rows += n
	}
	return nil
}

func (s *insertSink) finish(context.Context) (int64, error) { return s.rows, nil }
func (s *insertSink) abort(error)                           {}

func colNames(cols []*colPlan) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.c.Name
	}
	return out
}

// loadDataWorks reports whether the server takes LOAD DATA LOCAL INFILE and
// reads its escapes right: it loads one probe row into the staging area.
// (The embedded server accepts LOAD DATA but drops the backslash escapes.)
func loadDataWorks(ctx context.Context, db *sql.DB, st stage) bool {
	if !localInfile(ctx, db) {
		return false
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	name := st.name("_rh_probe")
	if exec(ctx, conn, "USE "+dbschema.Quote(st.schema()), "CREATE TABLE "+dbschema.Quote(name)+" (id INT NOT NULL PRIMARY KEY, v VARBINARY(32))") != nil {
		return false
	}
	defer exec(context.WithoutCancel(ctx), conn, "DROP TABLE IF EXISTS "+dbschema.Quote(name))
	want := []byte("a\tb\nc\\d\x00e")
	probe := &tablePlan{load: []*colPlan{{c: &dbschema.Column{Name: "id"}}, {c: &dbschema.Column{Name: "v"}}}}
	sk := newLoadDataSink(ctx, conn, name, probe)
	b := &batch{tsv: append([]byte("1\t"), appendEscaped(nil, want)...)}
	b.tsv = append(b.tsv, '\n')
	if sk.write(ctx, b) != nil {
		sk.abort(errAborted)
		return false
	}
	if n, err := sk.finish(ctx); err != nil || n != 1 {
		return false
	}
	var got []byte
	if conn.QueryRowContext(ctx, "SELECT v FROM "+dbschema.Quote(name)).Scan(&got) != nil {
		return false
	}
	return string(got) == string(want)
}

// localInfile reports whether the server takes LOAD DATA LOCAL INFILE.
func localInfile(ctx context.Context, db *sql.DB) bool {
	var v sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&v); err != nil {
		return false
	}
	return v.String == "1" || strings.EqualFold(v.String, "ON")
}

var errAborted = errors.New("load aborted")
