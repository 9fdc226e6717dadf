package trivyscan

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func engine(t *testing.T) *Engine {
	t.Helper()
	e, err := Shared()
	if err != nil {
		t.Fatalf("Shared() = %v", err)
	}
	return e
}

func checks(ms []Misconfig) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.CheckID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestMisconfigs(t *testing.T) {
	e := engine(t)
	tests := []struct {
		name  string
		typ   Type
		files map[string]string
		want  []string // checks that must fail
		not   []string // checks that must not
	}{
		{"privileged pod", Kubernetes, map[string]string{"k/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n    - name: c\n      image: gcr.io/x/y:1.0\n      securityContext: {privileged: true}\n"},
			[]string{"KSV-0017"}, nil},
		{"hardened pod", Kubernetes, map[string]string{"k/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n    - name: c\n      image: gcr.io/x/y:1.0\n      securityContext: {privileged: false}\n"},
			nil, []string{"KSV-0017"}},
		{"dockerfile as root", Dockerfile, map[string]string{"img/Dockerfile": "FROM alpine:latest\nRUN echo hi\n"}, []string{"DS-0001", "DS-0002"}, nil},
		{"public bucket", Terraform, map[string]string{"tf/main.tf": "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"b\"\n  acl    = \"public-read\"\n}\n"}, []string{"AWS-0092"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for p, d := range tt.files {
				files = append(files, File{Path: p, Data: []byte(d)})
			}
			ms, err := e.Checks(tt.typ).Misconfigs(context.Background(), tt.typ, files, nil)
			if err != nil {
				t.Fatalf("Misconfigs = %v", err)
			}
			got := checks(ms)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("Misconfigs(%s) = %v, want %s", tt.name, got, w)
				}
			}
			for _, n := range tt.not {
				if slices.Contains(got, n) {
					t.Errorf("Misconfigs(%s) = %v, want no %s", tt.name, got, n)
				}
			}
			for _, m := range ms {
				if m.Type != tt.typ || m.Title == "" || m.Severity == "" || !strings.Contains(strings.Join(keys(tt.files), " "), m.File) {
					t.Errorf("misconfig %+v: want type, title, severity and the file", m)
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestHelmValues: a chart is rendered with the values files given, so a
// setting only the environment's values make is checked.
func TestHelmValues(t *testing.T) {
	e := engine(t)
	dir := t.TempDir()
	chart := map[string]string{
		"c/Chart.yaml":          "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/values.yaml":         "privileged: false\n",
		"c/values-preprod.yaml": "privileged: true\n",
		"c/templates/pod.yaml":  "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n    - name: c\n      image: gcr.io/x/y:1.0\n      securityContext: {privileged: {{ .Values.privileged }}}\n",
	}
	var files []File
	for p, d := range chart {
		files = append(files, File{Path: p, Data: []byte(d)})
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(d), 0o644)
	}
	plain, err := e.Checks(Helm).Misconfigs(context.Background(), Helm, files, []Chart{{Dir: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	withEnv, err := e.Checks(Kubernetes, Helm).Misconfigs(context.Background(), Helm, files, []Chart{{Dir: "c", Values: []string{filepath.Join(dir, "c/values-preprod.yaml")}}})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(checks(plain), "KSV-0017") || !slices.Contains(checks(withEnv), "KSV-0017") {
		t.Errorf("KSV-0017 with default values %v, with preprod values %v; want it only with preprod values", checks(plain), checks(withEnv))
	}
	for _, m := range withEnv {
		if m.File != "c/templates/pod.yaml" || m.Type != Helm {
			t.Errorf("helm finding %s at %s (%s), want the template path", m.CheckID, m.File, m.Type)
		}
	}
}

// TestChecksOnlyAsked: a set compiles the families its types need, and
// refuses the others.
func TestChecksOnlyAsked(t *testing.T) {
	c := engine(t).Checks(Dockerfile)
	if _, err := c.Misconfigs(context.Background(), Kubernetes, []File{{Path: "a.yaml", Data: []byte("a: 1\n")}}, nil); err == nil {
		t.Error("Misconfigs(Kubernetes) on Dockerfile checks = nil, want an error")
	}
	if ms, err := c.Misconfigs(context.Background(), Dockerfile, nil, nil); err != nil || ms != nil {
		t.Errorf("Misconfigs(no files) = %v, %v", ms, err)
	}
}

func TestSecrets(t *testing.T) {
	e := engine(t)
	// A fake key, assembled so that this file holds no secret-shaped string.
	content := "region=eu-west-1\nAWS_ACCESS_KEY_ID=" + "AKIA" + "Q3EGRL2VXJ7WN5PA" + "\n"
	got := e.Secrets("config/app.env", strings.NewReader(content))
	if len(got) != 1 || got[0].RuleID != "aws-access-key-id" || got[0].StartLine != 2 || got[0].Severity != "CRITICAL" {
		t.Fatalf("Secrets = %+v, want aws-access-key-id on line 2", got)
	}
	// Nothing of the match is kept: the type has no field that could hold it.
	for i := range reflect.TypeOf(Secret{}).NumField() {
		if n := reflect.TypeOf(Secret{}).Field(i).Name; n == "Match" || n == "Code" {
			t.Errorf("Secret has a %s field: matches must not leave the adapter", n)
		}
	}
	if got := e.Secrets("docs/readme.txt", strings.NewReader("nothing to see here\n")); len(got) != 0 {
		t.Errorf("Secrets(clean) = %+v", got)
	}
	if !e.SkipsSecrets("vendor/go.sum") || e.SkipsSecrets("config/app.env") {
		t.Errorf("SkipsSecrets: want lockfiles skipped and config files scanned")
	}
}

func TestKnown(t *testing.T) {
	e := engine(t)
	for id, want := range map[string]string{"KSV-0017": "KSV-0017", "KSV017": "KSV-0017", "AVD-KSV-0017": "KSV-0017",
		"no-privileged-containers": "KSV-0017", "AWS-0092": "AWS-0092", "aws-access-key-id": "aws-access-key-id", "DS-0002": "DS-0002"} {
		c, ok := e.Known(id)
		if !ok || c.ID != want {
			t.Errorf("Known(%q) = %+v, %v; want %s", id, c, ok, want)
		}
	}
	if _, ok := e.Known("KSV-9999"); ok {
		t.Errorf("Known(KSV-9999) = true")
	}
	if v := e.Version(); !strings.Contains(v, "trivy "+TrivyVersion) || !strings.Contains(v, "checks "+ChecksVersion) {
		t.Errorf("Version() = %q, want the library and checks versions", v)
	}
}

// TestVersionsMatchGoMod: the versions findings.json reports are the ones
// go.mod builds with.
func TestVersionsMatchGoMod(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/aquasecurity/trivy " + TrivyVersion, "github.com/aquasecurity/trivy-checks " + ChecksVersion} {
		if !strings.Contains(string(b), want) {
			t.Errorf("go.mod does not require %s: update the constants in trivyscan.go", want)
		}
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		typ  Type
		path string
		want bool
	}{
		{Kubernetes, "deploy/a.yaml", true}, {Kubernetes, "deploy/a.yml", true}, {Kubernetes, "main.tf", false},
		{Helm, "c/templates/_helpers.tpl", true}, {Helm, "c/Chart.yaml", true}, {Helm, "c/README.md", false},
		{Terraform, "tf/main.tf", true}, {Terraform, "tf/vars.tfvars", true}, {Terraform, "tf/main.tf.json", true}, {Terraform, "x.yaml", false},
		{Dockerfile, "api/Dockerfile", true}, {Dockerfile, "api/Dockerfile.dev", true}, {Dockerfile, "api/build.Containerfile", true}, {Dockerfile, "api/Dockerfiles.md", false},
	}
	for _, tt := range tests {
		if got := Wants(tt.typ, tt.path); got != tt.want {
			t.Errorf("Wants(%s, %q) = %v, want %v", tt.typ, tt.path, got, tt.want)
		}
	}
}

// TestMultiDocumentLines: in a file of several documents, each finding is
// reported at its own lines of the file — not counted from its document, nor
// one line early, as Trivy alone does — so it lands on the right object.
func TestMultiDocumentLines(t *testing.T) {
	data := "# two objects\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\nrules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get, list, create]\n  - apiGroups: [rbac.authorization.k8s.io]\n    resources: [rolebindings]\n    verbs: [create]\n"
	ms, err := engine(t).Checks(Kubernetes).Misconfigs(context.Background(), Kubernetes, []File{{Path: "k/all.yaml", Data: []byte(data)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][2]int{}
	for _, m := range ms {
		if m.File != "k/all.yaml" {
			t.Errorf("finding %s in %q, want the scanned file", m.CheckID, m.File)
		}
		lines[m.CheckID] = [2]int{m.StartLine, m.EndLine}
	}
	// KSV-0041 (secrets) is the first rule, lines 13-15; KSV-0050
	// (rolebindings) the second, lines 16-18.
	if lines["KSV-0041"] != [2]int{13, 15} || lines["KSV-0050"] != [2]int{16, 18} {
		t.Errorf("lines = %v, want KSV-0041 13-15 and KSV-0050 16-18", lines)
	}
}

func TestSplitDocuments(t *testing.T) {
	parts := splitDocuments([]byte("a: 1\n--- # two\nb: 2\n---\n# only a comment\n---\nc: 3\n"))
	var got []string
	for _, p := range parts {
		got = append(got, strings.TrimSpace(string(p.data))+"@"+strconv.Itoa(p.offset))
	}
	if want := []string{"a: 1@0", "b: 2@2", "c: 3@6"}; !slices.Equal(got, want) {
		t.Errorf("parts = %q, want %q", got, want)
	}
	if one := splitDocuments([]byte("---\na: 1\n")); len(one) != 1 || string(one[0].data) != "---\na: 1\n" || one[0].offset != 0 {
		t.Errorf("one document = %+v, want the stream whole", one)
	}
}
