package env

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// pollInterval is how often readiness is checked.
var pollInterval = 2 * time.Second

// waitReady waits until every workload among objs is ready or the deadline
// passes, and returns each workload's readiness. Past the deadline the
// error names the workloads that are not ready and why their pods are not.
func (b *build) waitReady(ctx context.Context, objs []*unstructured.Unstructured, deadline time.Duration) ([]Readiness, error) {
	var workloads []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job", "Pod", "ReplicaSet":
			workloads = append(workloads, o)
		}
	}
	if len(workloads) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	var rs []Readiness
	for {
		rs = rs[:0]
		all := true
		for _, w := range workloads {
			r := Readiness{Kind: w.GetKind(), Name: w.GetName()}
			gvr, _, err := b.in.Kube.resourceFor(w)
			if err == nil {
				var cur *unstructured.Unstructured
				cur, err = b.in.Kube.Dynamic.Resource(gvr).Namespace(b.m.name).Get(ctx, w.GetName(), metav1.GetOptions{})
				if err == nil {
					r.Ready, r.Message = ready(cur)
				}
			}
			if err != nil {
				r.Message = err.Error()
			}
			all = all && r.Ready
			rs = append(rs, r)
		}
		if all {
			b.in.Log.Info("workloads ready", "namespace", b.m.name, "workloads", len(rs))
			return rs, nil
		}
		select {
		case <-ctx.Done():
			why := b.podProblems(context.Background())
			var names []string
			for i, r := range rs {
				if !r.Ready {
					if why != "" {
						rs[i].Message = strings.TrimSpace(r.Message + "; pods: " + why)
					}
					names = append(names, r.Kind+"/"+r.Name+" ("+rs[i].Message+")")
				}
			}
			return rs, fmt.Errorf("not ready within %s: %s", deadline, strings.Join(names, ", "))
		case <-time.After(pollInterval):
		}
	}
}

// ready reads a workload's status the way `kubectl rollout status` does.
func ready(u *unstructured.Unstructured) (bool, string) {
	num := func(path ...string) int64 {
		v, _, _ := unstructured.NestedInt64(u.Object, path...)
		return v
	}
	gen, observed := u.GetGeneration(), num("status", "observedGeneration")
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		want := int64(1)
		if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
			want = v
		}
		if u.GetKind() != "ReplicaSet" && observed < gen {
			return false, "rollout not observed yet"
		}
		readyN, updated := num("status", "readyReplicas"), num("status", "updatedReplicas")
		if u.GetKind() == "ReplicaSet" {
			updated = want
		}
		if readyN < want || updated < want {
			return false, fmt.Sprintf("%d of %d replicas ready, %d updated", readyN, want, updated)
		}
		return true, fmt.Sprintf("%d of %d replicas ready", readyN, want)
	case "DaemonSet":
		want, readyN := num("status", "desiredNumberScheduled"), num("status", "numberReady")
		if observed < gen || readyN < want {
			return false, fmt.Sprintf("%d of %d pods ready", readyN, want)
		}
		return true, fmt.Sprintf("%d of %d pods ready", readyN, want)
	case "Job":
		want := int64(1)
		if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "completions"); ok {
			want = v
		}
		done := num("status", "succeeded")
		if done < want {
			return false, fmt.Sprintf("%d of %d completions", done, want)
		}
		return true, "complete"
	case "Pod":
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Ready" && m["status"] == "True" {
				return true, "ready"
			}
		}
		return false, "pod not ready"
	}
	return true, ""
}

// podProblems summarises why the namespace's pods are not ready (waiting
// reasons such as ErrImagePull, failing probes), for the failure report.
func (b *build) podProblems(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods, err := b.in.Kube.Core.CoreV1().Pods(b.m.name).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	seen := map[string]bool{}
	for _, p := range pods.Items {
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil:
				seen[cs.State.Waiting.Reason] = true
			case cs.State.Terminated != nil:
				seen["terminated: "+cs.State.Terminated.Reason] = true
			case !cs.Ready:
				seen["running, not ready"] = true
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
				seen["unschedulable: "+c.Reason] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
