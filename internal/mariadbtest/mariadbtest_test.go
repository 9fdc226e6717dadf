package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

func TestStartKillRestart(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if errors.Is(err, ErrUnavailable) {
		SkipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE kept"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping after Kill succeeded")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'kept'").Scan(&n); err != nil || n != 1 {
		t.Errorf("after restart: schema kept count %d (%v), want 1", n, err)
	}
}
