// Package vulndbtest writes small Trivy vulnerability databases for tests:
// the same bolt layout, buckets and metadata a downloaded database has, with
// only the advisories a test names.
package vulndbtest

import (
	"fmt"
	"os"
	"path/filepath"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	bolt "go.etcd.io/bbolt"
)

// Write creates a database in dir (trivy.db and metadata.json) holding the
// advisories. Trivy's database is process-wide: do not call it while one is
// open.
func Write(dir string, advisories []Advisory) error {
	if err := trivydb.Init(dir); err != nil {
		return err
	}
	defer trivydb.Close()
	dbc := trivydb.Config{}
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		for _, a := range advisories {
			if err := dbc.PutDataSource(tx, a.Bucket, dbtypes.DataSource{ID: dbtypes.SourceID(a.Source), Name: a.Source}); err != nil {
				return err
			}
			adv := dbtypes.Advisory{VulnerableVersions: a.Vulnerable, PatchedVersions: a.Patched}
			if err := dbc.PutAdvisory(tx, []string{a.Bucket, a.Package}, a.ID, adv); err != nil {
				return err
			}
			sev, _ := dbtypes.NewSeverity(a.Severity)
			if err := dbc.PutVulnerability(tx, a.ID, dbtypes.Vulnerability{Title: a.Title, Severity: a.Severity,
				VendorSeverity: dbtypes.VendorSeverity{dbtypes.SourceID(a.Source): sev}, References: []string{"https://example.org/" + a.ID}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	meta := fmt.Sprintf(`{"Version": %d, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z"}`, trivydb.SchemaVersion)
	return os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(meta), 0o644)
}

// Advisory is one advisory Write writes: a vulnerability of a package in an
// ecosystem bucket (e.g. "go::GitHub Security Advisory Go"), with its
// vulnerable and patched version ranges and its severity.
type Advisory struct {
	Bucket, Source, Package, ID, Title, Severity string
	Vulnerable, Patched                          []string
}
