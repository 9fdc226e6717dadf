package mask

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/embeddedsql"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mask/transform"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// testHookAfterTable, when set by a test, runs after each table is loaded.
var testHookAfterTable func(table string)

// run is one mask run's state; close releases everything it holds and
// removes the staging area unless the swap happened.
type run struct {
	in Input
	secrets
	emb       *embeddedsql.Server
	src, tgt  *endpoint
	snap      *sql.Conn // the source, in one consistent snapshot
	lock      *lock
	stage     stage
	staged    bool
	swapped   bool
	ddlSchema string
	last      time.Time
}

// phase logs how long the phase that just ended took.
func (r *run) phase(name string, args ...any) {
	now := time.Now()
	if !r.last.IsZero() {
		r.in.Log.Info(name, append([]any{"took", now.Sub(r.last).Round(time.Millisecond)}, args...)...)
	}
	r.last = now
}

func (r *run) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r.staged && !r.swapped && r.stage != nil {
		if err := r.stage.drop(ctx); err != nil {
			r.in.Log.Warn("staging not removed; the next run on this target removes it", "error", r.redact(err))
		}
	}
	if r.ddlSchema != "" && r.tgt != nil {
		_ = exec(ctx, r.tgt.db, "DROP DATABASE IF EXISTS "+dbschema.Quote(r.ddlSchema))
	}
	if r.snap != nil {
		_, _ = r.snap.ExecContext(ctx, "COMMIT")
		r.snap.Close()
	}
	r.lock.release()
	for _, e := range []*endpoint{r.src, r.tgt} {
		if e != nil {
			e.db.Close()
		}
	}
	if r.emb != nil {
		r.emb.Close()
	}
}

func (r *run) run(ctx context.Context) (Output, error) {
	in := r.in
	r.phase("start")
	key, notes, err := in.key()
	if err != nil {
		return Output{}, err
	}
	var over *Overrides
	if in.OverridesFile != "" {
		if over, err = LoadOverrides(in.OverridesFile); err != nil {
			return Output{}, exitcode.Input(err)
		}
	}
	if in.TargetSchema != "" {
		if _, err := TargetName(in.TargetSchema, in.Branch); err != nil && !in.embedded() {
			return Output{}, err
		}
	}
	srcSchema, err := r.connect(ctx)
	if err != nil {
		return Output{}, err
	}
	target, err := r.targetName()
	if err != nil {
		return Output{}, err
	}
	if r.src != nil && srcSchema == target && r.src.cfg.Addr == r.tgt.cfg.Addr {
		return Output{}, exitcode.Inputf("target schema %s is the source schema", target)
	}
	if r.lock, err = acquire(ctx, r.tgt.db, target); err != nil {
		if errors.Is(err, ErrLocked) {
			return Output{}, exitcode.Infrastructure(fmt.Errorf("target %s: %w; refusing to run concurrently", target, ErrLocked))
		}
		return Output{}, r.infra("lock target %s: %w", target, err)
	}
	if r.tgt.kind == serverEmbedded {
		r.stage = &inSchemaStage{db: r.tgt.db, target: target}
	} else {
		r.stage = &schemaStage{db: r.tgt.db, target: target}
	}
	in.Log.Info("mask run", "target", target, "server", r.tgt.kind, "swap", r.stage.method(), "key", key.ID())

	// The schema: the source's, or for synthetic data the DDL's or the
	// target's own.
	mode := workspace.ModeCopy
	var schema *dbschema.Schema
	var srcQ queryer
	if r.src != nil {
		if err := r.snapshot(ctx); err != nil {
			return Output{}, err
		}
		srcQ = r.snap
		if schema, err = inspect(ctx, r.src.db, srcSchema); err != nil {
			return Output{}, r.infra("%w", err)
		}
		if len(schema.Tables) == 0 {
			return Output{}, exitcode.Inputf("source schema %s has no tables", srcSchema)
		}
	} else {
		mode = workspace.ModeSynthetic
		if schema, err = r.syntheticSchema(ctx, target); err != nil {
			return Output{}, err
		}
	}
	st, err := inspectTarget(ctx, r.tgt.db, target)
	if err != nil {
		return Output{}, r.infra("inspect target %s: %w", target, err)
	}

	// Plan every column.
	p := &planner{rules: in.Rules, change: in.Change, reg: transform.Builtin(), over: over, identity: in.Options.Identity,
		fired: map[string]int{}, messages: map[string]string{}}
	if srcQ != nil {
		p.sampleSQL = func(tp *tablePlan, cols []*colPlan) ([][][]byte, int64, error) {
			return sampleRows(ctx, r.snap, srcSchema, tp, cols, in.Options.SampleRows)
		}
	}
	p.checkSchema(schema)
	if err := p.problems.Err(); err != nil {
		return Output{}, exitcode.Input(err)
	}
	ds := workspace.Dataset{Mode: mode, Target: target, Server: r.tgt.kind, Swap: r.stage.method(), KeyID: key.ID(),
		RulesDigest: in.Rules.Digest, TTL: in.TTL.String(), Tables: []workspace.DatasetTable{}, Rules: []workspace.Fired{}}
	if r.src != nil {
		ds.Source = srcSchema
	}
	for _, v := range schema.Views {
		ds.Skipped = append(ds.Skipped, workspace.Skipped{Name: v, Reason: "view: views are not copied; recreate them from the source's definition if preprod needs them"})
	}
	var plans []*tablePlan
	byName := map[string]*tablePlan{}
	for _, t := range schema.Order() {
		if t.Name == MetaTable {
			continue
		}
		if ov := over.table(t.Name); ov != nil && ov.Skip {
			ds.Skipped = append(ds.Skipped, workspace.Skipped{Name: t.Name, Reason: "skipped by " + over.where(ov.Line)})
			continue
		}
		tp, err := p.planTable(ctx, schema, t, r.src == nil)
		if err != nil {
			return Output{}, r.classify(err)
		}
		tp.synthetic = r.src == nil
		plans = append(plans, tp)
		byName[t.Name] = tp
	}
	sort.Slice(ds.Skipped, func(i, j int) bool { return ds.Skipped[i].Name < ds.Skipped[j].Name })
	notes = append(notes, followForeignKeys(byName)...)
	if err := p.problems.Err(); err != nil {
		return Output{}, exitcode.Input(err)
	}
	r.phase("classified")
	if err := r.decideTables(ctx, schema, plans, byName, p, over, srcQ, srcSchema); err != nil {
		return Output{}, err
	}
	for _, tp := range plans {
		if tp.root != nil {
			mode = workspace.ModeSubset
		}
	}
	ds.Mode = mode
	ds.Suspects = p.suspects
	if in.FailOnSuspect && len(p.suspects) > 0 {
		ds.Tables = datasetTables(plans)
		ds.Rules = p.firedRules()
		ds.Verification.Problems = []string{fmt.Sprintf("%d kept columns look sensitive and --fail-on-suspect is set: nothing was loaded", len(p.suspects))}
		ds.Notes = append(notes, p.notes...)
		return Output{Dataset: ds}, nil
	}
	if err := r.checkTarget(ctx, st, target, mode); err != nil {
		return Output{}, err
	}

	// Subset closure, then the fakes of unique columns.
	if mode == workspace.ModeSubset {
		ss := &subsetter{db: srcQ, schema: srcSchema, plans: byName, key: key}
		more, err := ss.closure(ctx)
		if err != nil {
			return Output{}, r.classify(err)
		}
		notes = append(notes, more...)
		for n, t := range ss.tables {
			byName[n].sourceRows = int64(len(t.rows))
		}
	}
	r.phase("tables decided")
	uq, err := r.uniques(ctx, srcSchema, plans)
	if err != nil {
		return Output{}, err
	}

	// Stage, load, verify, swap.
	cleaned, err := r.stage.prepare(ctx)
	if err != nil {
		return Output{}, r.infra("prepare staging for %s: %w", target, err)
	}
	r.staged = true
	notes = append(notes, cleaned...)
	if !uq.inline {
		// Unique columns are reserved before the load.
		if err := r.reserveUnique(ctx, srcSchema, plans, key, uq.dom); err != nil {
			return Output{}, err
		}
		r.phase("unique fakes reserved")
	}
	method := in.Options.Load
	if method != loadInsert {
		works := loadDataWorks(ctx, r.tgt.db, r.stage)
		switch {
		case works:
			method = loadData
		case method == loadData:
			return Output{}, exitcode.Inputf("--load load-data: the target server refuses LOAD DATA LOCAL INFILE or misreads its escapes; use --load insert")
		default:
			method = loadInsert
			notes = append(notes, "the target server refuses LOAD DATA LOCAL INFILE or misreads its escapes (the embedded server drops backslash escapes): rows were loaded with multi-row INSERT")
		}
	}
	ds.Load = method
	total := len(plans) + 2
	in.Progress(0, total)
	r.phase("staging prepared")
	var lk *leaks
	for {
		lk = newLeaks()
		err := r.loadAll(ctx, plans, srcSchema, method, key, uq, lk, total)
		if !errors.Is(err, errRestart) {
			if err != nil {
				return Output{}, err
			}
			break
		}
		// A unique column needed another draw for a value already written
		// elsewhere: start over, reserving every unique fake first.
		notes = append(notes, "a unique value needed another draw after the same original was written elsewhere: the load restarted with a pass over the unique columns first")
		if err := r.stage.drop(ctx); err != nil {
			return Output{}, r.infra("drop staging: %w", err)
		}
		if _, err := r.stage.prepare(ctx); err != nil {
			return Output{}, r.infra("prepare staging for %s: %w", target, err)
		}
		uq = &uniques{dom: transform.NewDomainsFor(slices.Sorted(maps.Keys(uq.names)), 0), names: uq.names}
		if err := r.reserveUnique(ctx, srcSchema, plans, key, uq.dom); err != nil {
			return Output{}, err
		}
		r.phase("unique fakes reserved")
	}
	if uq.redraws > 0 {
		notes = append(notes, fmt.Sprintf("%d values of unique columns were drawn again to stay unique", uq.redraws))
	}
	if err := r.writeMeta(ctx, target, mode, ds.Source, key); err != nil {
		return Output{}, err
	}
	v, err := verify(ctx, r.tgt.db, r.stage, plans, lk)
	if err != nil {
		return Output{}, r.infra("verify: %w", err)
	}
	in.Progress(len(plans)+1, total)
	r.phase("verified")
	ds.Verification = v
	ds.Verified = verified(v)
	if ds.Verified {
		tables := make([]*dbschema.Table, 0, len(plans)+1)
		for _, tp := range plans {
			tables = append(tables, tp.t)
		}
		tables = append(tables, &dbschema.Table{Name: MetaTable})
		if err := r.stage.swap(ctx, tables); err != nil {
			return Output{}, r.infra("swap into %s: %w", target, err)
		}
		r.swapped = true
		r.phase("swapped")
		if r.stage.method() == swapRenameInSchema {
			notes = append(notes, "embedded server: staging tables lived in the target schema under "+newPrefix+" names and were renamed in one RENAME TABLE; foreign keys were added back after the old tables were dropped")
		}
	} else {
		notes = append(notes, "verification failed: the target was left as it was")
	}
	in.Progress(total, total)
	ds.Tables = datasetTables(plans)
	ds.Rules = p.firedRules()
	ds.Notes = append(notes, p.notes...)
	out := Output{Dataset: ds, Tables: len(plans), Verified: ds.Verified}
	for _, t := range ds.Tables {
		out.Rows += t.TargetRows
	}
	return out, nil
}

// classify keeps an error's exit code, or makes it an infrastructure one.
func (r *run) classify(err error) error {
	var e *exitcode.Error
	if errors.As(err, &e) {
		return exitcode.Wrap(e.Code, r.redact(err))
	}
	return exitcode.Infrastructure(r.redact(err))
}

func inspect(ctx context.Context, db *sql.DB, name string) (*dbschema.Schema, error) {
	return dbschema.Inspect(ctx, db, name)
}

// connect opens the servers; it returns the source schema.
func (r *run) connect(ctx context.Context) (string, error) {
	in := r.in
	var err error
	if in.embedded() {
		if r.emb, err = embeddedsql.Start(ctx); err != nil {
			return "", exitcode.Infrastructure(err)
		}
		if err := embeddedsql.LoadSQL(ctx, r.emb.DSN(""), in.FixturesSchema, in.Fixtures); err != nil {
			return "", exitcode.Input(fmt.Errorf("load fixtures into the embedded server: %w", err))
		}
		if r.src, err = open(ctx, "source", r.emb.DSN(in.FixturesSchema), &r.secrets); err != nil {
			return "", err
		}
		if r.tgt, err = open(ctx, "target", r.emb.DSN(""), &r.secrets); err != nil {
			return "", err
		}
		return in.FixturesSchema, nil
	}
	if in.TargetDSN == "" {
		return "", exitcode.Inputf("no --target-dsn: give the server the dataset is loaded into (or neither DSN for the embedded demo)")
	}
	if in.SourceDSN != "" {
		if r.src, err = open(ctx, "source", in.SourceDSN, &r.secrets); err != nil {
			return "", err
		}
		if r.src.schema == "" {
			return "", exitcode.Inputf("source DSN %s names no database: end it with /<schema>", Redact(in.SourceDSN))
		}
	}
	if r.tgt, err = open(ctx, "target", in.TargetDSN, &r.secrets); err != nil {
		return "", err
	}
	if r.src != nil {
		return r.src.schema, nil
	}
	return "", nil
}

func (r *run) targetName() (string, error) {
	in := r.in
	template, branch := in.TargetSchema, in.Branch
	if template == "" {
		if r.tgt.schema != "" && !in.embedded() {
			template = r.tgt.schema
		} else {
			template = DefaultTargetSchema
		}
	}
	if in.embedded() && branch == "" {
		branch = "demo"
	}
	return TargetName(template, branch)
}

// snapshot starts one consistent read of the source: every table is read as
// of the same moment, so foreign keys hold even on a source taking writes.
func (r *run) snapshot(ctx context.Context) error {
	conn, err := r.src.db.Conn(ctx)
	if err != nil {
		return r.infra("source: %w", err)
	}
	r.snap = conn
	if r.src.kind == serverEmbedded {
		return nil // in-memory tables; nothing writes to the fixtures
	}
	if err := exec(ctx, conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return r.infra("source: start a consistent snapshot: %w", err)
	}
	return nil
}

// syntheticSchema is the schema to generate rows for: the DDL file's
// (created in a scratch schema on the target server) or the target's own.
func (r *run) syntheticSchema(ctx context.Context, target string) (*dbschema.Schema, error) {
	if r.in.DDLFile == "" {
		st, err := inspectTarget(ctx, r.tgt.db, target)
		if err != nil {
			return nil, r.infra("inspect target %s: %w", target, err)
		}
		if !st.exists || len(st.tables) == 0 {
			return nil, exitcode.Inputf("no source DSN and no --ddl: give a source, a DDL file, or a target schema %s whose tables say what to generate", target)
		}
		s, err := inspect(ctx, r.tgt.db, target)
		if err != nil {
			return nil, r.infra("%w", err)
		}
		return s, nil
	}
	data, err := os.ReadFile(r.in.DDLFile)
	if err != nil {
		return nil, exitcode.Inputf("read DDL: %v", err)
	}
	r.ddlSchema = target + "__rh_ddl"
	conn, err := r.tgt.db.Conn(ctx)
	if err != nil {
		return nil, r.infra("target: %w", err)
	}
	defer conn.Close()
	if err := exec(ctx, conn, "DROP DATABASE IF EXISTS "+dbschema.Quote(r.ddlSchema), "CREATE DATABASE "+dbschema.Quote(r.ddlSchema),
		"USE "+dbschema.Quote(r.ddlSchema), "SET foreign_key_checks = 0"); err != nil {
		return nil, r.infra("scratch schema for the DDL: %w", err)
	}
	for _, st := range embeddedsql.Statements(string(data)) {
		if _, err := conn.ExecContext(ctx, st.Text); err != nil {
			return nil, exitcode.Inputf("%s:%d: %v", r.in.DDLFile, st.Line, err)
		}
	}
	s, err := inspect(ctx, r.tgt.db, r.ddlSchema)
	if err != nil {
		return nil, r.infra("%w", err)
	}
	if len(s.Tables) == 0 {
		return nil, exitcode.Inputf("%s creates no tables", r.in.DDLFile)
	}
	return s, nil
}

// decideTables applies the table rules and overrides: subset roots and
// synthetic row counts.
func (r *run) decideTables(ctx context.Context, s *dbschema.Schema, plans []*tablePlan, byName map[string]*tablePlan, p *planner, over *Overrides, srcQ queryer, srcSchema string) error {
	refBy := map[string][]string{}
	for _, tp := range plans {
		for _, fk := range tp.t.ForeignKeys {
			if !contains(refBy[fk.RefTable], tp.t.Name) {
				refBy[fk.RefTable] = append(refBy[fk.RefTable], tp.t.Name)
			}
		}
	}
	for _, tp := range plans {
		mt := &workspace.MaskTable{Name: tp.t.Name, Columns: tp.t.ColumnNames(), PrimaryKey: tp.t.PrimaryKey,
			ReferencedBy: refBy[tp.t.Name], Synthetic: tp.synthetic}
		for _, fk := range tp.t.ForeignKeys {
			if !contains(mt.References, fk.RefTable) {
				mt.References = append(mt.References, fk.RefTable)
			}
		}
		sort.Strings(mt.References)
		sort.Strings(mt.ReferencedBy)
		if srcQ != nil {
			if err := r.snap.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qualified(srcSchema, tp.t.Name)).Scan(&mt.Rows); err != nil {
				return r.infra("count %s: %w", tp.t.Name, err)
			}
			tp.rowCount = mt.Rows
		}
		d, _, err := r.in.Rules.ApplyMaskTable(r.in.Change, mt)
		if err != nil {
			return exitcode.Input(err)
		}
		if !tp.synthetic && d.Subset != nil {
			tp.root, tp.rootRule = d.Subset, d.SubsetRule.Pos()+": rule "+d.SubsetRule.ID
			p.fire(d.SubsetRule)
		}
		if tp.synthetic {
			tp.rows = r.in.Options.SyntheticRows
			tp.rowsRule = "default"
			if d.RowsRule != nil {
				tp.rows, tp.rowsRule = d.Rows, d.RowsRule.ID
				p.fire(d.RowsRule)
			}
		}
		if ov := over.table(tp.t.Name); ov != nil {
			if ov.Subset != nil && !tp.synthetic {
				tp.root, tp.rootRule = ov.Subset, over.where(ov.Line)
			}
			if ov.Rows > 0 {
				tp.rows, tp.rowsRule = ov.Rows, over.where(ov.Line)
			}
		}
	}
	return nil
}

// checkTarget refuses to replace a schema mask did not make, unless asked.
func (r *run) checkTarget(ctx context.Context, st targetState, target, mode string) error {
	if !st.exists || st.hasMeta || r.in.Replace {
		return nil
	}
	var mine []string
	for _, t := range st.tables {
		if !strings.HasPrefix(t, newPrefix) && !strings.HasPrefix(t, oldPrefix) {
			mine = append(mine, t)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	if mode == workspace.ModeSynthetic && r.in.DDLFile == "" {
		// Generating into the live empty schema the tables came from.
		for _, t := range mine {
			var n int64
			if err := r.tgt.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qualified(target, t)).Scan(&n); err != nil {
				return r.infra("count %s.%s: %w", target, t, err)
			}
			if n > 0 {
				return exitcode.Inputf("target %s has rows in %s and was not made by mask: refusing to replace it (pass --replace to allow)", target, t)
			}
		}
		return nil
	}
	return exitcode.Inputf("target schema %s has tables (%s) and was not made by mask (no %s table): refusing to replace it (pass --replace to allow)", target, strings.Join(mine, ", "), MetaTable)
}

// reserveUnique gives every value of the transformed columns of unique keys
// a fake no other value has, before anything is loaded: a transformer whose
// fakes are too few fails here, with the column named.
func (r *run) reserveUnique(ctx context.Context, schema string, plans []*tablePlan, key *transform.Key, dom *transform.Domains) error {
	w := key.NewWorker(nil)
	var buf []byte
	for _, tp := range plans {
		for _, cp := range tp.load {
			if !cp.claim {
				continue
			}
			q := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", dbschema.Quote(cp.c.Name), qualified(schema, tp.t.Name), dbschema.QuoteList(tp.key))
			rows, err := r.snap.QueryContext(ctx, q)
			if err != nil {
				return r.infra("read %s.%s: %w", tp.t.Name, cp.c.Name, err)
			}
			var v sql.RawBytes
			for rows.Next() {
				if err := rows.Scan(&v); err != nil {
					rows.Close()
					return r.infra("read %s.%s: %w", tp.t.Name, cp.c.Name, err)
				}
				if v == nil {
					continue
				}
				if buf, err = dom.Reserve(w, buf[:0], cp.tr, v, cp.tcol); err != nil {
					rows.Close()
					return exitcode.Inputf("%s.%s is unique: %v; choose another transformer for it (rule %s)", tp.t.Name, cp.c.Name, err, cp.rule)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return r.infra("read %s.%s: %w", tp.t.Name, cp.c.Name, err)
			}
		}
	}
	return nil
}

// loadAll loads every table into staging.
func (r *run) loadAll(ctx context.Context, plans []*tablePlan, srcSchema, method string, key *transform.Key, uq *uniques, lk *leaks, total int) error {
	sy := newSynth(key)
	refd := referencedColumns(plans)
	for i, tp := range plans {
		if err := r.loadTable(ctx, tp, srcSchema, method, key, uq, lk, sy, refd); err != nil {
			return err
		}
		r.phase("table loaded", "table", tp.t.Name, "rows", tp.sent, "method", method, "workers", tp.workers)
		r.in.Progress(i+1, total)
		if testHookAfterTable != nil {
			testHookAfterTable(tp.t.Name)
		}
	}
	return nil
}

// uniques prepares the unique domains: which transformers unique columns
// use, and whether their fakes can be claimed while loading (the one-pass
// path) or must be reserved first (Options.Reserve, or a restart).
func (r *run) uniques(ctx context.Context, srcSchema string, plans []*tablePlan) (*uniques, error) {
	uq := &uniques{names: map[string]bool{}, inline: !r.in.Options.Reserve}
	expected := 0
	for _, tp := range plans {
		for _, cp := range tp.load {
			cp.claim = r.src != nil && cp.unique && cp.tr != nil && cp.json == nil && cp.name != "null" && !strings.HasPrefix(cp.rule, "fk:")
			if !cp.claim {
				continue
			}
			uq.names[cp.name] = true
			if err := r.checkSpace(ctx, srcSchema, tp, cp); err != nil {
				return nil, err
			}
			expected += int(tp.rowCount)
		}
	}
	uq.dom = transform.NewDomainsFor(slices.Sorted(maps.Keys(uq.names)), expected*2)
	return uq, nil
}

// checkSpace refuses a unique column with more distinct values than its
// transformer has fakes, before anything is loaded.
func (r *run) checkSpace(ctx context.Context, schema string, tp *tablePlan, cp *colPlan) error {
	space := cp.tr.Space(cp.tcol)
	if float64(tp.rowCount) <= space {
		return nil
	}
	var distinct int64
	q := fmt.Sprintf("SELECT COUNT(DISTINCT %s) FROM %s", dbschema.Quote(cp.c.Name), qualified(schema, tp.t.Name))
	if err := r.snap.QueryRowContext(ctx, q).Scan(&distinct); err != nil {
		return r.infra("count distinct %s.%s: %w", tp.t.Name, cp.c.Name, err)
	}
	if float64(distinct) > space {
		return exitcode.Inputf("%s.%s is unique with %d distinct values, but %s (rule %s) makes about %s distinct fakes for a %s column: choose another transformer for it", tp.t.Name, cp.c.Name, distinct, cp.name, cp.rule, transform.FormatSpace(space), cp.c.Type)
	}
	return nil
}

// loadTable creates one staging table and streams its rows into it.
func (r *run) loadTable(ctx context.Context, tp *tablePlan, srcSchema, method string, key *transform.Key, uq *uniques, lk *leaks, sy *synth, refd map[string][]string) error {
	conn, err := r.tgt.db.Conn(ctx)
	if err != nil {
		return r.infra("target: %w", err)
	}
	defer conn.Close()
	if err := r.stage.create(ctx, conn, tp.t); err != nil {
		return r.infra("create staging table %s: %w", tp.t.Name, err)
	}
	staged := qualified(r.stage.schema(), r.stage.name(tp.t.Name))
	if r.tgt.kind != serverEmbedded {
		// Into an empty InnoDB table, with these two checks off, MariaDB
		// builds the indexes by sorting instead of row by row. Uniqueness is
		// still enforced when the index is built; foreign keys are checked by
		// the verification.
		//
		// InnoDB recomputes a table's persistent statistics whenever a tenth
		// of its rows changed since the last time: a table filling from
		// empty crosses that line again and again (half the server's CPU
		// for a million rows, hack/bench/mask.sh). Off while loading, then
		// set back to the source table's setting and computed once.
		if err := exec(ctx, conn, "SET unique_checks = 0", "ALTER TABLE "+staged+" STATS_AUTO_RECALC=0"); err != nil {
			return r.infra("load session: %w", err)
		}
	}
	var src source
	if tp.synthetic {
		keep := append(append([]string{}, refd[tp.t.Name]...), tp.key...)
		src = sy.source(tp, tp.rows, keep)
	} else {
		src = readSource(r.snap, srcSchema, tp, r.in.Options.BatchRows)
	}
	var dst sink
	name := r.stage.name(tp.t.Name)
	if method == loadData {
		dst = newLoadDataSink(ctx, conn, name, tp)
	} else {
		dst = newInsertSink(conn, name, tp)
	}
	res, err := stream(ctx, tp, src, dst, key, uq, lk, r.in.Options.Workers, r.in.Options.BatchRows)
	if errors.Is(err, errRestart) {
		return err
	}
	if err != nil {
		return r.classify(fmt.Errorf("load %s: %w", tp.t.Name, err))
	}
	if r.tgt.kind != serverEmbedded {
		if err := analyze(ctx, conn, staged, statsAutoRecalc(tp.t.CreateSQL)); err != nil {
			return r.infra("statistics of %s: %w", tp.t.Name, err)
		}
	}
	tp.sent, tp.digest, tp.workers = res.written, res.digest, res.workers
	if tp.keys == nil && !tp.synthetic {
		tp.sourceRows = res.read
	}
	return nil
}

// writeMeta records what made the dataset, and when it expires, in the
// staging copy of MetaTable (swapped in with the data).
func (r *run) writeMeta(ctx context.Context, target, mode, source string, key *transform.Key) error {
	now := r.in.Now().UTC()
	conn, err := r.tgt.db.Conn(ctx)
	if err != nil {
		return r.infra("target: %w", err)
	}
	defer conn.Close()
	name := r.stage.name(MetaTable)
	rows := [][2]string{
		{"created", now.Format(time.RFC3339)},
		{"expires", now.Add(r.in.TTL).Format(time.RFC3339)},
		{"ttl", r.in.TTL.String()},
		{"key_id", key.ID()},
		{"rules_digest", r.in.Rules.Digest},
		{"mode", mode},
		{"source", source},
		{"branch", r.in.Branch},
	}
	var vals []string
	var args []any
	for _, kv := range rows {
		vals = append(vals, "(?, ?)")
		args = append(args, kv[0], kv[1])
	}
	if err := exec(ctx, conn, "USE "+dbschema.Quote(r.stage.schema()),
		"CREATE TABLE "+dbschema.Quote(name)+" (name VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL)"); err != nil {
		return r.infra("create %s: %w", MetaTable, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+dbschema.Quote(name)+" (name, value) VALUES "+strings.Join(vals, ", "), args...); err != nil {
		return r.infra("fill %s: %w", MetaTable, err)
	}
	return nil
}

// datasetTables renders the plans for dataset.json, in name order.
func datasetTables(plans []*tablePlan) []workspace.DatasetTable {
	out := []workspace.DatasetTable{}
	for _, tp := range plans {
		t := workspace.DatasetTable{Name: tp.t.Name, SourceRows: tp.sourceRows, TargetRows: tp.targetRows, Digest: tp.digest, Columns: []workspace.DatasetColumn{}}
		for _, cp := range tp.cols {
			dc := workspace.DatasetColumn{Name: cp.c.Name, Transformer: cp.name, Rule: cp.rule, Unique: cp.unique && cp.tr != nil}
			if cp.json != nil {
				dc.Paths = cp.json.paths()
			}
			t.Columns = append(t.Columns, dc)
		}
		if tp.root != nil || tp.pulled {
			t.Subset = &workspace.TableSubset{Root: tp.root != nil, Rule: tp.rootRule}
			if tp.root != nil {
				t.Subset.Where, t.Subset.Limit, t.Subset.Percent = tp.root.Where, tp.root.Limit, tp.root.Percent
			}
		}
		if tp.synthetic {
			t.Subset = nil
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
