// Package trivyscan runs Trivy as a library, offline: its misconfiguration
// checks (embedded in the binary, trivy-checks) on Kubernetes manifests, Helm
// charts rendered with values, Terraform and Dockerfiles, and its built-in
// secret rules on any text file; with a vulnerability database (never
// downloaded), the packages lockfiles pin. The checks compile once per set of
// families and are shared by every scan. Nothing here touches the network.
package trivyscan

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	trivychecks "github.com/aquasecurity/trivy-checks"
	"github.com/aquasecurity/trivy/pkg/fanal/secret"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	iacrules "github.com/aquasecurity/trivy/pkg/iac/rules"
	"github.com/aquasecurity/trivy/pkg/mapfs"
	"github.com/aquasecurity/trivy/pkg/misconf"
	"github.com/aquasecurity/trivy/pkg/version/app"
)

// Type is a kind of configuration Trivy checks.
type Type string

// The configuration types the scan step checks.
const (
	Kubernetes Type = "kubernetes"
	Helm       Type = "helm"
	Terraform  Type = "terraform"
	Dockerfile Type = "dockerfile"
)

// Types lists them in the order they are scanned.
var Types = []Type{Kubernetes, Helm, Terraform, Dockerfile}

var fileTypes = map[Type]detection.FileType{
	Kubernetes: detection.FileTypeKubernetes,
	Helm:       detection.FileTypeHelm,
	Terraform:  detection.FileTypeTerraform,
	Dockerfile: detection.FileTypeDockerfile,
}

// Engine holds the checks and the secret rules. The checks compile on
// first use, only the families a scan needs — Kubernetes (manifests and
// charts), Dockerfiles, cloud (Terraform) — so a release that only has
// manifests never pays for the cloud checks; each set compiles once.
type Engine struct {
	mu      sync.Mutex
	sets    map[string]func() (*rego.Scanner, error) // by the families' names
	secrets secret.Scanner
	checks  map[string]Check // by id, alias and long id
	version string
}

// family is a directory of trivy-checks.
type family string

const (
	familyKubernetes family = "checks/kubernetes"
	familyDocker     family = "checks/docker"
	familyCloud      family = "checks/cloud"
)

var familyOf = map[Type]family{Kubernetes: familyKubernetes, Helm: familyKubernetes, Dockerfile: familyDocker, Terraform: familyCloud}

// Check is one misconfiguration check's metadata.
type Check struct {
	ID       string
	Aliases  []string
	Title    string
	Severity string
}

// Misconfig is one failed check at one place.
type Misconfig struct {
	Type       Type
	CheckID    string
	Aliases    []string
	Title      string
	Message    string
	Why        string // the check's explanation
	Fix        string // its recommended action
	Severity   string
	References []string
	File       string // relative to the scanned root, forward slashes
	StartLine  int
	EndLine    int
	Resource   string // Trivy's resource name, when the check names one
	Provider   string
	Service    string // cloud service, e.g. s3
}

// Secret is one secret rule match. The matched text is never kept.
type Secret struct {
	RuleID    string
	Category  string
	Title     string
	Severity  string
	File      string
	StartLine int
	EndLine   int
}

var (
	logOnce sync.Once
	logger  = slog.New(slog.DiscardHandler)
)

// SetLogger routes Trivy's own log records (warnings about charts it skips
// and the like) to l. Trivy logs through the process's default slog logger,
// which it replaces with a buffering handler at start-up; the first Engine
// replaces that in turn, with this logger.
func SetLogger(l *slog.Logger) {
	if l != nil {
		logger = l
	}
}

// New reads the embedded checks' metadata and the secret rules; the checks
// themselves compile when a scan asks for them (see Checks). Share the
// Engine (Shared does).
func New() (*Engine, error) {
	logOnce.Do(func() { slog.SetDefault(logger) })
	rego.LoadAndRegister() // what every rego scanner does first: the checks' metadata
	e := &Engine{sets: map[string]func() (*rego.Scanner, error){}, secrets: secret.NewScanner(nil),
		checks: map[string]Check{}, version: libraryVersion()}
	for _, r := range iacrules.GetRegistered() {
		rule := r.GetRule()
		c := Check{ID: rule.ID, Aliases: rule.Aliases, Title: rule.Summary, Severity: string(rule.Severity)}
		for _, id := range append([]string{rule.ID, rule.AVDID, rule.LongID}, rule.Aliases...) {
			if id != "" {
				e.checks[id] = c
			}
		}
	}
	for _, r := range e.secrets.Rules {
		e.checks[r.ID] = Check{ID: r.ID, Title: r.Title, Severity: r.Severity}
	}
	return e, nil
}

// Checks is a compiled set of check families.
type Checks struct {
	types   []Type
	scanner func() (*rego.Scanner, error)
}

// Checks returns the checks the given configuration types need and starts
// compiling them in the background (once per set and Engine); scanning
// waits for them.
func (e *Engine) Checks(types ...Type) *Checks {
	var fams []string
	for _, t := range types {
		if f, ok := familyOf[t]; ok && !slices.Contains(fams, string(f)) {
			fams = append(fams, string(f))
		}
	}
	slices.Sort(fams)
	key := strings.Join(fams, ",")
	e.mu.Lock()
	get, ok := e.sets[key]
	if !ok {
		get = sync.OnceValues(func() (*rego.Scanner, error) { return compile(fams) })
		e.sets[key] = get
	}
	e.mu.Unlock()
	if len(fams) > 0 {
		go func() { _, _ = get() }()
	}
	return &Checks{types: slices.Clone(types), scanner: get}
}

// compile builds a rego scanner with some families of the embedded checks
// (and the embedded libraries), configured as Trivy's own misconfiguration
// scanner configures its one.
func compile(fams []string) (*rego.Scanner, error) {
	dataFS, dataDirs, err := misconf.CreateDataFS(nil, "")
	if err != nil {
		return nil, err
	}
	s := rego.NewScanner(
		rego.WithEmbeddedPolicies(false), rego.WithEmbeddedLibraries(true),
		rego.WithPolicyFilesystem(trivychecks.EmbeddedPolicyFileSystem), rego.WithPolicyDirs(fams...),
		rego.WithPolicyNamespaces(rego.BuiltinNamespaces()...),
		rego.WithDataFilesystem(dataFS), rego.WithDataDirs(dataDirs...),
		rego.WithCustomSchemas(map[string][]byte{}),
		rego.WithMaxAllowedErrors(rego.DefaultAllowedRegoErrors),
		rego.WithTrivyVersion(app.Version()),
	)
	if err := s.LoadPolicies(nil); err != nil {
		return nil, fmt.Errorf("compile the embedded Trivy checks (%s): %w", strings.Join(fams, ", "), err)
	}
	return s, nil
}

// Shared returns one Engine per process, built on first use.
var Shared = sync.OnceValues(New)

// Version names the Trivy library and checks the engine was built with.
func (e *Engine) Version() string { return e.version }

// The Trivy library and checks this package is built and tested with
// (go.mod pins them; a test keeps these in step).
const (
	TrivyVersion  = "v0.74.0"
	ChecksVersion = "v1.12.2-0.20251219190323-79d27547baf5"
)

func libraryVersion() string {
	return fmt.Sprintf("trivy %s, checks %s (embedded)", TrivyVersion, ChecksVersion)
}

// Known reports whether id names a Trivy check (by id, alias or long id) or
// a built-in secret rule, and returns its metadata.
func (e *Engine) Known(id string) (Check, bool) {
	c, ok := e.checks[id]
	return c, ok
}

// File is one file to scan, its path relative to the scanned root.
type File struct {
	Path string // forward slashes
	Data []byte
}

// Chart is a Helm chart directory and the values files to render it with
// (paths on disk, in order; later files override earlier ones).
type Chart struct {
	Dir    string // relative to the scanned root
	Values []string
}

// Misconfigs runs the checks of type t (one of the set's types) on files
// (only those Trivy takes for that type are scanned). For Helm, each chart
// is rendered with its values files; files holds the charts' files.
func (c *Checks) Misconfigs(ctx context.Context, t Type, files []File, charts []Chart) ([]Misconfig, error) {
	ft, ok := fileTypes[t]
	if !ok {
		return nil, fmt.Errorf("unknown configuration type %q", t)
	}
	if len(files) == 0 {
		return nil, nil
	}
	if !slices.Contains(c.types, t) {
		return nil, fmt.Errorf("the checks for %s were not asked for (Engine.Checks)", t)
	}
	rs, err := c.scanner()
	if err != nil {
		return nil, err
	}
	if t == Helm {
		var out []Misconfig
		for _, ch := range charts {
			var in []File
			for _, f := range files {
				if f.Path == ch.Dir || strings.HasPrefix(f.Path, ch.Dir+"/") || ch.Dir == "." {
					in = append(in, f)
				}
			}
			ms, err := scanFiles(ctx, t, ft, misconf.ScannerOption{RegoScanner: rs, HelmValueFiles: ch.Values}, in)
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", ch.Dir, err)
			}
			out = append(out, ms...)
		}
		return out, nil
	}
	return scanFiles(ctx, t, ft, misconf.ScannerOption{RegoScanner: rs}, files)
}

func scanFiles(ctx context.Context, t Type, ft detection.FileType, opt misconf.ScannerOption, files []File) ([]Misconfig, error) {
	if len(files) == 0 {
		return nil, nil
	}
	fsys := mapfs.New()
	// Kubernetes files with several documents go to Trivy one document per
	// virtual file: Trivy's own line numbers are wrong after the first
	// document of a file (counted from the document, or one line early;
	// aquasecurity/trivy#2965, #11207), and a wrong line puts a finding on
	// the wrong object. Each document's lines are shifted back here.
	docs := map[string]docRef{}
	for _, f := range files {
		parts := []docPart{{data: f.Data}}
		if t == Kubernetes {
			parts = splitDocuments(f.Data)
		}
		for i, part := range parts {
			name := f.Path
			if len(parts) > 1 {
				name = fmt.Sprintf("%s.rh-doc-%d%s", f.Path, i+1, path.Ext(f.Path))
				docs[name] = docRef{file: f.Path, offset: part.offset}
			}
			if err := fsys.MkdirAll(path.Dir(name), fs.ModePerm); err != nil {
				return nil, err
			}
			if err := fsys.WriteVirtualFile(name, part.data, 0o644); err != nil {
				return nil, err
			}
		}
	}
	s, err := misconf.NewScanner(ft, opt)
	if err != nil {
		return nil, err
	}
	results, err := s.Scan(ctx, fsys)
	if err != nil {
		return nil, err
	}
	var out []Misconfig
	for _, r := range results {
		for _, f := range r.Failures {
			m := convert(t, r.FilePath, f)
			if d, ok := docs[m.File]; ok {
				m.File = d.file
				if m.StartLine > 0 {
					m.StartLine += d.offset
					m.EndLine += d.offset
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// docRef is where a document's virtual file came from: the file and the
// number of lines before the document.
type docRef struct {
	file   string
	offset int
}

type docPart struct {
	data   []byte
	offset int
}

// splitDocuments splits a YAML stream on its document separators (a line
// that is `---`, possibly followed by a space and more); each part keeps the
// number of lines before it. Parts holding only comments or blank lines are
// dropped. A stream of one document comes back whole.
func splitDocuments(data []byte) []docPart {
	lines := strings.SplitAfter(string(data), "\n")
	var parts []docPart
	start := 0
	flush := func(end int) {
		body := strings.Join(lines[start:end], "")
		for _, l := range lines[start:end] {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				parts = append(parts, docPart{data: []byte(body), offset: start})
				return
			}
		}
	}
	for i, l := range lines {
		t := strings.TrimRight(l, " \t\r\n")
		if t == "---" || strings.HasPrefix(t, "--- ") {
			flush(i)
			start = i + 1
		}
	}
	flush(len(lines))
	if len(parts) <= 1 {
		return []docPart{{data: data}}
	}
	return parts
}

func convert(t Type, file string, r ftypes.MisconfResult) Misconfig {
	m := r.PolicyMetadata
	c := r.CauseMetadata
	return Misconfig{
		Type: t, CheckID: m.ID, Aliases: slices.Clone(m.Aliases), Title: m.Title, Message: r.Message,
		Why: m.Description, Fix: m.RecommendedActions, Severity: m.Severity, References: slices.Clone(m.References),
		File: strings.TrimPrefix(path.Clean("/"+file), "/"), StartLine: c.StartLine, EndLine: c.EndLine,
		Resource: c.Resource, Provider: c.Provider, Service: c.Service,
	}
}

// Wants reports whether Trivy takes a file at p for configuration type t
// (by name; content is checked when scanning).
func Wants(t Type, p string) bool {
	base := path.Base(p)
	ext := strings.ToLower(path.Ext(base))
	switch t {
	case Kubernetes:
		return ext == ".yaml" || ext == ".yml" || ext == ".json"
	case Helm:
		return ext == ".yaml" || ext == ".yml" || ext == ".tpl" || ext == ".json" || ext == ".tgz" ||
			strings.HasSuffix(strings.ToLower(base), ".tar.gz") || base == ".helmignore" || base == "NOTES.txt"
	case Terraform:
		return detection.IsTerraformFile(p)
	case Dockerfile:
		return detection.IsType(p, nil, detection.FileTypeDockerfile)
	}
	return false
}

// Secrets runs the built-in secret rules on one file. The matches are
// reported by place and rule only: the secret itself never leaves here.
func (e *Engine) Secrets(file string, r io.Reader) []Secret {
	res := e.secrets.Scan(secret.ScanArgs{FilePath: file, Content: r})
	var out []Secret
	for _, f := range res.Findings {
		out = append(out, Secret{
			RuleID: f.RuleID, Category: string(f.Category), Title: f.Title, Severity: f.Severity,
			File: file, StartLine: f.StartLine, EndLine: f.EndLine,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].StartLine != out[j].StartLine {
			return out[i].StartLine < out[j].StartLine
		}
		return out[i].RuleID < out[j].RuleID
	})
	return out
}

// SkipsSecrets reports whether Trivy's secret scanner leaves a path alone
// (lockfiles, vendored and generated directories and the like).
func (e *Engine) SkipsSecrets(p string) bool {
	return e.secrets.IsSkipped(p) || e.secrets.AllowPath(p)
}
