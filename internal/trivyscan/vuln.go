package trivyscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/dependency/parser/golang/mod"
	"github.com/aquasecurity/trivy/pkg/dependency/parser/nodejs/npm"
	"github.com/aquasecurity/trivy/pkg/dependency/parser/python/pip"
	"github.com/aquasecurity/trivy/pkg/dependency/parser/ruby/bundler"
	"github.com/aquasecurity/trivy/pkg/dependency/parser/rust/cargo"
	"github.com/aquasecurity/trivy/pkg/detector/library"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
	bolt "go.etcd.io/bbolt"

	xio "github.com/aquasecurity/trivy/pkg/x/io"
)

// lockfileParser reads the packages of one kind of lockfile.
type lockfileParser interface {
	Parse(ctx context.Context, r xio.ReadSeekerAt) ([]ftypes.Package, []ftypes.Dependency, error)
}

// lockfile is one lockfile format the vulnerability scan reads.
type lockfile struct {
	lang   ftypes.LangType
	parser func() lockfileParser
}

// lockfiles is the explicit registry of lockfile formats, by file name.
var lockfiles = map[string]lockfile{
	"go.mod":            {ftypes.GoModule, func() lockfileParser { return mod.NewParser(true, false) }},
	"package-lock.json": {ftypes.Npm, func() lockfileParser { return npm.NewParser() }},
	"requirements.txt":  {ftypes.Pip, func() lockfileParser { return pip.NewParser(false) }},
	"Cargo.lock":        {ftypes.Cargo, func() lockfileParser { return cargo.NewParser() }},
	"Gemfile.lock":      {ftypes.Bundler, func() lockfileParser { return bundler.NewParser() }},
}

// IsLockfile reports whether the vulnerability scan reads the file at p.
func IsLockfile(p string) bool {
	_, ok := lockfiles[path.Base(p)]
	return ok
}

// Vulnerability is one known vulnerability of a package a lockfile pins.
type Vulnerability struct {
	ID               string // CVE, GHSA, GO-… id
	Package          string
	InstalledVersion string
	FixedVersion     string // "" when no fix is known
	Severity         string
	Title            string
	Description      string
	PrimaryURL       string
	File             string
	StartLine        int
	EndLine          int
}

// VulnDB is an opened Trivy vulnerability database. Trivy's database is
// process-wide: one is open at a time.
type VulnDB struct{}

var dbMu sync.Mutex

// ErrNoDB says the directory holds no usable database.
var ErrNoDB = errors.New("no Trivy vulnerability database")

// OpenDB opens the database in dir (trivy.db and metadata.json, as `trivy
// image --download-db-only` leaves them) read-only; the caller closes it.
// It never downloads anything.
func OpenDB(dir string) (*VulnDB, error) {
	if _, err := os.Stat(filepath.Join(dir, "trivy.db")); err != nil {
		return nil, fmt.Errorf("%w: trivy.db is missing", ErrNoDB)
	}
	var meta struct{ Version int }
	b, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: metadata.json is missing beside trivy.db", ErrNoDB)
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("%w: metadata.json: %v", ErrNoDB, err)
	}
	if meta.Version != trivydb.SchemaVersion {
		return nil, fmt.Errorf("%w: schema version %d, this Trivy reads version %d", ErrNoDB, meta.Version, trivydb.SchemaVersion)
	}
	dbMu.Lock()
	if err := trivydb.Init(dir, trivydb.WithBoltOptions(&bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})); err != nil {
		dbMu.Unlock()
		return nil, fmt.Errorf("open the Trivy database: %w", err)
	}
	return &VulnDB{}, nil
}

// Close closes the database.
func (d *VulnDB) Close() error {
	defer dbMu.Unlock()
	return trivydb.Close()
}

// Vulnerabilities reads a lockfile and returns the known vulnerabilities of
// the packages it pins, sorted by line and id.
func (d *VulnDB) Vulnerabilities(ctx context.Context, file string, data []byte) ([]Vulnerability, error) {
	lf, ok := lockfiles[path.Base(file)]
	if !ok {
		return nil, nil
	}
	pkgs, _, err := lf.parser().Parse(ctx, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	found, err := library.Detect(ctx, lf.lang, pkgs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// Severity as Trivy's CLI picks it by default (--vuln-severity-source auto).
	vulnerability.NewClient(trivydb.Config{}).FillInfo(found, []dbtypes.SourceID{"auto"})
	lines := map[string][2]int{}
	for _, p := range pkgs {
		if len(p.Locations) > 0 && p.Locations[0].StartLine > 0 {
			lines[p.ID] = [2]int{p.Locations[0].StartLine, p.Locations[0].EndLine}
		} else if n := lineOf(data, p.Name); n > 0 {
			lines[p.ID] = [2]int{n, n}
		}
	}
	var out []Vulnerability
	for _, v := range found {
		l := lines[v.PkgID]
		out = append(out, Vulnerability{
			ID: v.VulnerabilityID, Package: v.PkgName, InstalledVersion: v.InstalledVersion, FixedVersion: v.FixedVersion,
			Severity: v.Severity, Title: v.Title, Description: v.Description, PrimaryURL: v.PrimaryURL,
			File: file, StartLine: l[0], EndLine: max(l[1], l[0]),
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].StartLine != out[j].StartLine {
			return out[i].StartLine < out[j].StartLine
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// lineOf is the first line naming a package, for lockfiles whose parser
// keeps no positions.
func lineOf(data []byte, name string) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(l, []byte(name)) {
			return i + 1
		}
	}
	return 0
}

// vulnIDRe matches the vulnerability ids Trivy's database uses, for the
// exceptions ledger (the ids themselves are only known to the database).
var vulnIDRe = regexp.MustCompile(`^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|GO-\d{4}-\d{4,}|RUSTSEC-\d{4}-\d{4,}|PYSEC-\d{4}-\d+|OSV-\d{4}-\d+)$`)

// IsVulnerabilityID reports whether id is shaped like a vulnerability id.
func IsVulnerabilityID(id string) bool { return vulnIDRe.MatchString(id) }
