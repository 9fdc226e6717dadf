// Package catalog loads the service catalog (services.yaml): groups and their
// members, services with owners, tier, path globs, dependencies, database and
// manifests. It answers which services own a path and who may act for a group.
package catalog

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// Tiers a service may have.
var Tiers = []string{"critical", "high", "standard", "low"}

// Catalog is services.yaml.
type Catalog struct {
	Groups   map[string][]string `yaml:"groups" json:"groups"`
	Services []Service           `yaml:"services" json:"services"`
}

// Service is one entry of the catalog.
type Service struct {
	Name      string   `yaml:"name" json:"name"`
	Owners    []string `yaml:"owners" json:"owners"`
	Tier      string   `yaml:"tier" json:"tier"`
	Paths     []string `yaml:"paths" json:"paths"`
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`
	Database  string   `yaml:"database,omitempty" json:"database,omitempty"`
	Manifests []string `yaml:"manifests,omitempty" json:"manifests,omitempty"`
	// Traffic is how much traffic the service takes: high | normal | low
	// (empty means normal). Plan rules may choose a strategy by it.
	Traffic string `yaml:"traffic,omitempty" json:"traffic,omitempty"`
	// Flags are feature flags that shield code of the service: a change touching
	// a flag's paths ships behind it.
	Flags []Flag `yaml:"flags,omitempty" json:"flags,omitempty"`
}

// Traffic classes a service may declare.
var Traffic = []string{"high", "normal", "low"}

// Flag is a feature flag guarding some of a service's paths.
type Flag struct {
	Name  string   `yaml:"name" json:"name"`
	Paths []string `yaml:"paths" json:"paths"`
}

// Load reads and validates a catalog file. All problems are reported at once.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return Parse(path, data)
}

// Parse validates catalog source read from file.
func Parse(file string, data []byte) (*Catalog, error) {
	doc, err := yamlsrc.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var c Catalog
	if err := doc.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.validate(doc); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Catalog) validate(doc *yamlsrc.Doc) error {
	var l diag.List
	add := func(n, fb *yaml.Node, format string, args ...any) {
		p := yamlsrc.At(n, fb)
		l.Add(doc.File, p.Line, p.Col, format, args...)
	}
	items := yamlsrc.Items(yamlsrc.Get(doc.Root, "services"))
	names := map[string]bool{}
	for i, s := range c.Services {
		var node *yaml.Node
		if i < len(items) {
			node = items[i]
		}
		field := func(k string) *yaml.Node { return yamlsrc.Get(node, k) }
		if s.Name == "" {
			add(node, doc.Root, "service %d has no name", i+1)
		} else if names[s.Name] {
			add(field("name"), node, "service %q is listed twice", s.Name)
		}
		names[s.Name] = true
		if !slices.Contains(Tiers, s.Tier) {
			add(field("tier"), node, "service %q: tier %q is not one of %s", s.Name, s.Tier, strings.Join(Tiers, ", "))
		}
		if len(s.Owners) == 0 {
			add(node, doc.Root, "service %q has no owners", s.Name)
		}
		for j, o := range s.Owners {
			if _, ok := c.Groups[o]; !ok {
				add(nth(field("owners"), j), node, "service %q: owner group %q is not in groups", s.Name, o)
			}
		}
		if s.Traffic != "" && !slices.Contains(Traffic, s.Traffic) {
			add(field("traffic"), node, "service %q: traffic %q is not one of %s", s.Name, s.Traffic, strings.Join(Traffic, ", "))
		}
		flags := map[string]bool{}
		for j, f := range s.Flags {
			fn := nth(field("flags"), j)
			if f.Name == "" {
				add(fn, node, "service %q: flag %d has no name", s.Name, j+1)
			} else if flags[f.Name] {
				add(fn, node, "service %q: flag %q is listed twice", s.Name, f.Name)
			}
			flags[f.Name] = true
			if len(f.Paths) == 0 {
				add(fn, node, "service %q: flag %q has no paths", s.Name, f.Name)
			}
			for k, g := range f.Paths {
				if !doublestar.ValidatePattern(g) {
					add(nth(yamlsrc.Get(fn, "paths"), k), node, "service %q: flag %q: invalid glob %q", s.Name, f.Name, g)
				}
			}
		}
		for j, g := range append(append([]string{}, s.Paths...), s.Manifests...) {
			if !doublestar.ValidatePattern(g) {
				n := nth(field("paths"), j)
				if j >= len(s.Paths) {
					n = nth(field("manifests"), j-len(s.Paths))
				}
				add(n, node, "service %q: invalid glob %q", s.Name, g)
			}
		}
	}
	for i, s := range c.Services {
		var node *yaml.Node
		if i < len(items) {
			node = items[i]
		}
		for j, d := range s.DependsOn {
			if !names[d] {
				add(nth(yamlsrc.Get(node, "dependsOn"), j), node, "service %q depends on unknown service %q", s.Name, d)
			} else if d == s.Name {
				add(nth(yamlsrc.Get(node, "dependsOn"), j), node, "service %q depends on itself", s.Name)
			}
		}
		// Overlapping ownership: a path glob of this service that another service's
		// glob also claims (same glob, or one glob's fixed prefix matched by another).
		for j, g := range s.Paths {
			for k := 0; k < i; k++ {
				other := c.Services[k]
				for _, og := range other.Paths {
					if overlap(g, og) {
						add(nth(yamlsrc.Get(node, "paths"), j), node, "service %q: path %q overlaps %q owned by service %q", s.Name, g, og, other.Name)
					}
				}
			}
		}
	}
	return l.Err()
}

func nth(seq *yaml.Node, i int) *yaml.Node {
	items := yamlsrc.Items(seq)
	if i < len(items) {
		return items[i]
	}
	return seq
}

// overlap reports whether two globs can claim the same path: equal, or the fixed
// part of one (up to its first wildcard) is matched by the other.
func overlap(a, b string) bool {
	if a == b {
		return true
	}
	probe := func(g string) string {
		if i := strings.IndexAny(g, "*?[{"); i >= 0 {
			return g[:i] + "x"
		}
		return g
	}
	ma, _ := doublestar.Match(b, probe(a))
	mb, _ := doublestar.Match(a, probe(b))
	return ma || mb
}

// Service returns the service called name.
func (c *Catalog) Service(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// ServicesFor returns the names of the services whose path or manifest globs
// match path, in catalog order.
func (c *Catalog) ServicesFor(path string) []string {
	var out []string
	for _, s := range c.Services {
		if matchAny(s.Paths, path) || matchAny(s.Manifests, path) {
			out = append(out, s.Name)
		}
	}
	return out
}

// MatchAny reports whether path matches one of globs.
func MatchAny(globs []string, path string) bool { return matchAny(globs, path) }

func matchAny(globs []string, path string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, path); ok {
			return true
		}
	}
	return false
}

// Members returns the members of a group.
func (c *Catalog) Members(group string) []string { return c.Groups[group] }

// GroupsOf returns, sorted, the groups user belongs to.
func (c *Catalog) GroupsOf(user string) []string {
	var out []string
	for g, members := range c.Groups {
		if slices.Contains(members, user) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// Digest returns the SHA-256 digest of the catalog's canonical JSON form, so that
// formatting changes do not change it.
func (c *Catalog) Digest() string {
	b, err := workspace.Marshal(c)
	if err != nil {
		panic(err) // a Catalog always encodes
	}
	return workspace.Digest(b)
}

// Affected turns service names into workspace services with the facts rules use.
func (c *Catalog) Affected(names []string, files map[string]int) []workspace.Service {
	var out []workspace.Service
	for _, s := range c.Services {
		if !slices.Contains(names, s.Name) {
			continue
		}
		out = append(out, workspace.Service{
			Name: s.Name, Owners: append([]string{}, s.Owners...), Tier: s.Tier,
			Database: s.Database, DependsOn: append([]string{}, s.DependsOn...), Files: files[s.Name],
		})
	}
	return out
}
