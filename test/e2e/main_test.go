//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rehearsal-dev/rehearsal/fixtures"
	"github.com/rehearsal-dev/rehearsal/internal/sample"
)

// env is what hack/cluster/e2e.sh hands the tests: the cluster it brought up.
type env struct {
	kubeconfig  string // admin kubeconfig
	namespace   string
	nodeIP      string // the node's address: pods reach the git daemon there
	argoServer  string // argo server's base URL (loopback, self-signed TLS)
	timingsFile string // where timings are appended; may be empty
}

// The cluster and what TestMain prepared on it, shared by every test.
var (
	cfg     env
	argoCS  *versioned.Clientset
	kubeCS  *kubernetes.Clientset
	repoURL string // the sample repository, served by git daemon
	bare    string // the bare repository git daemon serves (tests push branches to it)
	cli     string // the rehearsal CLI, built from this tree
	root    string // the repository root
)

// Bounds of the waits; a healthy run needs a fraction of them.
const (
	waitStep     = 3 * time.Minute
	waitWorkflow = 5 * time.Minute
	poll         = 200 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run prepares the shared fixtures, runs the tests and always cleans up. A
// missing cluster fails the tier loudly: it never passes by skipping.
func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	cfg, err = loadEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n(run the end-to-end tier with `make e2e`, which brings the cluster up)\n", err)
		return 1
	}
	root, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if err := connect(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "rehearsal-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	stop, err := serveSample(ctx, tmp)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: serve the sample repository: %v\n", err)
		return 1
	}
	defer stop()
	cli = filepath.Join(tmp, "rehearsal")
	if out, err := goBuild(ctx, cli, "./cmd/rehearsal"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build the rehearsal CLI: %v\n%s", err, out)
		return 1
	}
	if out, err := kubectl(ctx, "apply", "-f", filepath.Join("testdata", "approvers.yaml")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: apply testdata/approvers.yaml: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func loadEnv() (env, error) {
	e := env{
		kubeconfig:  os.Getenv("REHEARSAL_E2E_KUBECONFIG"),
		namespace:   os.Getenv("REHEARSAL_E2E_NAMESPACE"),
		nodeIP:      os.Getenv("REHEARSAL_E2E_NODE_IP"),
		argoServer:  os.Getenv("REHEARSAL_E2E_ARGO_SERVER"),
		timingsFile: os.Getenv("REHEARSAL_E2E_TIMINGS"),
	}
	var missing []string
	for _, v := range []struct{ name, value string }{
		{"REHEARSAL_E2E_KUBECONFIG", e.kubeconfig}, {"REHEARSAL_E2E_NAMESPACE", e.namespace},
		{"REHEARSAL_E2E_NODE_IP", e.nodeIP}, {"REHEARSAL_E2E_ARGO_SERVER", e.argoServer},
	} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("no cluster: %s not set", strings.Join(missing, ", "))
	}
	if net.ParseIP(e.nodeIP) == nil {
		return e, fmt.Errorf("REHEARSAL_E2E_NODE_IP %q is not an IP address", e.nodeIP)
	}
	if _, err := exec.LookPath("argo"); err != nil {
		return e, fmt.Errorf("the argo CLI is not on PATH: %w", err)
	}
	return e, nil
}

func connect() error {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", cfg.kubeconfig, err)
	}
	if argoCS, err = versioned.NewForConfig(rc); err != nil {
		return err
	}
	if kubeCS, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kubeCS.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("the cluster does not answer: %w", err)
	}
	_, err = argoCS.ArgoprojV1alpha1().WorkflowTemplates(cfg.namespace).Get(ctx, "rehearsal-release", metav1GetOptions)
	if err != nil {
		return fmt.Errorf("WorkflowTemplate rehearsal-release is not deployed: %w", err)
	}
	return nil
}

// serveSample generates the sample repository (internal/sample: the same
// commits on every machine) into dir, and serves a bare copy of it read-only
// over git daemon on the node address, where pods reach it; nothing listens
// beyond this machine. The returned func stops the daemon.
func serveSample(ctx context.Context, dir string) (func(), error) {
	work := filepath.Join(dir, "sample")
	if _, err := sample.Generate(ctx, fixtures.Sample(), work); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "git")
	bare = filepath.Join(base, "sample.git")
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", "--mirror", work, bare).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git clone --mirror: %v\n%s", err, out)
	}
	// A free port on the node address (the default 9418 may be taken).
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.nodeIP, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen on the node address %s: %w", cfg.nodeIP, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "git-daemon.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
		"--base-path="+base, "--listen="+cfg.nodeIP, fmt.Sprintf("--port=%d", port), base)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (stopped as one: the daemon forks a child per
	// connection), killed with this process should the tests die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start git daemon: %w", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	}
	repoURL = fmt.Sprintf("git://%s:%d/sample.git", cfg.nodeIP, port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.CommandContext(ctx, "git", "ls-remote", repoURL, "refs/tags/migration").CombinedOutput()
		if err == nil && strings.Contains(string(out), "refs/tags/migration") {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("git daemon does not serve %s: %v\n%s\ngit daemon log:\n%s", repoURL, err, out, log)
		}
		time.Sleep(poll)
	}
}

// goBuild builds a package of this module into out.
func goBuild(ctx context.Context, out, pkg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	return cmd.CombinedOutput()
}

// kubectl runs kubectl against the e2e cluster.
func kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", cfg.kubeconfig, "-n", cfg.namespace}, args...)...)
	return cmd.CombinedOutput()
}

// argoCLI runs the argo CLI against the e2e cluster (through the API server,
// as a CI job with a kubeconfig does).
func argoCLI(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "argo", append([]string{"--kubeconfig", cfg.kubeconfig, "-n", cfg.namespace}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("argo %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// timing records how long something took, in the test log and in the
// timings file make e2e prints at the end.
func timing(t *testing.T, what string, d time.Duration) {
	t.Helper()
	line := fmt.Sprintf("%-52s %7.1fs", what, d.Seconds())
	t.Log(line)
	if cfg.timingsFile == "" {
		return
	}
	f, err := os.OpenFile(cfg.timingsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("timings: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
