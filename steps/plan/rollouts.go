package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"strings"
	"sync"

	rov1 "github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Labels and annotations on every emitted object.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelService     = "rehearsal.dev/service"
	AnnotRule        = "rehearsal.dev/strategy-rule"
	AnnotThresholds  = "rehearsal.dev/thresholds-rule"
	AnnotRulesDigest = "rehearsal.dev/rules-digest"
	// DefaultPrometheus is where the AnalysisTemplates query Prometheus.
	DefaultPrometheus = "http://prometheus.monitoring.svc:9090"
)

func rolloutFile(service string) string { return workspace.RolloutsDir + "/" + service + ".yaml" }

// errorRateQuery is the share of 5xx responses of the new pods over 5 minutes.
func errorRateQuery(service string) string {
	return fmt.Sprintf(`sum(rate(http_requests_total{service="%s",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="%s"}[5m]))`, service, service)
}

// latencyQuery is the 95th percentile request latency in seconds over 5 minutes.
func latencyQuery(service string) string {
	return fmt.Sprintf(`histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{service="%s"}[5m])) by (le))`, service)
}

// num formats a float without exponent or trailing zeros.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func probe(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("HTTP GET %s on port %s", p.HTTPGet.Path, p.HTTPGet.Port.String())
	case p.TCPSocket != nil:
		return fmt.Sprintf("TCP connect on port %s", p.TCPSocket.Port.String())
	case p.GRPC != nil:
		return fmt.Sprintf("gRPC health on port %d", p.GRPC.Port)
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	}
	return "probe"
}

// Rollouts returns the Argo Rollouts manifests of the plan, by file name
// (rollouts/<service>.yaml): for each canary or blue-green service, a Rollout
// that takes over its Deployment by workloadRef, an AnalysisTemplate with the
// alert thresholds as Prometheus metrics, and for blue-green the preview
// Service. Rolling services keep their own workload and get no file.
func (d *Design) Rollouts(prometheus string) (map[string][]byte, error) {
	if prometheus == "" {
		prometheus = DefaultPrometheus
	}
	type result struct {
		data []byte
		err  error
	}
	results := make([]result, len(d.Plan.Services))
	var wg sync.WaitGroup
	workers := max(1, runtime.GOMAXPROCS(0))
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(d.Plan.Services); i += workers {
				ps := d.Plan.Services[i]
				if ps.Strategy == workspace.StrategyRolling {
					continue
				}
				results[i].data, results[i].err = d.rollout(ps, prometheus)
			}
		})
	}
	wg.Wait()
	out := map[string][]byte{}
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if r.data != nil {
			out[rolloutFile(d.Plan.Services[i].Name)] = r.data
		}
	}
	return out, nil
}

// rollout renders one service's rollouts file.
func (d *Design) rollout(ps workspace.PlannedService, prometheus string) ([]byte, error) {
	objs := d.objects(ps, prometheus)
	var b strings.Builder
	fmt.Fprintf(&b, "# Emitted by the Rehearsal deploy designer from plan.json for service %s\n# (strategy %s, rule %s). Do not edit: change the rules and plan again.\n", ps.Name, ps.Strategy, ps.StrategyRule)
	for i, o := range objs {
		y, err := marshalObject(o)
		if err != nil {
			return nil, fmt.Errorf("render rollout of %s: %w", ps.Name, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return []byte(b.String()), nil
}

// objects builds the Rollouts objects of one service.
func (d *Design) objects(ps workspace.PlannedService, prometheus string) []any {
	sd := d.services[ps.Name]
	labels := map[string]string{LabelManagedBy: "rehearsal", LabelService: ps.Name}
	analysis := ps.Name + "-analysis"
	at := &rov1.AnalysisTemplate{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "AnalysisTemplate"},
		ObjectMeta: metav1.ObjectMeta{Name: analysis, Labels: maps.Clone(labels),
			Annotations: map[string]string{AnnotThresholds: ps.Alerts[0].Rule, AnnotRulesDigest: d.Plan.RulesDigest}},
	}
	for _, a := range ps.Alerts {
		at.Spec.Metrics = append(at.Spec.Metrics, rov1.Metric{
			Name: a.Name, Interval: "1m", Count: ptr(intstr.FromInt32(5)), FailureLimit: ptr(intstr.FromInt32(1)),
			SuccessCondition: a.Condition,
			Provider:         rov1.MetricProvider{Prometheus: &rov1.PrometheusMetric{Address: prometheus, Query: a.Query}},
		})
	}
	replicas := int32(1)
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": ps.Name}}
	workload := ps.Name
	if w := sd.workload; w != nil {
		replicas, workload = int32(w.Replicas), w.Name
		if len(w.Selector) > 0 {
			selector = &metav1.LabelSelector{MatchLabels: maps.Clone(w.Selector)}
		}
	}
	ro := &rov1.Rollout{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout"},
		ObjectMeta: metav1.ObjectMeta{Name: ps.Name, Labels: maps.Clone(labels),
			Annotations: map[string]string{AnnotRule: ps.StrategyRule, AnnotRulesDigest: d.Plan.RulesDigest}},
		Spec: rov1.RolloutSpec{
			Replicas:                &replicas,
			Selector:                selector,
			WorkloadRef:             &rov1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: workload, ScaleDown: rov1.ScaleDownProgressively},
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
	refs := []rov1.AnalysisTemplateRef{{TemplateName: analysis}}
	objs := []any{ro, at}
	switch ps.Strategy {
	case workspace.StrategyCanary:
		c := &rov1.CanaryStrategy{Analysis: &rov1.RolloutAnalysisBackground{RolloutAnalysis: rov1.RolloutAnalysis{Templates: refs}, StartingStep: ptr(int32(1))}}
		for _, st := range ps.Canary {
			c.Steps = append(c.Steps, rov1.CanaryStep{SetWeight: ptr(int32(st.Weight))})
			if st.Pause != "" {
				c.Steps = append(c.Steps, rov1.CanaryStep{Pause: &rov1.RolloutPause{Duration: ptr(intstr.FromString(st.Pause))}})
			}
		}
		ro.Spec.Strategy.Canary = c
	case workspace.StrategyBlueGreen:
		active := ps.Name
		var preview *corev1.Service
		if ks := firstService(sd.kube); ks != nil {
			active = ks.Name
			preview = ks.Obj.DeepCopy()
		} else {
			preview = &corev1.Service{Spec: corev1.ServiceSpec{Selector: maps.Clone(selector.MatchLabels), Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		}
		preview.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
		preview.ObjectMeta = metav1.ObjectMeta{Name: active + "-preview", Labels: maps.Clone(labels)}
		preview.Spec.ClusterIP, preview.Spec.ClusterIPs = "", nil
		preview.Status = corev1.ServiceStatus{}
		ro.Spec.Strategy.BlueGreen = &rov1.BlueGreenStrategy{
			ActiveService: active, PreviewService: preview.Name,
			AutoPromotionEnabled:  ptr(true),
			PrePromotionAnalysis:  &rov1.RolloutAnalysis{Templates: refs},
			PostPromotionAnalysis: &rov1.RolloutAnalysis{Templates: refs},
			ScaleDownDelaySeconds: ptr(int32(30)),
		}
		objs = append(objs, preview)
	}
	return objs
}

// marshalObject encodes a Kubernetes object as YAML without status, null
// values and empty mappings (the Go types encode unset structs as {}).
// sigs.k8s.io/yaml sorts keys, so equal objects give equal bytes.
func marshalObject(o any) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	v, err := jsonToTree(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("encode %T: not an object", o)
	}
	delete(m, "status")
	prune(m)
	return encodeYAMLSized(m, len(b)+len(b)/4), nil
}

// prune removes null values and mappings left empty, depth first.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
