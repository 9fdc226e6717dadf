// Command imagetool builds single-binary container images for the local e2e
// cluster (no registry, no Docker engine) and resolves ko:// references to
// them.
//
//	imagetool build   --root DIR --prefix P --tag T --out FILE.tar PKG...
//	imagetool pack    --out FILE.tar REF=BINARY:PATH[:USER]...
//	imagetool resolve --prefix P --tag T [FILE...]   (stdin when no FILE)
//
// build compiles Go main packages of the module at --root (static,
// CGO_ENABLED=0) and puts each at /ko-app/<name>, running as nonroot (65532);
// pack wraps already built static binaries; both write one docker-save
// tarball for `ctr -n k8s.io images import`. resolve prints the YAML with
// every ko://github.com/rehearsal-dev/rehearsal/cmd/... reference replaced.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rehearsal-dev/rehearsal/hack/cluster/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  imagetool build   --root DIR --prefix P --tag T --out FILE.tar PKG...
  imagetool pack    --out FILE.tar REF=BINARY:PATH[:USER]...
  imagetool resolve --prefix P --tag T [FILE...]
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = build(ctx, args[1:], stdout, stderr)
	case "pack":
		err = pack(args[1:], stderr)
	case "resolve":
		err = resolve(args[1:], stdin, stdout)
	default:
		fmt.Fprintf(stderr, "imagetool: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "imagetool %s: %v\n%s", args[0], err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "imagetool %s: %v\n", args[0], err)
		return 1
	}
}

type usageError struct{ error }

func build(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "directory of the Go module that holds the packages")
	prefix := fs.String("prefix", "rehearsal.local", "image name prefix")
	tag := fs.String("tag", "e2e", "image tag")
	out := fs.String("out", "", "tarball to write")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *out == "" || fs.NArg() == 0 {
		return usageError{errors.New("--out and at least one package are required")}
	}
	// Resolve the packages first: a typo fails here with go's own message.
	list := exec.CommandContext(ctx, "go", append([]string{"list", "-f", "{{.Name}} {{.ImportPath}}"}, fs.Args()...)...)
	list.Dir = *root
	list.Stderr = stderr
	listed, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list %s: %w", strings.Join(fs.Args(), " "), err)
	}
	var importPaths []string
	for _, line := range strings.Split(strings.TrimSpace(string(listed)), "\n") {
		pkgName, importPath, _ := strings.Cut(line, " ")
		if pkgName != "main" {
			return fmt.Errorf("%s is package %s, not a main package", importPath, pkgName)
		}
		importPaths = append(importPaths, importPath)
	}
	binDir, err := os.MkdirTemp("", "imagetool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	gb := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", binDir + "/"}, importPaths...)...)
	gb.Dir = *root
	gb.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	gb.Stdout, gb.Stderr = stderr, stderr
	if err := gb.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", strings.Join(importPaths, " "), err)
	}
	imgs := map[string]v1.Image{}
	for _, ip := range importPaths {
		name := path.Base(ip)
		ref := image.Ref(*prefix, ip, *tag)
		img, err := image.Build(image.Spec{
			Ref:    ref,
			Binary: filepath.Join(binDir, name),
			Path:   image.AppDir + "/" + name,
			User:   fmt.Sprint(image.NonrootUID),
		})
		if err != nil {
			return err
		}
		imgs[ref] = img
		fmt.Fprintf(stdout, "%s\t%s\n", ip, ref)
	}
	return image.WriteTarball(*out, imgs)
}

func pack(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "tarball to write")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *out == "" || fs.NArg() == 0 {
		return usageError{errors.New("--out and at least one REF=BINARY:PATH[:USER] are required")}
	}
	imgs := map[string]v1.Image{}
	for _, a := range fs.Args() {
		ref, rest, ok := strings.Cut(a, "=")
		parts := strings.Split(rest, ":")
		if !ok || len(parts) < 2 || len(parts) > 3 || ref == "" || parts[0] == "" {
			return usageError{fmt.Errorf("image %q: want REF=BINARY:PATH[:USER]", a)}
		}
		spec := image.Spec{Ref: ref, Binary: parts[0], Path: parts[1]}
		if len(parts) == 3 {
			spec.User = parts[2]
		}
		img, err := image.Build(spec)
		if err != nil {
			return err
		}
		imgs[ref] = img
	}
	return image.WriteTarball(*out, imgs)
}

func resolve(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	prefix := fs.String("prefix", "rehearsal.local", "image name prefix")
	tag := fs.String("tag", "e2e", "image tag")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	if fs.NArg() == 0 {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		inputs = append(inputs, input{"<stdin>", data})
	}
	for _, f := range fs.Args() {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		inputs = append(inputs, input{f, data})
	}
	var buf bytes.Buffer
	var errs []error
	for i, in := range inputs {
		out, _, err := image.Resolve(in.name, in.data, *prefix, *tag)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := stdout.Write(buf.Bytes())
	return err
}
