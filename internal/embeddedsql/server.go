// Package embeddedsql runs an in-process MySQL-compatible server
// (go-mysql-server with in-memory storage) on loopback, so that the mask step
// and its tests have a database without installing one. Clients reach it over
// the MySQL protocol with go-sql-driver/mysql, exactly as they reach MariaDB.
package embeddedsql

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net"
	"sort"
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gsql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"
)

// Server is a running embedded server.
type Server struct {
	srv  *server.Server
	addr string
	done chan error
}

// Start starts a server on 127.0.0.1 with a free port. Databases created over
// the wire get primary-key indexes, which foreign keys need, and LOAD DATA
// LOCAL INFILE is allowed. The server logs through logrus's standard logger,
// one line per connection and query error; Start lowers it to errors only,
// for the whole process.
func Start(ctx context.Context) (*Server, error) {
	if logrus.GetLevel() > logrus.ErrorLevel {
		logrus.SetLevel(logrus.ErrorLevel)
	}
	pro := memory.NewDBProvider()
	pro.WithOption(memory.NativeIndexProvider(true))
	engine := sqle.NewDefault(pro)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded server: listen: %w", err)
	}
	cfg := server.Config{Protocol: "tcp", Listener: ln, Address: ln.Addr().String()}
	srv, err := server.NewServer(cfg, engine, gsql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	s := &Server{srv: srv, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { s.done <- srv.Start() }()
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		s.Close()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("embedded server: not answering: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL local_infile = 1"); err != nil {
		s.Close()
		return nil, fmt.Errorf("embedded server: allow LOAD DATA LOCAL: %w", err)
	}
	return s, nil
}

// DSN returns a go-sql-driver DSN for the server with schema as the current
// database (empty: none).
func (s *Server) DSN(schema string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = s.addr
	c.DBName = schema
	return c.FormatDSN()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	return s.srv.Close()
}

// LoadSQL runs the statements of every *.sql file in fsys, in name order,
// with schema as the current database (created when missing). Statements end
// with ';' at the end of a line; lines starting with "--" are comments.
func LoadSQL(ctx context.Context, dsn, schema string, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Errorf("no *.sql files")
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+schema+"`"); err != nil {
		return fmt.Errorf("create database %s: %w", schema, err)
	}
	if _, err := conn.ExecContext(ctx, "USE `"+schema+"`"); err != nil {
		return err
	}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return err
		}
		for _, st := range Statements(string(data)) {
			if _, err := conn.ExecContext(ctx, st.Text); err != nil {
				return fmt.Errorf("%s:%d: %w", n, st.Line, err)
			}
		}
	}
	return nil
}

// Statement is one SQL statement of a script and the line it starts on.
type Statement struct {
	Text string
	Line int
}

// Statements splits a script into statements: a statement ends with ';' as
// the last character of a line outside quotes. Comment lines ("--", "#") are
// dropped.
func Statements(script string) []Statement {
	var out []Statement
	var b strings.Builder
	start := 0
	var quote byte
	for i, line := range strings.Split(script, "\n") {
		t := strings.TrimSpace(line)
		if quote == 0 && b.Len() == 0 && (t == "" || strings.HasPrefix(t, "--") || strings.HasPrefix(t, "#")) {
			continue
		}
		if b.Len() == 0 {
			start = i + 1
		}
		for j := 0; j < len(line); j++ {
			c := line[j]
			switch {
			case quote != 0 && c == '\\':
				j++
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '\'' || c == '"' || c == '`'):
				quote = c
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
		if quote == 0 && strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(b.String())
			out = append(out, Statement{Text: strings.TrimSuffix(s, ";"), Line: start})
			b.Reset()
		}
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		out = append(out, Statement{Text: s, Line: start})
	}
	return out
}
