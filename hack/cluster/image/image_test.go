package image

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "classify")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := Build(Spec{Ref: "rehearsal.local/classify:e2e", Binary: bin, Path: "/ko-app/classify", User: "65532"})
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cf.Config.Entrypoint, []string{"/ko-app/classify"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Entrypoint = %v, want %v", got, want)
	}
	if cf.Config.User != "65532" || cf.OS != "linux" {
		t.Errorf("User, OS = %q, %q, want 65532, linux", cf.Config.User, cf.OS)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("Layers() = %d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	for name, mode := range map[string]int64{"tmp/": 0o1777, "ko-app/": 0o755, "ko-app/classify": 0o755, "etc/passwd": 0o644} {
		if h, ok := got[name]; !ok || h.Mode != mode {
			t.Errorf("layer entry %s = %+v, want mode %o", name, h, mode)
		}
	}
	if !strings.Contains(contents["etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd = %q, want a nonroot user with uid 65532", contents["etc/passwd"])
	}
	if contents["ko-app/classify"] != "#!binary" {
		t.Errorf("binary content = %q", contents["ko-app/classify"])
	}

	// The tarball round-trips under its reference.
	out := filepath.Join(dir, "images.tar")
	if err := WriteTarball(out, map[string]v1.Image{"rehearsal.local/classify:e2e": img}); err != nil {
		t.Fatalf("WriteTarball() error = %v", err)
	}
	tag, _ := name.NewTag("rehearsal.local/classify:e2e")
	back, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	d1, _ := img.Digest()
	d2, _ := back.Digest()
	if d1 != d2 {
		t.Errorf("digest after round trip = %v, want %v", d2, d1)
	}
}

func TestBuildRelativePath(t *testing.T) {
	if _, err := Build(Spec{Ref: "x/y:z", Binary: "/dev/null", Path: "ko-app/y"}); err == nil {
		t.Error("Build() with a relative path in the image: error = nil, want one")
	}
}
