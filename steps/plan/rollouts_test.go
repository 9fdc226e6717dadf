package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rov1 "github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// TestRolloutsValid decodes every emitted rollouts/*.yaml strictly with the
// Argo Rollouts Go types and checks what the controller needs: a Rollout
// whose workloadRef names a Deployment of the service's manifests, one
// strategy, canary weights rising to 100, analysis templates and Services
// that exist, and Prometheus metrics with a query and a success condition.
func TestRolloutsValid(t *testing.T) {
	ws, out := runShop(t)
	var p workspace.Plan
	if err := workspace.ReadJSON(ws, workspace.PlanFile, &p); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rollouts/api.yaml", "rollouts/orders.yaml", "rollouts/web.yaml"}; !slices.Equal(out.Rollouts, want) {
		t.Fatalf("Run(shop).Rollouts = %q, want %q", out.Rollouts, want)
	}
	kubeServices := map[string]bool{}
	for _, f := range []string{"deploy/web/deployment.yaml", "deploy/api/service.yaml", "deploy/orders/deployment.yaml", "deploy/ledger/statefulset.yaml"} {
		b, _ := os.ReadFile(filepath.Join(shopRepo, f))
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var s corev1.Service
			if sigsyaml.Unmarshal(doc, &s) == nil && s.Kind == "Service" {
				kubeServices[s.Name] = true
			}
		}
	}
	for _, f := range out.Rollouts {
		b, err := os.ReadFile(filepath.Join(ws, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := validateRollouts(b, kubeServices); err != nil {
			t.Errorf("%s: %v\n%s", f, err, b)
		}
	}
	if err := validateRollouts([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec: {strategy: {canary: {steps: [{setWeight: 50}, {setWeight: 20}]}}}\n"), kubeServices); err == nil {
		t.Errorf("validateRollouts accepted a Rollout without workloadRef and with falling weights")
	}
}

func validateRollouts(data []byte, kubeServices map[string]bool) error {
	var ro *rov1.Rollout
	templates := map[string]*rov1.AnalysisTemplate{}
	previews := map[string]bool{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta struct{ Kind string }
		if err := sigsyaml.Unmarshal([]byte(doc), &meta); err != nil {
			return err
		}
		switch meta.Kind {
		case "Rollout":
			ro = &rov1.Rollout{}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), ro); err != nil {
				return err
			}
		case "AnalysisTemplate":
			var at rov1.AnalysisTemplate
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &at); err != nil {
				return err
			}
			for _, m := range at.Spec.Metrics {
				if m.Provider.Prometheus == nil || m.Provider.Prometheus.Query == "" || m.Provider.Prometheus.Address == "" || m.SuccessCondition == "" {
					return fmt.Errorf("AnalysisTemplate %s metric %s: want a Prometheus query, address and successCondition", at.Name, m.Name)
				}
			}
			templates[at.Name] = &at
		case "Service":
			var s corev1.Service
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				return err
			}
			previews[s.Name] = true
		default:
			return fmt.Errorf("unexpected kind %q", meta.Kind)
		}
	}
	if ro == nil {
		return fmt.Errorf("no Rollout")
	}
	if ro.APIVersion != "argoproj.io/v1alpha1" || ro.Name == "" {
		return fmt.Errorf("Rollout: apiVersion %q, name %q", ro.APIVersion, ro.Name)
	}
	if w := ro.Spec.WorkloadRef; w == nil || w.Kind != "Deployment" || w.APIVersion != "apps/v1" || w.Name == "" {
		return fmt.Errorf("Rollout %s: workloadRef %+v, want a Deployment", ro.Name, w)
	}
	if ro.Spec.Selector == nil || len(ro.Spec.Selector.MatchLabels) == 0 {
		return fmt.Errorf("Rollout %s: no selector", ro.Name)
	}
	var refs []rov1.AnalysisTemplateRef
	switch s := ro.Spec.Strategy; {
	case s.Canary != nil && s.BlueGreen == nil:
		last := int32(0)
		for _, st := range s.Canary.Steps {
			if st.SetWeight != nil {
				if *st.SetWeight <= last || *st.SetWeight > 100 {
					return fmt.Errorf("Rollout %s: weight %d after %d", ro.Name, *st.SetWeight, last)
				}
				last = *st.SetWeight
			}
		}
		if last != 100 {
			return fmt.Errorf("Rollout %s: canary ends at %d%%, not 100%%", ro.Name, last)
		}
		if s.Canary.Analysis != nil {
			refs = s.Canary.Analysis.Templates
		}
	case s.BlueGreen != nil && s.Canary == nil:
		bg := s.BlueGreen
		if !kubeServices[bg.ActiveService] || !previews[bg.PreviewService] || bg.ActiveService == bg.PreviewService {
			return fmt.Errorf("Rollout %s: active %q must be a manifest Service and preview %q emitted beside it", ro.Name, bg.ActiveService, bg.PreviewService)
		}
		if bg.PrePromotionAnalysis != nil {
			refs = bg.PrePromotionAnalysis.Templates
		}
	default:
		return fmt.Errorf("Rollout %s: want exactly one of canary and blueGreen", ro.Name)
	}
	if len(refs) == 0 {
		return fmt.Errorf("Rollout %s: no analysis", ro.Name)
	}
	for _, r := range refs {
		if templates[r.TemplateName] == nil {
			return fmt.Errorf("Rollout %s: analysis template %q is not emitted beside it", ro.Name, r.TemplateName)
		}
	}
	return nil
}
