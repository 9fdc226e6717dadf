package env

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"

	"github.com/rehearsal-dev/rehearsal/internal/dbschema"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/steps/mask"
)

// DatasetSchema is the schema template of an environment's dataset.
const DatasetSchema = "preprod_{{branch}}"

// datasetUser is the environment's own database account: rh_ and a hash of
// the environment name (MySQL accounts are at most 32 characters).
func datasetUser(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "rh_" + hex.EncodeToString(sum[:])[:16]
}

// dataHost is the dataset server's host as the workloads reach it.
func (b *build) dataHost() string {
	if b.d.Parameters[rules.EnvParamData] == rules.EnvDataNone {
		return ""
	}
	if b.in.Data.Host != "" {
		return b.in.Data.Host
	}
	cfg, err := mysql.ParseDSN(b.in.Data.TargetDSN)
	if err != nil {
		return ""
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return cfg.Addr
	}
	return host
}

// loadData loads the environment's dataset through the test-data architect
// into the environment's schema, gives the environment a database account
// limited to that schema with a fresh password, and hands the credentials
// over as the Secret rehearsal-dataset in the namespace. The password is
// written only there.
func (b *build) loadData(ctx context.Context) error {
	data := b.d.Parameters[rules.EnvParamData]
	if data == rules.EnvDataNone {
		b.rec.Notes = append(b.rec.Notes, "data=none: no dataset")
		return nil
	}
	schema, err := mask.TargetName(DatasetSchema, b.m.name)
	if err != nil {
		return exitcode.Input(err)
	}
	user := datasetUser(b.m.name)
	// Recorded before loading, so that a failed load is still cleaned up by
	// the reaper.
	b.st.dataset, b.st.datasetUser = schema, user
	if err := b.applyNamespace(ctx); err != nil {
		return exitcode.Infrastructure(err)
	}
	in := mask.Input{
		Workspace: b.in.Workspace, Rules: b.in.Rules, TargetDSN: b.in.Data.TargetDSN, TargetSchema: schema,
		Key: b.in.Data.Key, TTL: b.d.TTL(), Now: b.in.Now, Log: b.in.Log,
	}
	if data == rules.EnvDataMasked {
		in.SourceDSN = b.in.Data.SourceDSN
	} else {
		in.DDLFile = b.in.Data.DDLFile
	}
	out, err := mask.Run(ctx, in)
	if err != nil {
		return err
	}
	ref := &DatasetRef{Schema: schema, User: user, Secret: DatasetSecret, Mode: out.Dataset.Mode, Tables: out.Tables,
		Rows: out.Rows, Verified: out.Verified, KeyID: out.Dataset.KeyID}
	b.rec.Dataset = ref
	if !out.Verified {
		return exitcode.Verdict(fmt.Errorf("the dataset did not verify (%s); the environment's schema is unchanged", strings.Join(out.Dataset.Verification.Problems, "; ")))
	}
	cfg, err := mysql.ParseDSN(b.in.Data.TargetDSN)
	if err != nil {
		return exitcode.Inputf("target DSN %s: %v", mask.Redact(b.in.Data.TargetDSN), err)
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		port = "3306"
	}
	host := b.dataHost()
	ref.Server = net.JoinHostPort(host, port)
	password, err := newPassword()
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	if err := grantAccount(ctx, b.in.Data.TargetDSN, user, password, schema); err != nil {
		return err
	}
	dsn := mysql.NewConfig()
	dsn.User, dsn.Passwd, dsn.Net, dsn.Addr, dsn.DBName = user, password, "tcp", ref.Server, schema
	secret := &corev1.Secret{
		ObjectMeta: b.m.object(DatasetSecret),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"dsn": []byte(dsn.FormatDSN()), "host": []byte(host), "port": []byte(port),
			"database": []byte(schema), "username": []byte(user), "password": []byte(password),
		},
	}
	u, err := toUnstructured(secret, corev1.SchemeGroupVersion.WithKind("Secret"))
	if err != nil {
		return err
	}
	if err := b.applyObject(ctx, u); err != nil {
		return exitcode.Infrastructure(err)
	}
	b.in.Log.Info("dataset loaded", "schema", schema, "tables", out.Tables, "rows", out.Rows, "user", user, "secret", DatasetSecret)
	return nil
}

func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// grantAccount creates (or re-keys) the environment's account with rights on
// its schema only. The password never reaches a log: errors are redacted.
func grantAccount(ctx context.Context, targetDSN, user, password, schema string) error {
	db, err := sql.Open("mysql", targetDSN)
	if err != nil {
		return exitcode.Inputf("target DSN %s: %v", mask.Redact(targetDSN), err)
	}
	defer db.Close()
	account := "'" + user + "'@'%'"
	for _, stmt := range []string{
		"CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY '" + password + "'",
		"ALTER USER " + account + " IDENTIFIED BY '" + password + "'",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES ON " + dbschema.Quote(schema) + ".* TO " + account,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			msg := strings.ReplaceAll(err.Error(), password, "[redacted]")
			return exitcode.Infrastructure(fmt.Errorf("database account %s on %s: %s", user, mask.Redact(targetDSN), msg))
		}
	}
	return nil
}

// dropDataset drops an environment's schema and account (both may already be
// gone: the reaper may run it again after an interruption).
func dropDataset(ctx context.Context, targetDSN, schema, user string) error {
	db, err := sql.Open("mysql", targetDSN)
	if err != nil {
		return exitcode.Inputf("target DSN %s: %v", mask.Redact(targetDSN), err)
	}
	defer db.Close()
	stmts := []string{"DROP DATABASE IF EXISTS " + dbschema.Quote(schema)}
	if user != "" {
		stmts = append(stmts, "DROP USER IF EXISTS '"+user+"'@'%'")
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return exitcode.Infrastructure(fmt.Errorf("%s on %s: %w", s, mask.Redact(targetDSN), err))
		}
	}
	return nil
}
