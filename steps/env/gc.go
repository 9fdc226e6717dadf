package env

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
)

// DefaultLease is how long a reaper's claim on an environment holds before
// another reaper may take the job over (the first one was interrupted).
const DefaultLease = 5 * time.Minute

// GCInput is one reaper run.
type GCInput struct {
	Kube *Kube
	// TargetDSN is the dataset server; environments with a dataset are not
	// removed without it (their schema would be orphaned).
	TargetDSN string
	// Names restricts the run to these environments; each must carry the
	// env step's labels.
	Names  []string
	DryRun bool
	// Reaper identifies this run in the claim annotation (e.g. the pod name).
	Reaper string
	Lease  time.Duration
	Now    func() time.Time
	Log    *slog.Logger
	// AfterStage, when set (tests), runs after each stage of one
	// environment's removal ("claimed", "dataset"); an error stops the run
	// there, as if it had been killed.
	AfterStage func(env, stage string) error
}

// GCOutput is what a reaper run did.
type GCOutput struct {
	DryRun bool `json:"dryRun,omitempty"`
	// Reaped are the environments removed (namespace deletion requested,
	// dataset dropped); WouldReap what a dry run would remove.
	Reaped    []string  `json:"reaped"`
	WouldReap []string  `json:"wouldReap,omitempty"`
	Kept      []GCEntry `json:"kept"`
}

// GCEntry is an environment left in place, with why.
type GCEntry struct {
	Name      string `json:"name"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	Reason    string `json:"reason"`
}

var userRe = regexp.MustCompile(`^rh_[0-9a-f]{16}$`)

// GC removes expired environments: only namespaces labelled as the env
// step's, each claimed first (an update with its resourceVersion, so two
// reapers never both act), then its dataset dropped, then the namespace
// deleted with a UID and resourceVersion precondition (a refresh in between
// wins). An interrupted run leaves the claim, which the next run takes over
// once the lease has passed, and finishes the job.
func GC(ctx context.Context, in GCInput) (GCOutput, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	if in.Lease == 0 {
		in.Lease = DefaultLease
	}
	if in.Reaper == "" {
		in.Reaper = "reaper"
	}
	out := GCOutput{DryRun: in.DryRun, Reaped: []string{}, Kept: []GCEntry{}}
	nsc := in.Kube.Core.CoreV1().Namespaces()
	var candidates []corev1.Namespace
	if len(in.Names) > 0 {
		for _, n := range in.Names {
			ns, err := nsc.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				out.Kept = append(out.Kept, GCEntry{Name: n, Reason: "no such namespace"})
				continue
			}
			if err != nil {
				return out, exitcode.Infrastructure(fmt.Errorf("read namespace %s: %w", n, err))
			}
			if !Ours(ns.Labels, "") {
				return out, exitcode.Inputf("namespace %s was not created by rehearsal (it lacks the labels %s=%s and %s): the reaper refuses it", n, LabelManagedBy, ManagedBy, LabelEnv)
			}
			candidates = append(candidates, *ns)
		}
	} else {
		l, err := nsc.List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelEnv})
		if err != nil {
			return out, exitcode.Infrastructure(fmt.Errorf("list environments: %w", err))
		}
		candidates = l.Items
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Name < candidates[j].Name })
	now := in.Now()
	var firstErr error
	for _, ns := range candidates {
		if !Ours(ns.Labels, "") { // a list by selector only returns ours; checked again all the same
			continue
		}
		exp, err := strconv.ParseInt(ns.Labels[LabelExpiresAt], 10, 64)
		if err != nil {
			out.Kept = append(out.Kept, GCEntry{Name: ns.Name, Reason: fmt.Sprintf("label %s=%q is not a Unix time: left alone", LabelExpiresAt, ns.Labels[LabelExpiresAt])})
			continue
		}
		expires := time.Unix(exp, 0).UTC()
		if now.Before(expires) {
			out.Kept = append(out.Kept, GCEntry{Name: ns.Name, ExpiresAt: expires.Format(time.RFC3339), Reason: "not expired"})
			continue
		}
		if in.DryRun {
			out.WouldReap = append(out.WouldReap, ns.Name)
			continue
		}
		reaped, why, err := reap(ctx, in, ns, now)
		if err != nil {
			in.Log.Error("environment not removed", "namespace", ns.Name, "error", err)
			out.Kept = append(out.Kept, GCEntry{Name: ns.Name, ExpiresAt: expires.Format(time.RFC3339), Reason: err.Error()})
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !reaped {
			out.Kept = append(out.Kept, GCEntry{Name: ns.Name, ExpiresAt: expires.Format(time.RFC3339), Reason: why})
			continue
		}
		in.Log.Info("environment removed", "namespace", ns.Name, "expired", expires.Format(time.RFC3339))
		out.Reaped = append(out.Reaped, ns.Name)
	}
	return out, firstErr
}

// reap removes one expired environment. It returns false with a reason when
// another reaper holds it or it changed under us.
func reap(ctx context.Context, in GCInput, ns corev1.Namespace, now time.Time) (bool, string, error) {
	nsc := in.Kube.Core.CoreV1().Namespaces()
	ann := ns.Annotations
	if ann[AnnotationState] == StateReaping && ann[AnnotationReaper] != in.Reaper {
		since, err := time.Parse(time.RFC3339, ann[AnnotationReapingSince])
		if err == nil && now.Before(since.Add(in.Lease)) {
			return false, fmt.Sprintf("being removed by %s since %s", ann[AnnotationReaper], since.Format(time.RFC3339)), nil
		}
		in.Log.Info("taking over an interrupted removal", "namespace", ns.Name, "from", ann[AnnotationReaper])
	}
	claimed := &ns
	if ns.DeletionTimestamp == nil {
		c := ns.DeepCopy()
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[AnnotationState] = StateReaping
		c.Annotations[AnnotationReaper] = in.Reaper
		c.Annotations[AnnotationReapingSince] = now.UTC().Format(time.RFC3339)
		var err error
		claimed, err = nsc.Update(ctx, c, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			return false, "changed while the reaper claimed it (another reaper or a refresh): left for the next run", nil
		}
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", exitcode.Infrastructure(fmt.Errorf("claim namespace %s: %w", ns.Name, err))
		}
	}
	if err := in.stage(ns.Name, "claimed"); err != nil {
		return false, "", err
	}
	if schema := claimed.Annotations[AnnotationDataset]; schema != "" {
		user := claimed.Annotations[AnnotationDatasetUser]
		if user != "" && !userRe.MatchString(user) {
			return false, "", exitcode.Inputf("namespace %s: annotation %s=%q is not an account the env step creates: left alone", ns.Name, AnnotationDatasetUser, user)
		}
		if in.TargetDSN == "" {
			return false, "", exitcode.Inputf("namespace %s has the dataset %s but no dataset server is configured (--target-dsn; in Argo the Secret rehearsal-env-db): not removed, or the schema would be orphaned", ns.Name, schema)
		}
		if err := dropDataset(ctx, in.TargetDSN, schema, user); err != nil {
			return false, "", err
		}
	}
	if err := in.stage(ns.Name, "dataset"); err != nil {
		return false, "", err
	}
	if claimed.DeletionTimestamp != nil {
		return true, "", nil
	}
	uid, rv := claimed.UID, claimed.ResourceVersion
	err := nsc.Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return true, "", nil
	case apierrors.IsConflict(err):
		return false, "changed after the reaper claimed it: left for the next run", nil
	}
	return false, "", exitcode.Infrastructure(fmt.Errorf("delete namespace %s: %w", ns.Name, err))
}

func (in GCInput) stage(env, stage string) error {
	if in.AfterStage == nil {
		return nil
	}
	return in.AfterStage(env, stage)
}
