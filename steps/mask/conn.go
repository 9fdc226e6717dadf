package mask

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
)

// Server kinds.
const (
	serverMariaDB  = "mariadb"
	serverMySQL    = "mysql"
	serverEmbedded = "embedded"
)

// endpoint is one opened database.
type endpoint struct {
	role   string // source or target
	db     *sql.DB
	cfg    *mysql.Config
	kind   string
	schema string // the DSN's database
}

// Redact returns dsn with its password replaced, for messages. A DSN that
// does not parse is shown only up to its '@'.
func Redact(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			return "***" + dsn[i:]
		}
		return "(unparsable DSN)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "***"
	}
	return cfg.FormatDSN()
}

// secrets are strings that must never appear in an error message.
type secrets []string

func (s secrets) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, x := range s {
		if len(x) >= 3 {
			clean = strings.ReplaceAll(clean, x, "***")
		}
	}
	if clean == msg {
		return err
	}
	return redactedError{msg: clean, err: err}
}

// redactedError keeps the chain (for errors.Is/As) with a clean message.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// open parses and connects a DSN. A malformed DSN is bad input; a server
// that does not answer is an infrastructure failure. Neither message shows
// the password.
func open(ctx context.Context, role, dsn string, sec *secrets) (*endpoint, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, exitcode.Inputf("%s DSN %s: %v", role, Redact(dsn), sec.redact(err))
	}
	if cfg.Passwd != "" {
		*sec = append(*sec, cfg.Passwd)
	}
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	cfg.ParseTime = false
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, exitcode.Inputf("%s DSN %s: %v", role, Redact(dsn), sec.redact(err))
	}
	db := sql.OpenDB(conn)
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout+5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, exitcode.Infrastructure(sec.redact(fmt.Errorf("connect to %s %s: %w", role, Redact(dsn), err)))
	}
	e := &endpoint{role: role, db: db, cfg: cfg, schema: cfg.DBName}
	var version, comment string
	if err := db.QueryRowContext(ctx, "SELECT @@version, @@version_comment").Scan(&version, &comment); err != nil {
		db.Close()
		return nil, exitcode.Infrastructure(sec.redact(fmt.Errorf("%s %s: read server version: %w", role, Redact(dsn), err)))
	}
	e.kind = serverKind(version, comment)
	return e, nil
}

func serverKind(version, comment string) string {
	v := strings.ToLower(version + " " + comment)
	switch {
	case strings.Contains(v, "mariadb"):
		return serverMariaDB
	case strings.Contains(v, "dolt"), strings.Contains(v, "go-mysql-server"):
		return serverEmbedded
	}
	return serverMySQL
}

var schemaNameRe = regexp.MustCompile(`[^a-z0-9_]+`)

// TargetName expands a target schema template: {{branch}} becomes branch in
// lower case with every run of other characters than a-z, 0-9 and _ turned
// into one _. Names longer than 48 characters are cut and end in a hash, so
// that mask's staging names still fit MySQL's 64.
func TargetName(template, branch string) (string, error) {
	if strings.Contains(template, "{{branch}}") {
		if branch == "" {
			return "", exitcode.Inputf("target schema %q needs a branch: give --branch", template)
		}
		b := strings.Trim(schemaNameRe.ReplaceAllString(strings.ToLower(branch), "_"), "_")
		template = strings.ReplaceAll(template, "{{branch}}", b)
	}
	if strings.Contains(template, "{{") {
		return "", exitcode.Inputf("target schema %q: only {{branch}} can be replaced", template)
	}
	name := template
	if name == "" || strings.ContainsAny(name, "`/\\. ") {
		return "", exitcode.Inputf("target schema %q is not a valid schema name", template)
	}
	if len(name) > maxTarget {
		sum := sha256.Sum256([]byte(name))
		name = name[:maxTarget-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return name, nil
}

// maxTarget leaves room for the staging suffixes within MySQL's 64.
const maxTarget = 48

func stagingSchema(target string) string { return target + "__rh_stage" }
func oldSchema(target string) string     { return target + "__rh_old" }

// lockName is the GET_LOCK name that serialises runs on one target.
func lockName(target string) string {
	n := "rehearsal.mask." + target
	if len(n) > 64 {
		sum := sha256.Sum256([]byte(n))
		n = "rehearsal.mask." + hex.EncodeToString(sum[:16])
	}
	return n
}

// lock holds a server-side named lock on a dedicated connection.
type lock struct {
	conn *sql.Conn
	name string
}

// ErrLocked is returned when another run holds the target's lock.
var ErrLocked = errors.New("another mask run holds the lock on this target")

func acquire(ctx context.Context, db *sql.DB, target string) (*lock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	name := lockName(target)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		conn.Close()
		return nil, err
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, ErrLocked
	}
	return &lock{conn: conn, name: name}, nil
}

func (l *lock) release() {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", l.name)
	l.conn.Close()
}

// lockFree reports whether no run holds target's lock.
func lockFree(ctx context.Context, db *sql.DB, target string) (bool, error) {
	var free sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", lockName(target)).Scan(&free); err != nil {
		return false, err
	}
	return free.Valid && free.Int64 == 1, nil
}
