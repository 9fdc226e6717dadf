package trivyscan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/trivyscan/vulndbtest"
)

func testDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := vulndbtest.Write(dir, []vulndbtest.Advisory{
		{Bucket: "go::GitHub Security Advisory Go", Source: "ghsa", Package: "example.com/vulnerable", ID: "CVE-2099-0001",
			Title: "remote code execution", Severity: "CRITICAL", Vulnerable: []string{"< 1.2.3"}, Patched: []string{"1.2.3"}},
		{Bucket: "npm::GitHub Security Advisory npm", Source: "ghsa", Package: "left-pad", ID: "GHSA-xxxx-yyyy-zzzz",
			Title: "prototype pollution", Severity: "HIGH", Vulnerable: []string{"<1.3.0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVulnerabilities(t *testing.T) {
	db, err := OpenDB(testDB(t))
	if err != nil {
		t.Fatalf("OpenDB = %v", err)
	}
	defer db.Close()
	gomod := "module example.com/app\n\ngo 1.22\n\nrequire (\n\texample.com/vulnerable v1.2.0\n\texample.com/fine v0.1.0\n)\n"
	got, err := db.Vulnerabilities(context.Background(), "svc/go.mod", []byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Vulnerabilities(go.mod) = %+v, want one", got)
	}
	v := got[0]
	if v.ID != "CVE-2099-0001" || v.Package != "example.com/vulnerable" || v.InstalledVersion != "v1.2.0" || v.FixedVersion != "1.2.3" ||
		v.Severity != "CRITICAL" || v.Title != "remote code execution" || v.File != "svc/go.mod" || v.StartLine != 6 {
		t.Errorf("vulnerability = %+v", v)
	}
	lock := `{"name": "web", "lockfileVersion": 3, "packages": {"": {"name": "web"}, "node_modules/left-pad": {"version": "1.1.0"}}}`
	got, err = db.Vulnerabilities(context.Background(), "web/package-lock.json", []byte(lock))
	if err != nil || len(got) != 1 || got[0].ID != "GHSA-xxxx-yyyy-zzzz" || got[0].Severity != "HIGH" || got[0].FixedVersion != "1.3.0" || got[0].StartLine != 1 {
		t.Errorf("Vulnerabilities(package-lock.json) = %+v, %v", got, err)
	}
	if got, err := db.Vulnerabilities(context.Background(), "README.md", []byte("x")); got != nil || err != nil {
		t.Errorf("Vulnerabilities(not a lockfile) = %v, %v", got, err)
	}
	if _, err := db.Vulnerabilities(context.Background(), "broken/package-lock.json", []byte("{")); err == nil {
		t.Error("Vulnerabilities(broken lockfile) = nil error")
	}
}

func TestOpenDBRefuses(t *testing.T) {
	noMeta := t.TempDir()
	os.WriteFile(filepath.Join(noMeta, "trivy.db"), nil, 0o644)
	oldSchema := testDB(t)
	os.WriteFile(filepath.Join(oldSchema, "metadata.json"), []byte(`{"Version": 1}`), 0o644)
	for name, dir := range map[string]string{"empty": t.TempDir(), "no metadata": noMeta, "old schema": oldSchema, "missing": filepath.Join(t.TempDir(), "x")} {
		if db, err := OpenDB(dir); !errors.Is(err, ErrNoDB) {
			if db != nil {
				db.Close()
			}
			t.Errorf("OpenDB(%s) = %v, want ErrNoDB", name, err)
		}
	}
}

func TestIsVulnerabilityID(t *testing.T) {
	for id, want := range map[string]bool{"CVE-2024-12345": true, "GHSA-2c8m-9w6r-p4xv": true, "GO-2023-1234": true, "KSV-0017": false, "CVE-24-1": false} {
		if got := IsVulnerabilityID(id); got != want {
			t.Errorf("IsVulnerabilityID(%q) = %v", id, got)
		}
	}
}
