package env

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
)

// loadManifests reads the branch's manifests from dir: the kustomize build
// of dir when it holds a kustomization, else every YAML or JSON file in it
// (sorted, subdirectories included). Every object is checked at once: it
// needs apiVersion, kind and name, may not be a Namespace, and may not name a
// namespace other than the environment's (none is filled in).
func loadManifests(dir, namespace string) ([]*unstructured.Unstructured, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("manifests %s: not a directory", dir)
	}
	type doc struct {
		file string
		line int
		data []byte
	}
	var docs []doc
	if kustomization(dir) {
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		for i, r := range m.Resources() {
			b, err := r.AsYAML()
			if err != nil {
				return nil, fmt.Errorf("kustomize build %s: resource %d: %w", dir, i+1, err)
			}
			docs = append(docs, doc{fmt.Sprintf("%s (kustomize build, resource %d: %s)", dir, i+1, r.CurId()), 0, b})
		}
	} else {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(p)
			if !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("manifests: %w", err)
			}
			for _, c := range splitDocs(data) {
				docs = append(docs, doc{f, c.line, c.data})
			}
		}
	}
	var objs []*unstructured.Unstructured
	var problems diag.List
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(d.data, &u.Object); err != nil {
			problems = append(problems, diag.Problem{File: d.file, Line: d.line, Col: col(d.line), Msg: err.Error()})
			continue
		}
		var why []string
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			why = append(why, "needs apiVersion and kind")
		}
		if u.GetName() == "" {
			why = append(why, "needs metadata.name")
		}
		if u.GetKind() == "Namespace" {
			why = append(why, "is a Namespace: the environment's namespace comes from its template")
		}
		if ns := u.GetNamespace(); ns != "" && ns != namespace {
			why = append(why, fmt.Sprintf("names namespace %q; environment manifests go to the environment's namespace %q (leave metadata.namespace out)", ns, namespace))
		}
		if len(why) > 0 {
			problems = append(problems, diag.Problem{File: d.file, Line: d.line, Col: col(d.line), Msg: fmt.Sprintf("%s %s %s", u.GetKind(), u.GetName(), strings.Join(why, "; "))})
			continue
		}
		u.SetNamespace(namespace)
		objs = append(objs, u)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return objs, nil
}

func kustomization(dir string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

type chunk struct {
	line int // the document's first content line
	data []byte
}

// splitDocs splits a multi-document YAML file on its `---` lines, keeping
// each document's first content line for messages; documents holding only
// comments are dropped.
func splitDocs(data []byte) []chunk {
	var out []chunk
	var cur []string
	first := 0
	flush := func() {
		if first > 0 {
			out = append(out, chunk{first, []byte(strings.Join(cur, "\n"))})
		}
		cur, first = nil, 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if t == "---" || strings.HasPrefix(t, "--- ") {
			flush()
			continue
		}
		cur = append(cur, l)
		if first == 0 && t != "" && !strings.HasPrefix(t, "#") {
			first = i + 1
		}
	}
	flush()
	return out
}

// col is the column of a document's position: 1 when it has a line.
func col(line int) int {
	if line > 0 {
		return 1
	}
	return 0
}
