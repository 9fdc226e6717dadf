// Package image builds single-binary container images without a registry or
// a Docker engine, and rewrites ko:// references to the names it gives them.
//
// An image is empty.Image plus one layer holding the static binary, a
// world-writable /tmp, a minimal /etc/passwd and /etc/group (root and
// nonroot, uid 65532) and nonroot's home directory. Images are written as a
// docker-save tarball that `ctr images import` understands.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// AppDir is where ko puts a Go binary; step images use the same place so a
// template's `command: ["/ko-app/<name>"]` works with ko and with these images.
const AppDir = "/ko-app"

// NonrootUID is the uid (and gid) of the "nonroot" user, as in distroless and
// Chainguard static base images.
const NonrootUID = 65532

const passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
	"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"

const group = "root:x:0:\nnonroot:x:65532:\n"

// Spec describes one single-binary image.
type Spec struct {
	// Ref is the image reference, e.g. "rehearsal.local/classify:e2e".
	Ref string
	// Binary is the host path of a static binary.
	Binary string
	// Path is where the binary lives in the image, e.g. "/ko-app/classify".
	Path string
	// Entrypoint defaults to []string{Path}.
	Entrypoint []string
	// User is the numeric user the image runs as; empty means root.
	User string
}

// Build returns the image described by spec.
func Build(spec Spec) (v1.Image, error) {
	if !path.IsAbs(spec.Path) {
		return nil, fmt.Errorf("image %s: binary path %q in the image must be absolute", spec.Ref, spec.Path)
	}
	bin, err := os.ReadFile(spec.Binary)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	layerTar, err := layer(spec.Path, bin)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: layer: %w", spec.Ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	entry := spec.Entrypoint
	if len(entry) == 0 {
		entry = []string{spec.Path}
	}
	cf.Config.Entrypoint = entry
	cf.Config.Cmd = nil
	cf.Config.User = spec.User
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:" + path.Dir(spec.Path),
		"HOME=" + home(spec.User),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	return img, nil
}

func home(user string) string {
	if user == fmt.Sprint(NonrootUID) || user == "nonroot" {
		return "/home/nonroot"
	}
	return "/"
}

// layer returns an uncompressed tar with the image's whole file system.
func layer(binPath string, bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	dirs := map[string]*tar.Header{
		"etc":          {Mode: 0o755},
		"tmp":          {Mode: 0o1777},
		"home":         {Mode: 0o755},
		"home/nonroot": {Mode: 0o700, Uid: NonrootUID, Gid: NonrootUID},
	}
	for d := path.Dir(strings.TrimPrefix(binPath, "/")); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := dirs[d]; !ok {
			dirs[d] = &tar.Header{Mode: 0o755}
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents sort before children
	for _, d := range names {
		h := dirs[d]
		h.Typeflag = tar.TypeDir
		h.Name = d + "/"
		h.ModTime = epoch
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte(passwd)},
		{"etc/group", 0o644, []byte(group)},
		{strings.TrimPrefix(binPath, "/"), 0o755, bin},
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTarball writes all images, each tagged with its reference, into one
// docker-save tarball at file.
func WriteTarball(file string, imgs map[string]v1.Image) error {
	refs := make(map[name.Reference]v1.Image, len(imgs))
	for r, img := range imgs {
		tag, err := name.NewTag(r, name.WeakValidation)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", r, err)
		}
		refs[tag] = img
	}
	if err := tarball.MultiRefWriteToFile(file, refs); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
