package main

import (
	"context"
	"fmt"
	"os"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/gate"
)

// getWorkflow reads a Workflow through the Kubernetes API: from inside the
// cluster with the pod's ServiceAccount, or through KUBECONFIG when it is set.
// It is the only code here that talks to the cluster.
func getWorkflow(ctx context.Context, namespace, name string) (*wfv1.Workflow, error) {
	var cfg *rest.Config
	var err error
	if os.Getenv("KUBECONFIG") != "" {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, exitcode.Infrastructure(fmt.Errorf("kubernetes config: %w", err))
	}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, exitcode.Infrastructure(fmt.Errorf("argo client: %w", err))
	}
	wf, err := cs.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, exitcode.Inputf("workflow %s/%s not found", namespace, name)
	case err != nil:
		return nil, exitcode.Infrastructure(fmt.Errorf("get workflow %s/%s: %w", namespace, name, err))
	}
	return wf, nil
}

// resumedNode is what a Workflow says about a resumed suspend node.
type resumedNode struct {
	User     string
	Decision string
	Comment  string
	Claims   map[string]string
	TimedOut bool
}

// resumed reads who resumed the suspend node nodeID of wf, and what they
// decided. A node that succeeded without "Resumed by" claims after the gate's
// timeout has timed out (Argo resumed it with the default decision); without
// claims before it, nobody is known to have resumed it and the user stays
// empty, which the gate refuses (fail closed).
func resumed(wf *wfv1.Workflow, nodeID string, policy workspace.Gate) (resumedNode, error) {
	if wf.Status.IsOffloadNodeStatus() {
		return resumedNode{}, exitcode.Inputf("workflow %s: node status is offloaded to the persistence database, which the gate cannot read", wf.Name)
	}
	if err := packer.DecompressWorkflow(wf); err != nil {
		return resumedNode{}, exitcode.Input(fmt.Errorf("workflow %s: %w", wf.Name, err))
	}
	node, ok := wf.Status.Nodes[nodeID]
	if !ok {
		return resumedNode{}, exitcode.Inputf("workflow %s has no node %q", wf.Name, nodeID)
	}
	if node.Type != wfv1.NodeTypeSuspend {
		return resumedNode{}, exitcode.Inputf("workflow %s: node %s (%s) is a %s node, not a suspend node", wf.Name, nodeID, node.DisplayName, node.Type)
	}
	if node.Phase != wfv1.NodeSucceeded {
		return resumedNode{}, exitcode.Inputf("workflow %s: node %s (%s) is %s, not resumed", wf.Name, nodeID, node.DisplayName, node.Phase)
	}
	r := resumedNode{Decision: parameter(node.Outputs, "decision"), Comment: parameter(node.Outputs, "comment")}
	r.Claims = gate.ParseResumedBy(node.Message)
	if r.Claims == nil {
		timedOut, err := pastTimeout(node, policy)
		if err != nil {
			return resumedNode{}, exitcode.Input(fmt.Errorf("gate %q: %w", policy.Name, err))
		}
		r.TimedOut = timedOut
		return r, nil
	}
	user, ok := gate.Identity(r.Claims, wf.Labels)
	if !ok {
		return resumedNode{}, gate.Refuse(policy.Name, "", fmt.Errorf(
			"gate %q: who resumed node %s cannot be established: the workflow's actor labels %v do not match the recorded claims %v (refusing, fail closed)",
			policy.Name, nodeID, actorLabels(wf.Labels), r.Claims))
	}
	r.User = user
	return r, nil
}

// pastTimeout reports whether the node ran at least the gate's timeout.
func pastTimeout(node wfv1.NodeStatus, policy workspace.Gate) (bool, error) {
	if policy.Timeout == "" || node.StartedAt.IsZero() || node.FinishedAt.IsZero() {
		return false, nil
	}
	d, err := wfv1.ParseStringToDuration(policy.Timeout)
	if err != nil {
		return false, fmt.Errorf("timeout: %w", err)
	}
	return node.FinishedAt.Sub(node.StartedAt.Time) >= d, nil
}

// parameter returns an output parameter's value, or its default when a resume
// left it unset.
func parameter(o *wfv1.Outputs, name string) string {
	if o == nil {
		return ""
	}
	for _, p := range o.Parameters {
		if p.Name != name {
			continue
		}
		switch {
		case p.Value != nil:
			return p.Value.String()
		case p.ValueFrom != nil && p.ValueFrom.Default != nil:
			return p.ValueFrom.Default.String()
		case p.Default != nil:
			return p.Default.String()
		}
	}
	return ""
}

func actorLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{gate.LabelActor, gate.LabelActorEmail, gate.LabelActorPreferredUsername} {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}
