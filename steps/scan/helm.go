package scan

import (
	"context"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	helmparser "github.com/aquasecurity/trivy/pkg/iac/scanners/helm/parser"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	"github.com/rehearsal-dev/rehearsal/internal/trivyscan"
)

// chart is a Helm chart directory of the tree.
type chart struct {
	Dir string // relative to the root
	// Values are the values files it is rendered with beyond its own
	// values.yaml: values-<environment>.yaml or values.<environment>.yaml
	// in the chart directory, when there is one (relative to the root).
	Values []string
	files  []*file
}

// findCharts returns the charts of the tree, outermost first; a chart inside
// another chart (a subchart under charts/) belongs to its parent.
func findCharts(files []*file, environment string) []*chart {
	var dirs []string
	for _, f := range files {
		if path.Base(f.Path) == "Chart.yaml" {
			dirs = append(dirs, path.Dir(f.Path))
		}
	}
	slices.Sort(dirs)
	var out []*chart
	for _, d := range dirs {
		if chartOf(out, d+"/x") != nil {
			continue
		}
		c := &chart{Dir: d}
		for _, name := range []string{"values-" + environment + ".yaml", "values." + environment + ".yaml"} {
			p := path.Join(d, name)
			if slices.ContainsFunc(files, func(f *file) bool { return f.Path == p }) {
				c.Values = append(c.Values, p)
				break
			}
		}
		out = append(out, c)
	}
	for _, f := range files {
		if c := chartOf(out, f.Path); c != nil {
			c.files = append(c.files, f)
		}
	}
	return out
}

// chartOf returns the chart a path belongs to, or nil.
func chartOf(charts []*chart, p string) *chart {
	for _, c := range charts {
		if c.Dir == "." || strings.HasPrefix(p, c.Dir+"/") {
			return c
		}
	}
	return nil
}

// rendered is one manifest a chart renders to, by the path Trivy gives it:
// the template's path under the root.
type rendered struct {
	Path    string
	Content string
}

var (
	leadErrRe = regexp.MustCompile(`^([^:\s]+):(\d+):(\d+)`)
	tmplErrRe = regexp.MustCompile(`template: ([^:\s]+):(\d+):(\d+)`)
	execErrRe = regexp.MustCompile(`\(([^:()\s]+):(\d+):(\d+)\)`)
)

// render renders a chart with its values as Trivy does. A chart that does not
// render (a missing value, a template error) is a syntaxError at the
// template and line Helm names.
func (c *chart) render(ctx context.Context, root string) ([]rendered, error) {
	var opts []helmparser.Option
	if len(c.Values) > 0 {
		var vals []string
		for _, v := range c.Values {
			vals = append(vals, filepath.Join(root, filepath.FromSlash(v)))
		}
		opts = append(opts, helmparser.OptionWithValuesFile(vals...))
	}
	p, err := helmparser.New(opts...)
	if err != nil {
		return nil, err
	}
	fsys := mapfs.New()
	for _, f := range c.files {
		if err := fsys.MkdirAll(path.Dir(f.Path), fs.ModePerm); err != nil {
			return nil, err
		}
		if err := fsys.WriteVirtualFile(f.Path, f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	ms, err := p.ParseFS(ctx, fsys, c.Dir)
	if err != nil {
		return nil, c.renderError(err)
	}
	var out []rendered
	for _, m := range ms {
		// m.Path is the template's path in the chart (templates/x.yaml).
		out = append(out, rendered{Path: path.Join(c.Dir, m.Path), Content: m.Content})
	}
	return out, nil
}

// renderError locates a Helm error at the template it names.
func (c *chart) renderError(err error) error {
	msg := trimHelm(err.Error())
	e := &syntaxError{File: path.Join(c.Dir, "Chart.yaml"), Line: 1, Col: 1}
	for _, re := range []*regexp.Regexp{leadErrRe, execErrRe, tmplErrRe} {
		if m := re.FindStringSubmatchIndex(msg); m != nil {
			name := msg[m[2]:m[3]]
			_, rest, _ := strings.Cut(name, "/") // the chart's name
			e.File = path.Join(c.Dir, rest)
			e.Line, _ = strconv.Atoi(msg[m[4]:m[5]])
			e.Col, _ = strconv.Atoi(msg[m[6]:m[7]])
			if re == leadErrRe {
				msg = msg[m[1]:]
			}
			break
		}
	}
	e.Msg = "chart does not render: " + oneLine(msg)
	if len(c.Values) > 0 {
		e.Msg += " (values: " + strings.Join(c.Values, ", ") + ")"
	}
	return e
}

// trimHelm keeps the part of a Helm error a reader needs.
func trimHelm(msg string) string {
	for _, p := range []string{"parse chart: ", "install failed: "} {
		if i := strings.LastIndex(msg, p); i >= 0 {
			msg = msg[i+len(p):]
		}
	}
	return msg
}

// trivyChart is the chart as the Trivy adapter takes it.
func (c *chart) trivyChart(root string) trivyscan.Chart {
	tc := trivyscan.Chart{Dir: c.Dir}
	for _, v := range c.Values {
		tc.Values = append(tc.Values, filepath.Join(root, filepath.FromSlash(v)))
	}
	return tc
}
