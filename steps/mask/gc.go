package mask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
)

// GCInput is what a cleanup run needs.
type GCInput struct {
	TargetDSN string
	Now       func() time.Time
	Log       *slog.Logger
}

// GCOutput lists what a cleanup run did.
type GCOutput struct {
	// Dropped are the expired datasets and the staging schemas of
	// interrupted runs that were removed.
	Dropped []string `json:"dropped"`
	// Kept are the datasets still alive, with their expiry.
	Kept []string `json:"kept"`
	// Busy are expired datasets a running mask holds; the next cleanup
	// takes them.
	Busy []string `json:"busy,omitempty"`
}

// GC drops the datasets mask made whose TTL has passed, and the staging
// schemas runs left behind when they were killed. A schema is dropped only
// when it carries mask's metadata table (or a staging suffix) and no run
// holds its target's lock.
func GC(ctx context.Context, in GCInput) (GCOutput, error) {
	out := GCOutput{Dropped: []string{}, Kept: []string{}}
	if in.TargetDSN == "" {
		return out, exitcode.Inputf("mask --gc needs --target-dsn")
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	var sec secrets
	tgt, err := open(ctx, "target", in.TargetDSN, &sec)
	if err != nil {
		return out, err
	}
	defer tgt.db.Close()
	now := in.Now().UTC()
	rows, err := tgt.db.QueryContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = ? ORDER BY table_schema", MetaTable)
	if err != nil {
		return out, exitcode.Infrastructure(sec.redact(fmt.Errorf("list datasets: %w", err)))
	}
	var datasets []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return out, exitcode.Infrastructure(err)
		}
		datasets = append(datasets, s)
	}
	rows.Close()
	drop := func(schema, target string) (bool, error) {
		l, err := acquire(ctx, tgt.db, target)
		if errors.Is(err, ErrLocked) {
			out.Busy = append(out.Busy, schema)
			return false, nil
		}
		if err != nil {
			return false, err
		}
		defer l.release()
		if err := exec(ctx, tgt.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(schema)); err != nil {
			return false, err
		}
		out.Dropped = append(out.Dropped, schema)
		in.Log.Info("dropped", "schema", schema)
		return true, nil
	}
	for _, s := range datasets {
		if strings.HasSuffix(s, "__rh_stage") || strings.HasSuffix(s, "__rh_old") {
			continue // handled below, as staging
		}
		var expires string
		err := tgt.db.QueryRowContext(ctx, "SELECT value FROM "+qualified(s, MetaTable)+" WHERE name = 'expires'").Scan(&expires)
		if err != nil {
			in.Log.Warn("dataset without a readable expiry; kept", "schema", s, "error", sec.redact(err))
			out.Kept = append(out.Kept, s+" (no expiry)")
			continue
		}
		exp, err := time.Parse(time.RFC3339, expires)
		if err != nil || now.Before(exp) {
			out.Kept = append(out.Kept, s+" (expires "+expires+")")
			continue
		}
		if _, err := drop(s, s); err != nil {
			return out, exitcode.Infrastructure(sec.redact(fmt.Errorf("drop %s: %w", s, err)))
		}
	}
	// Staging and old schemas of runs that did not finish.
	rows, err = tgt.db.QueryContext(ctx, "SELECT schema_name FROM information_schema.schemata ORDER BY schema_name")
	if err != nil {
		return out, exitcode.Infrastructure(sec.redact(fmt.Errorf("list schemas: %w", err)))
	}
	var all []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err == nil {
			all = append(all, s)
		}
	}
	rows.Close()
	for _, s := range all {
		for _, suffix := range []string{"__rh_stage", "__rh_old", "__rh_ddl"} {
			if target, ok := strings.CutSuffix(s, suffix); ok {
				if _, err := drop(s, target); err != nil {
					return out, exitcode.Infrastructure(sec.redact(fmt.Errorf("drop %s: %w", s, err)))
				}
			}
		}
	}
	sort.Strings(out.Dropped)
	return out, nil
}
