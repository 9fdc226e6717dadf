//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rehearsal-dev/rehearsal/fixtures/shop"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/mariadbtest"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	envstep "github.com/rehearsal-dev/rehearsal/steps/env"
)

// The dataset server of the environment tests: a private MariaDB on the
// node's address (pods reach it there), with the shop fixtures as the source
// database and an account for the steps.
type dataServer struct {
	srv       *mariadbtest.Server
	admin     *sql.DB // root over the socket
	sourceDSN string
	targetDSN string
}

const (
	stepUser = "rehearsal"
	stepPass = "e2e-not-a-secret-7f3c"
	maskKey  = "e2e-mask-key-0123456789abcdef"
)

func startDataServer(t *testing.T) *dataServer {
	t.Helper()
	ctx := context.Background()
	srv, err := mariadbtest.StartAt(ctx, cfg.nodeIP)
	if err != nil {
		t.Fatalf("the environment tests need MariaDB on the node address (apt-get install mariadb-server): %v", err)
	}
	t.Cleanup(srv.Close)
	admin, err := sql.Open("mysql", srv.SocketDSN("")+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	for _, s := range []string{
		"CREATE DATABASE shop",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", stepUser, stepPass),
		fmt.Sprintf("GRANT ALL ON *.* TO '%s'@'%%' WITH GRANT OPTION", stepUser),
	} {
		if _, err := admin.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, f := range []string{"01-schema.sql", "02-data.sql"} {
		data, err := fs.ReadFile(shop.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "USE shop;\n"+string(data)); err != nil {
			t.Fatalf("load fixtures/shop/%s: %v", f, err)
		}
	}
	dsn := func(schema string) string {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr, c.DBName = stepUser, stepPass, "tcp", fmt.Sprintf("%s:%d", cfg.nodeIP, srv.Port), schema
		c.AllowAllFiles = false
		return c.FormatDSN()
	}
	return &dataServer{srv: srv, admin: admin, sourceDSN: dsn("shop"), targetDSN: dsn("")}
}

func (d *dataServer) schemaExists(t *testing.T, schema string) bool {
	t.Helper()
	var n int
	if err := d.admin.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func (d *dataServer) userExists(t *testing.T, user string) bool {
	t.Helper()
	var n int
	if err := d.admin.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE user = ?", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// pushBranch commits files on top of the sample's last commit and pushes
// them to the served repository as branch.
func pushBranch(t *testing.T, branch string, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("clone", "--quiet", bare, ".")
	for name, content := range files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	git("commit", "--quiet", "-m", "preview manifests for "+branch)
	git("push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
}

// previewFiles is the branch's preview: the sample's api Deployment and
// Service through a kustomization that runs them on an image the node has
// (no registry here) and meets the restricted Pod Security Standard.
func previewFiles(image, tag string) map[string]string {
	return map[string]string{
		"deploy/api/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
		"deploy/preview/kustomization.yaml": `resources: [../api]
images:
  - name: registry.example.com/shop/api
    newName: ` + image + `
    newTag: ` + tag + `
patches:
  - target: {kind: Deployment, name: api}
    patch: |
      - {op: replace, path: /spec/replicas, value: 1}
      - {op: remove, path: /spec/template/spec/containers/0/readinessProbe}
      - {op: add, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}
      - op: add
        path: /spec/template/spec/securityContext
        value: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      - op: add
        path: /spec/template/spec/containers/0/securityContext
        value: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      - {op: add, path: /spec/template/spec/automountServiceAccountToken, value: false}
`,
	}
}

// admin clients for the in-process env steps and checks.
func envKube(t *testing.T) *envstep.Kube {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	k, err := envstep.NewKube(rc)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// as returns a clientset that acts as a ServiceAccount of the Rehearsal
// namespace (the admin impersonates it).
func as(t *testing.T, sa string) *kubernetes.Clientset {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + cfg.namespace + ":" + sa}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func namespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	ns, err := kubeCS.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	return ns
}

// waitGone waits until a namespace has been deleted completely.
func waitGone(t *testing.T, name string) {
	t.Helper()
	waitFor(t, "namespace "+name+" to be deleted", 2*time.Minute, func(ctx context.Context) (bool, error) {
		_, err := kubeCS.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// TestEnv: ephemeral environments on the real cluster. A developer's
// `argo submit --from workflowtemplate/rehearsal-env` builds one from the
// preview template — namespace with its labels, quota, limits, network
// policy, the branch's api running Ready, a masked dataset in its own schema
// reachable with the credentials of the Secret it was given, and nothing
// more; the env step's account cannot touch a namespace that is not its own;
// the faults the issue lists; then the env is expired and the reaper
// CronWorkflow, fired on a forced schedule, removes exactly it: a decoy
// namespace without labels and an unexpired environment survive.
func TestEnv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := startDataServer(t)
	pushBranch(t, "env-demo", previewFiles("rehearsal.local/pause", "e2e"))

	// Database settings and masking key of the env steps, as an operator
	// provides them.
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "rehearsal-env-db", Namespace: cfg.namespace},
		StringData: map[string]string{"source-dsn": data.sourceDSN, "target-dsn": data.targetDSN, "mask-key": maskKey},
	}
	if _, err := kubeCS.CoreV1().Secrets(cfg.namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	decoy := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "decoy-e2e", Labels: map[string]string{"team": "someone-else"}}}
	if _, err := kubeCS.CoreV1().Namespaces().Create(ctx, decoy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kubeCS.CoreV1().Namespaces().Delete(context.Background(), "decoy-e2e", metav1.DeleteOptions{})
	})

	const built = "preview-env-demo"
	t.Run("build", func(t *testing.T) {
		start := time.Now()
		out, err := argoCLI(ctx, "submit", "--from", "workflowtemplate/rehearsal-env", "-p", "repo="+repoURL,
			"-p", "branch=env-demo", "-p", "owner=alice", "-p", "ttl=1h", "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSpace(string(out))
		t.Cleanup(func() {
			if t.Failed() {
				dump(t, name)
			}
		})
		wf := waitFinished(t, name)
		timing(t, "env build (namespace, masked dataset, api Ready)", time.Since(start))
		if wf.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("env workflow %s ended %s (%s)", name, wf.Status.Phase, wf.Status.Message)
		}
		if got := output(wf.Status.Nodes[wf.Name], "namespace"); got != built {
			t.Errorf("output namespace = %q, want %s", got, built)
		}
		ns := namespace(t, built)
		exp, _ := strconv.ParseInt(ns.Labels[envstep.LabelExpiresAt], 10, 64)
		if ns.Labels[envstep.LabelManagedBy] != "rehearsal" || ns.Labels[envstep.LabelEnv] != built || ns.Labels[envstep.LabelOwner] != "alice" ||
			time.Until(time.Unix(exp, 0)) < 50*time.Minute || time.Until(time.Unix(exp, 0)) > 61*time.Minute ||
			ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || ns.Annotations[envstep.AnnotationState] != envstep.StateReady {
			t.Errorf("namespace labels %v annotations %v", ns.Labels, ns.Annotations)
		}
		for _, check := range []func() error{
			func() error {
				_, err := kubeCS.CoreV1().ResourceQuotas(built).Get(ctx, "rehearsal", metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := kubeCS.CoreV1().LimitRanges(built).Get(ctx, "rehearsal", metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := kubeCS.NetworkingV1().NetworkPolicies(built).Get(ctx, "rehearsal-default", metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := kubeCS.CoreV1().ServiceAccounts(built).Get(ctx, "app", metav1.GetOptions{})
				return err
			},
		} {
			if err := check(); err != nil {
				t.Error(err)
			}
		}
		pods, err := kubeCS.CoreV1().Pods(built).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("api pods in %s: %v %v", built, pods, err)
		}
		if !podReady(pods.Items[0]) {
			t.Errorf("api pod %s is not Ready: %+v", pods.Items[0].Name, pods.Items[0].Status.Conditions)
		}
		// The dataset: reachable with the Secret's credentials, masked rows
		// in the environment's schema, and no right beyond it.
		sec, err := kubeCS.CoreV1().Secrets(built).Get(ctx, "rehearsal-dataset", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("mysql", string(sec.Data["dsn"]))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var customers int
		if err := db.QueryRow("SELECT COUNT(*) FROM customers").Scan(&customers); err != nil || customers == 0 {
			t.Errorf("customers in the environment's dataset: %d, %v", customers, err)
		}
		var original int
		if err := data.admin.QueryRow("SELECT COUNT(*) FROM shop.customers c JOIN preprod_preview_env_demo.customers p ON p.email = c.email").Scan(&original); err != nil || original != 0 {
			t.Errorf("%d original e-mail addresses in the environment's dataset (%v), want 0", original, err)
		}
		if _, err := db.Exec("SELECT COUNT(*) FROM shop.customers"); err == nil {
			t.Error("the environment's account reads the source database")
		}
		if string(sec.Data["database"]) != "preprod_preview_env_demo" || !data.userExists(t, string(sec.Data["username"])) {
			t.Errorf("dataset secret names database %q user %q", sec.Data["database"], sec.Data["username"])
		}
		// The workflow's log and outputs never carry the password.
		logs, _ := argoCLI(ctx, "logs", name)
		if strings.Contains(string(logs), string(sec.Data["password"])) || strings.Contains(string(logs), stepPass) {
			t.Error("a database password appears in the env workflow's logs")
		}
	})

	t.Run("least privilege", func(t *testing.T) {
		envSA := as(t, "rehearsal-env")
		foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-an-env-e2e"}}
		if _, err := envSA.CoreV1().Namespaces().Create(ctx, foreign, metav1.CreateOptions{}); err == nil {
			_ = kubeCS.CoreV1().Namespaces().Delete(ctx, foreign.Name, metav1.DeleteOptions{})
			t.Error("the env step's account created a namespace without its labels")
		}
		if err := envSA.CoreV1().Namespaces().Delete(ctx, "decoy-e2e", metav1.DeleteOptions{}); err == nil {
			t.Error("the env step's account deleted the decoy namespace")
		}
		claim := namespace(t, "decoy-e2e").DeepCopy()
		claim.Labels[envstep.LabelManagedBy], claim.Labels[envstep.LabelEnv] = "rehearsal", "decoy-e2e"
		if _, err := as(t, "rehearsal-env-reaper").CoreV1().Namespaces().Update(ctx, claim, metav1.UpdateOptions{}); err == nil {
			t.Error("the reaper's account labelled the decoy namespace as its own")
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
		if _, err := envSA.CoreV1().ConfigMaps("decoy-e2e").Create(ctx, cm, metav1.CreateOptions{}); err == nil {
			t.Error("the env step's account wrote into the decoy namespace")
		}
		if _, err := envSA.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); err == nil {
			t.Error("the env step's account lists Secrets outside its environments")
		}
		// Inside its own environment it manages workloads.
		if _, err := envSA.CoreV1().ConfigMaps(built).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Errorf("the env step's account cannot write in its environment: %v", err)
		}
	})

	set, err := rules.Load(filepath.Join(root, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	kube := envKube(t)
	build := func(t *testing.T, name string, params map[string]string, manifests string, d envstep.Data, readiness time.Duration) (*envstep.Record, error) {
		t.Helper()
		return envstep.Build(ctx, envstep.Input{
			Workspace: t.TempDir(), Rules: set, Name: name, Manifests: manifests, Kube: kube, Data: d, Readiness: readiness,
			Request: rules.EnvRequest{Template: "preview", Branch: "faults", Owner: "bob", Parameters: params},
		})
	}
	masked := envstep.Data{SourceDSN: data.sourceDSN, TargetDSN: data.targetDSN, Key: []byte(maskKey)}

	t.Run("faults", func(t *testing.T) {
		// A namespace that exists without our labels: refused, untouched.
		before := namespace(t, "decoy-e2e")
		if _, err := build(t, "decoy-e2e", map[string]string{"data": "none"}, "", envstep.Data{}, 0); exitcode.Code(err) != exitcode.BadInput ||
			!strings.Contains(fmt.Sprint(err), "not created by rehearsal") {
			t.Errorf("build into the decoy = %v, want a refusal (exit 2)", err)
		}
		if after := namespace(t, "decoy-e2e"); after.ResourceVersion != before.ResourceVersion {
			t.Errorf("the decoy namespace changed: %v", after.Labels)
		}

		// Readiness deadline exceeded: marked failed, kept, reported.
		broken := t.TempDir()
		for f, c := range previewFiles("rehearsal.local/absent", "e2e") {
			p := filepath.Join(broken, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(c), 0o644)
		}
		for _, f := range []string{"deployment.yaml", "service.yaml"} {
			b, err := os.ReadFile(filepath.Join(root, "fixtures/sample/history/00-initial/_tree/deploy/api", f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(broken, "deploy/api", f), b, 0o644)
		}
		rec, err := build(t, "e2e-env-broken", map[string]string{"data": "none", "ttl": "24h"}, filepath.Join(broken, "deploy/preview"), envstep.Data{}, 15*time.Second)
		if exitcode.Code(err) != exitcode.Negative || rec == nil || rec.State != envstep.StateFailed || !strings.Contains(err.Error(), "not ready within 15s") ||
			!strings.Contains(err.Error(), "ErrImageNeverPull") {
			t.Errorf("build with an image the node lacks = %v (record %+v), want failed: not ready, naming ErrImageNeverPull", err, rec)
		}
		ns := namespace(t, "e2e-env-broken")
		if ns.Annotations[envstep.AnnotationState] != envstep.StateFailed || !strings.Contains(ns.Annotations[envstep.AnnotationStateMessage], "not ready") {
			t.Errorf("failed environment annotations %v", ns.Annotations)
		}

		// Dataset load failure: the environment is not reported ready and
		// its manifests are not applied.
		down := masked
		down.TargetDSN = strings.Replace(data.targetDSN, strconv.Itoa(data.srv.Port), "1", 1)
		rec, err = build(t, "e2e-env-nodata", map[string]string{"ttl": "24h"}, filepath.Join(broken, "deploy/preview"), down, 0)
		if err == nil || rec == nil || rec.State != envstep.StateFailed || !strings.Contains(err.Error(), "dataset") {
			t.Errorf("build with the dataset server down = %v (record %+v), want failed on the dataset", err, rec)
		}
		if strings.Contains(fmt.Sprint(err), stepPass) {
			t.Errorf("the error shows the DSN password: %v", err)
		}
		if ns := namespace(t, "e2e-env-nodata"); ns.Annotations[envstep.AnnotationState] != envstep.StateFailed {
			t.Errorf("environment with no dataset: state %q", ns.Annotations[envstep.AnnotationState])
		}
		if deps, _ := kubeCS.AppsV1().Deployments("e2e-env-nodata").List(ctx, metav1.ListOptions{}); deps != nil && len(deps.Items) > 0 {
			t.Errorf("the manifests were applied although the dataset failed")
		}

		// The reaper refuses what is not its own, lists without removing
		// in a dry run, and finishes a removal interrupted half-way.
		if _, err := envstep.GC(ctx, envstep.GCInput{Kube: kube, TargetDSN: data.targetDSN, Names: []string{"decoy-e2e"}}); exitcode.Code(err) != exitcode.BadInput {
			t.Errorf("reaping the decoy = %v, want a refusal (exit 2)", err)
		}
		if _, err := build(t, "e2e-env-reap", nil, "", masked, 0); err != nil {
			t.Fatal(err)
		}
		reapUser := datasetUserOf(t, "e2e-env-reap")
		later := time.Now().Add(25 * time.Hour)
		out, err := envstep.GC(ctx, envstep.GCInput{Kube: kube, TargetDSN: data.targetDSN, Names: []string{"e2e-env-reap"}, DryRun: true, Now: func() time.Time { return later }})
		if err != nil || !slices.Equal(out.WouldReap, []string{"e2e-env-reap"}) || len(out.Reaped) != 0 {
			t.Errorf("dry run = %+v, %v", out, err)
		}
		killed := errors.New("reaper killed")
		_, err = envstep.GC(ctx, envstep.GCInput{Kube: kube, TargetDSN: data.targetDSN, Names: []string{"e2e-env-reap"}, Reaper: "first", Now: func() time.Time { return later },
			AfterStage: func(_, stage string) error {
				if stage == "dataset" {
					return killed
				}
				return nil
			}})
		if !errors.Is(err, killed) || data.schemaExists(t, "preprod_e2e_env_reap") || namespace(t, "e2e-env-reap").Annotations[envstep.AnnotationState] != envstep.StateReaping {
			t.Fatalf("interrupted reaper: %v; schema left %v", err, data.schemaExists(t, "preprod_e2e_env_reap"))
		}
		// Within the first reaper's lease another one leaves it alone ...
		out, err = envstep.GC(ctx, envstep.GCInput{Kube: kube, TargetDSN: data.targetDSN, Names: []string{"e2e-env-reap"}, Reaper: "second", Now: func() time.Time { return later.Add(time.Minute) }})
		if err != nil || len(out.Reaped) != 0 {
			t.Errorf("second reaper within the lease = %+v, %v; want it to wait", out, err)
		}
		// ... and after it, finishes the job.
		out, err = envstep.GC(ctx, envstep.GCInput{Kube: kube, TargetDSN: data.targetDSN, Names: []string{"e2e-env-reap"}, Reaper: "second", Now: func() time.Time { return later.Add(envstep.DefaultLease + time.Minute) }})
		if err != nil || !slices.Equal(out.Reaped, []string{"e2e-env-reap"}) {
			t.Errorf("second reaper after the lease = %+v, %v", out, err)
		}
		waitGone(t, "e2e-env-reap")
		if data.userExists(t, reapUser) {
			t.Errorf("the reaper left the database account %s", reapUser)
		}

		// Two reapers at once: exactly one removes the environment.
		if _, err := build(t, "e2e-env-race", map[string]string{"data": "none"}, "", envstep.Data{}, 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]envstep.GCOutput, 2)
		errs := make([]error, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = envstep.GC(ctx, envstep.GCInput{Kube: kube, Names: []string{"e2e-env-race"}, Reaper: fmt.Sprint("racer-", i), Now: func() time.Time { return later }})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || len(results[0].Reaped)+len(results[1].Reaped) != 1 {
			t.Errorf("two reapers at once: %+v %v / %+v %v, want exactly one removal", results[0], errs[0], results[1], errs[1])
		}
		waitGone(t, "e2e-env-race")
	})

	t.Run("reaper", func(t *testing.T) {
		user := datasetUserOf(t, built)
		// Time is up for the built environment (only its expiry changes).
		ns := namespace(t, built).DeepCopy()
		ns.Labels[envstep.LabelExpiresAt] = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
		if _, err := kubeCS.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := fireCron(t, "rehearsal-env-reap", nil)
		wf := waitFinished(t, name)
		if wf.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("reaper run %s ended %s (%s)", name, wf.Status.Phase, wf.Status.Message)
		}
		waitGone(t, built)
		if data.schemaExists(t, "preprod_preview_env_demo") || data.userExists(t, user) {
			t.Error("the reaper left the environment's dataset or account")
		}
		for _, kept := range []string{"decoy-e2e", "e2e-env-broken", "e2e-env-nodata"} {
			if ns := namespace(t, kept); ns.DeletionTimestamp != nil {
				t.Errorf("the reaper removed %s", kept)
			}
		}
	})
}

func datasetUserOf(t *testing.T, ns string) string {
	t.Helper()
	u := namespace(t, ns).Annotations[envstep.AnnotationDatasetUser]
	if u == "" {
		t.Fatalf("namespace %s names no dataset account", ns)
	}
	return u
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
