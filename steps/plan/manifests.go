package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/diag"
)

// Workload is a Deployment or StatefulSet found in a service's manifests.
type Workload struct {
	Kind     string // Deployment | StatefulSet
	Name     string
	File     string // path relative to the manifests directory
	Line     int
	Replicas int
	Selector map[string]string
	// PodSpec is the workload's pod template spec, with the position of each
	// container for advisories.
	PodSpec    corev1.PodSpec
	Containers []position
}

type position struct{ Line, Col int }

// KubeService is a Kubernetes Service found in a service's manifests.
type KubeService struct {
	Name  string
	File  string
	Ports []int32
	Obj   corev1.Service
}

// reference is an address of another service found in a manifest value.
type reference struct {
	Host   string
	What   string // e.g. `env ORDERS_URL`
	File   string
	Line   int
	Col    int
	Source string // the owning catalog service
}

// Manifests is what the manifests directory says about the catalog services.
type Manifests struct {
	Workloads map[string]*Workload      // catalog service → its workload
	Services  map[string][]*KubeService // catalog service → its Kubernetes Services
	refs      []reference
}

// LoadManifests reads every *.yaml / *.yml file of fsys that a catalog
// service's `manifests` globs claim and parses the Kubernetes objects in it
// (Deployments, StatefulSets, Services, ConfigMaps; other kinds are skipped).
// A file that does not parse is a located error; every problem is reported.
func LoadManifests(fsys fs.FS, cat *catalog.Catalog) (*Manifests, error) {
	m := &Manifests{Workloads: map[string]*Workload{}, Services: map[string][]*KubeService{}}
	if fsys == nil {
		return m, nil
	}
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	slices.Sort(files)
	owners := ownerIndex(cat)
	type parsed struct {
		m        *Manifests
		problems diag.List
		err      error
	}
	results := make([]parsed, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range next {
				f := files[i]
				owner := owners.owner(f)
				if owner == "" {
					continue
				}
				data, err := fs.ReadFile(fsys, f)
				if err != nil {
					results[i].err = fmt.Errorf("read manifests: %w", err)
					continue
				}
				pm := &Manifests{Workloads: map[string]*Workload{}, Services: map[string][]*KubeService{}}
				results[i] = parsed{m: pm, problems: pm.parseFile(f, owner, data)}
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	// Merge in file order, so the first workload of a service wins whatever
	// the scheduling.
	var problems diag.List
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if r.m == nil {
			continue
		}
		problems = append(problems, r.problems...)
		for o, w := range r.m.Workloads {
			if _, ok := m.Workloads[o]; !ok {
				m.Workloads[o] = w
			}
		}
		for o, ks := range r.m.Services {
			m.Services[o] = append(m.Services[o], ks...)
		}
		m.refs = append(m.refs, r.m.refs...)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// globIndex finds the service whose manifests globs claim a path without
// matching every glob of the catalog: globs are filed under the directory
// before their first wildcard, and a path is matched only against the globs
// filed under one of its parent directories.
type globIndex map[string][]globOwner

type globOwner struct {
	glob, service string
	order         int
}

func ownerIndex(cat *catalog.Catalog) globIndex {
	ix := globIndex{}
	for i, s := range cat.Services {
		for _, g := range s.Manifests {
			dir := g
			if j := strings.IndexAny(g, "*?[{\\"); j >= 0 {
				dir = g[:j]
			}
			if j := strings.LastIndex(dir, "/"); j >= 0 {
				dir = dir[:j+1]
			} else {
				dir = ""
			}
			ix[dir] = append(ix[dir], globOwner{glob: g, service: s.Name, order: i})
		}
	}
	return ix
}

// owner returns the first catalog service (in catalog order) whose manifests
// globs match path, or "".
func (ix globIndex) owner(path string) string {
	best, order := "", -1
	check := func(dir string) {
		for _, g := range ix[dir] {
			if (order < 0 || g.order < order) && catalog.MatchAny([]string{g.glob}, path) {
				best, order = g.service, g.order
			}
		}
	}
	check("")
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			check(path[:i+1])
		}
	}
	return best
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (m *Manifests) parseFile(file, owner string, data []byte) diag.List {
	var l diag.List
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return l
		}
		if err != nil {
			line := 1
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if mm := yamlLineRe.FindStringSubmatch(err.Error()); mm != nil {
				line, _ = strconv.Atoi(mm[1])
				msg = mm[2]
			}
			l.Add(file, line, 1, "not a Kubernetes manifest: %s", msg)
			return l
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			l.Add(file, root.Line, root.Column, "not a Kubernetes manifest: want a mapping with apiVersion and kind")
			continue
		}
		kind := scalar(get(root, "kind"))
		if kind == "" || scalar(get(root, "apiVersion")) == "" {
			l.Add(file, root.Line, root.Column, "not a Kubernetes manifest: apiVersion and kind are required")
			continue
		}
		if err := m.add(file, owner, kind, root); err != nil {
			at := root
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				if n := getPath(root, strings.Split(te.Field, ".")...); n != nil {
					at = n
				}
			}
			l.Add(file, at.Line, at.Column, "%s: %v", kind, err)
		}
	}
}

// add decodes one object strictly into its Kubernetes type and records it.
func (m *Manifests) add(file, owner, kind string, root *yaml.Node) error {
	js, err := yamlToJSON(root)
	if err != nil {
		return err
	}
	strict := func(obj any) error {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		return dec.Decode(obj)
	}
	switch kind {
	case "Deployment", "StatefulSet":
		w := &Workload{Kind: kind, File: file, Line: root.Line}
		var tmpl corev1.PodTemplateSpec
		var replicas *int32
		var sel map[string]string
		if kind == "Deployment" {
			var d appsv1.Deployment
			if err := strict(&d); err != nil {
				return err
			}
			w.Name, tmpl, replicas = d.Name, d.Spec.Template, d.Spec.Replicas
			if d.Spec.Selector != nil {
				sel = d.Spec.Selector.MatchLabels
			}
		} else {
			var s appsv1.StatefulSet
			if err := strict(&s); err != nil {
				return err
			}
			w.Name, tmpl, replicas = s.Name, s.Spec.Template, s.Spec.Replicas
			if s.Spec.Selector != nil {
				sel = s.Spec.Selector.MatchLabels
			}
		}
		if w.Name == "" {
			return errors.New("metadata.name is required")
		}
		w.Replicas = 1
		if replicas != nil {
			w.Replicas = int(*replicas)
		}
		w.Selector, w.PodSpec = sel, tmpl.Spec
		for _, c := range yamlItems(getPath(root, "spec", "template", "spec", "containers")) {
			w.Containers = append(w.Containers, position{c.Line, c.Column})
		}
		if _, ok := m.Workloads[owner]; !ok {
			m.Workloads[owner] = w
		}
		for _, list := range []string{"containers", "initContainers"} {
			for _, c := range yamlItems(getPath(root, "spec", "template", "spec", list)) {
				for _, e := range yamlItems(get(c, "env")) {
					m.scan(file, owner, "env "+scalar(get(e, "name")), scalar(get(e, "name")), get(e, "value"))
				}
			}
		}
	case "Service":
		var s corev1.Service
		if err := strict(&s); err != nil {
			return err
		}
		ks := &KubeService{Name: s.Name, File: file, Obj: s}
		for _, p := range s.Spec.Ports {
			ks.Ports = append(ks.Ports, p.Port)
		}
		m.Services[owner] = append(m.Services[owner], ks)
	case "ConfigMap":
		var c corev1.ConfigMap
		if err := strict(&c); err != nil {
			return err
		}
		data := get(root, "data")
		if data != nil && data.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(data.Content); i += 2 {
				k := data.Content[i].Value
				m.scan(file, owner, fmt.Sprintf("ConfigMap %s key %s", c.Name, k), k, data.Content[i+1])
			}
		}
	}
	return nil
}

var (
	urlRe     = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/@\s]*@)?([^/:\s"'?#,]+)`)
	addrKeyRe = regexp.MustCompile(`(?i)(_|^)(HOST|ADDR|ADDRESS|URL|ENDPOINT|SERVICE)$`)
	hostRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// scan records the in-cluster addresses a value holds: URLs whose host is a
// cluster-local name (`orders`, `orders.shop.svc`, `orders.shop.svc.cluster.local`),
// and bare `host[:port]` values of keys named like addresses (ORDERS_HOST,
// PAYMENTS_ADDR, …). External hosts (with a public domain) are not references.
func (m *Manifests) scan(file, owner, what, key string, val *yaml.Node) {
	if val == nil || val.Kind != yaml.ScalarNode || val.Value == "" {
		return
	}
	add := func(host string) {
		if h, ok := clusterHost(host); ok {
			m.refs = append(m.refs, reference{Host: h, What: what, File: file, Line: val.Line, Col: val.Column, Source: owner})
		}
	}
	if ms := urlRe.FindAllStringSubmatch(val.Value, -1); ms != nil {
		for _, mm := range ms {
			add(mm[1])
		}
		return
	}
	if addrKeyRe.MatchString(key) {
		host, _, _ := strings.Cut(strings.TrimSpace(val.Value), ":")
		add(host)
	}
}

// clusterHost returns the service name of a cluster-local host.
func clusterHost(h string) (string, bool) {
	h = strings.ToLower(h)
	labels := strings.Split(h, ".")
	switch {
	case len(labels) == 1:
	case len(labels) == 3 && labels[2] == "svc":
	case len(labels) == 5 && strings.HasSuffix(h, ".svc.cluster.local"):
	default:
		return "", false
	}
	name := labels[0]
	if name == "localhost" || !hostRe.MatchString(name) || strings.Trim(name, "0123456789") == "" {
		return "", false
	}
	return name, true
}

func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func getPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = get(n, k)
	}
	return n
}

func yamlItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
