package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// Policy rule scopes. Resource rules (scope "", the default) look at one
// Kubernetes object and each one that fires is a finding; finding rules
// (scope "finding") decide, first match wins, whether a finding that no
// resource rule decided — every Trivy finding among them — is a blocker or
// an advisory, from its severity, the service's tier and the environment.
const (
	PolicyResourceScope = ""
	PolicyFindingScope  = "finding"
)

// Policy decisions.
const (
	DecisionBlocker  = "blocker"
	DecisionAdvisory = "advisory"
)

// Decisions are the decisions a policy rule may make.
var Decisions = []string{DecisionBlocker, DecisionAdvisory}

// PolicyEffect is what a policy rule says. A resource rule gives the
// finding's severity, why it matters and how to fix it, and may decide
// blocker or advisory itself; a finding rule only decides (and may say why).
type PolicyEffect struct {
	Severity string `yaml:"severity" json:"severity,omitempty"`
	Decision string `yaml:"decision" json:"decision,omitempty"`
	Why      string `yaml:"why" json:"why,omitempty"`
	Fix      string `yaml:"fix" json:"fix,omitempty"`
}

// PolicyResource is what policy rules see of one Kubernetes object (the CEL
// variables `resource` and `baseline`): facts read from the manifest, never
// judgements — the rules judge. Field names are the CEL names.
type PolicyResource struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	// File is relative to the scanned directory; Line and EndLine bound the
	// object's YAML document.
	File        string            `json:"file"`
	Line        int               `json:"line"`
	EndLine     int               `json:"endLine"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// Workload is set for objects that run pods (Pod, Deployment,
	// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob).
	Workload bool `json:"workload"`
	// ServiceAccount is the pod's service account ("default" when unset).
	ServiceAccount string             `json:"serviceAccount"`
	HostNetwork    bool               `json:"hostNetwork"`
	HostPID        bool               `json:"hostPID"`
	HostIPC        bool               `json:"hostIPC"`
	Volumes        []PolicyVolume     `json:"volumes"`
	Containers     []PolicyContainer  `json:"containers"` // init containers included (init: true)
	SecretRefs     []PolicySecretRef  `json:"secretRefs"`
	ServiceType    string             `json:"serviceType"` // Service: ClusterIP | NodePort | LoadBalancer | ExternalName
	Ports          []PolicyPort       `json:"ports"`       // Service ports
	SourceRanges   []string           `json:"sourceRanges"`
	ExternalIPs    []string           `json:"externalIPs"`
	IngressClass   string             `json:"ingressClass"` // Ingress class or Gateway class
	Hosts          []string           `json:"hosts"`        // Ingress rule hosts, Gateway listener and route hostnames
	TLS            bool               `json:"tls"`
	Data           map[string]string  `json:"data"`     // ConfigMap data (never a Secret's)
	DataKeys       []string           `json:"dataKeys"` // Secret and ConfigMap keys
	SecretType     string             `json:"secretType"`
	Baseline       PolicyBaselineInfo `json:"baselineInfo"`
}

// PolicyBaselineInfo says whether a baseline was given and holds this object.
type PolicyBaselineInfo struct {
	Given   bool `json:"given"`
	Present bool `json:"present"`
}

// PolicyContainer is one container of a workload, with its effective
// security settings (pod-level settings applied, Kubernetes defaults filled).
type PolicyContainer struct {
	Name        string `json:"name"`
	Init        bool   `json:"init"`
	Line        int    `json:"line"`
	Image       string `json:"image"`
	ImageTag    string `json:"imageTag"`    // "" when the image names no tag
	ImageDigest bool   `json:"imageDigest"` // pinned by @sha256:…
	Privileged  bool   `json:"privileged"`
	// AllowPrivilegeEscalation is true unless set to false (the default).
	AllowPrivilegeEscalation bool              `json:"allowPrivilegeEscalation"`
	RunAsNonRoot             bool              `json:"runAsNonRoot"`
	RunAsUser                int               `json:"runAsUser"` // -1 when unset
	ReadOnlyRootFilesystem   bool              `json:"readOnlyRootFilesystem"`
	CapabilitiesAdd          []string          `json:"capabilitiesAdd"`
	CapabilitiesDrop         []string          `json:"capabilitiesDrop"`
	Seccomp                  string            `json:"seccomp"` // RuntimeDefault | Localhost | Unconfined | ""
	Env                      []PolicyEnv       `json:"env"`
	Args                     []string          `json:"args"` // command and args
	Ports                    []PolicyPort      `json:"ports"`
	Limits                   map[string]string `json:"limits"`
	Requests                 map[string]string `json:"requests"`
}

// PolicyEnv is one environment variable of a container. Value is the
// literal value (empty when it comes from a reference).
type PolicyEnv struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Secret    string `json:"secret"`    // secretKeyRef name
	ConfigMap string `json:"configMap"` // configMapKeyRef name
}

// PolicyPort is a container or Service port.
type PolicyPort struct {
	Name     string `json:"name"`
	Port     int    `json:"port"` // containerPort, or the Service port
	HostPort int    `json:"hostPort"`
	NodePort int    `json:"nodePort"`
	Protocol string `json:"protocol"`
}

// PolicyVolume is one pod volume.
type PolicyVolume struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // hostPath | secret | configMap | emptyDir | persistentVolumeClaim | projected | csi | other
	Path   string `json:"path"` // hostPath path
	Secret string `json:"secret"`
}

// PolicySecretRef is a reference from an object to secret material: a Secret
// a pod uses, or the remote key an ExternalSecret reads.
type PolicySecretRef struct {
	Name      string `json:"name"` // the Kubernetes Secret
	Key       string `json:"key"`
	Via       string `json:"via"` // env | envFrom | volume | imagePullSecret | externalSecret
	Container string `json:"container"`
	Store     string `json:"store"` // ExternalSecret: secret store name
	Path      string `json:"path"`  // ExternalSecret: remote key or path
}

// PolicyTarget is where the release goes (the CEL variable `target`): the
// catalog service that owns the file, and the environment.
type PolicyTarget struct {
	Service     string   `json:"service"`
	Tier        string   `json:"tier"`
	Owners      []string `json:"owners"`
	Environment string   `json:"environment"`
	// ProdSecretPatterns are regular expressions naming production secret
	// material (Secret names, keys, external-secret stores and paths).
	ProdSecretPatterns []string `json:"prodSecretPatterns"`
}

// PolicyFinding is what finding rules see of one finding (the CEL variable
// `finding`).
type PolicyFinding struct {
	Source   string   `json:"source"` // trivy-misconfig | trivy-secret | trivy-vuln | policy | scan
	Rule     string   `json:"rule"`   // check id, secret rule id or policy rule id
	Aliases  []string `json:"aliases"`
	Severity string   `json:"severity"`
	Title    string   `json:"title"`
	// Type is what was scanned: kubernetes | helm | terraform | dockerfile |
	// secret | lockfile | policy | scan.
	Type         string `json:"type"`
	Category     string `json:"category"` // secret category (e.g. AWS) or cloud service (e.g. s3)
	File         string `json:"file"`
	ResourceKind string `json:"resourceKind"`
	ResourceName string `json:"resourceName"`
	Namespace    string `json:"namespace"`
	// New is set when a baseline was given and the finding is not in it.
	New bool `json:"new"`
}

// policyKind declares policy rule files.
var policyKind = kindSpec{
	Scopes: []string{PolicyResourceScope, PolicyFindingScope},
	Vars: map[string][]string{
		PolicyResourceScope: {"change", "resource", "baseline", "target"},
		PolicyFindingScope:  {"change", "finding", "target"},
	},
	Types: map[string]reflect.Type{
		"resource": reflect.TypeOf(PolicyResource{}),
		"baseline": reflect.TypeOf(PolicyResource{}),
		"target":   reflect.TypeOf(PolicyTarget{}),
		"finding":  reflect.TypeOf(PolicyFinding{}),
	},
	decode: decodePolicy,
	test:   testPolicy,
}

func decodePolicy(scope string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	keys := []string{"severity", "decision", "why", "fix", "message"}
	what := "policy resource rules"
	if scope == PolicyFindingScope {
		keys = []string{"decision", "why", "message"}
		what = "policy finding rules"
	}
	if !allowedKeys(file, n, at, l, what, keys...) {
		return e
	}
	p := &PolicyEffect{}
	e.Policy = p
	decodeInto(file, n, &struct {
		Severity *string `yaml:"severity"`
		Decision *string `yaml:"decision"`
		Why      *string `yaml:"why"`
		Fix      *string `yaml:"fix"`
		Message  *string `yaml:"message"`
	}{&p.Severity, &p.Decision, &p.Why, &p.Fix, &e.Message}, at, l)
	add := func(key, format string, args ...any) {
		pos := at(yamlsrc.Get(n, key))
		l.Add(file, pos.Line, pos.Col, format, args...)
	}
	if p.Decision != "" && !slices.Contains(Decisions, p.Decision) {
		add("decision", "decision %q is not one of %q", p.Decision, Decisions)
	}
	if scope == PolicyFindingScope {
		if p.Decision == "" {
			add("decision", "a finding rule decides: give decision (%s)", strings.Join(Decisions, " or "))
		}
		return e
	}
	if workspace.SeverityRank(p.Severity) < 0 {
		add("severity", "severity %q is not one of %q", p.Severity, workspace.Severities)
	}
	for _, f := range []struct{ key, v string }{{"message", e.Message}, {"why", p.Why}, {"fix", p.Fix}} {
		if strings.TrimSpace(f.v) == "" {
			add(f.key, "a resource rule's finding needs %s: say what is wrong, why it matters and how to fix it", f.key)
		}
	}
	return e
}

// PolicyVerdict is what the policy rules made of one finding.
type PolicyVerdict struct {
	Blocker bool
	// By is the rule that decided (nil: no rule did, an advisory).
	By *Rule
}

// PolicyResourceRules evaluates the resource rules on one object and returns
// those that fire, in rule order: each is a finding.
func (s *Set) PolicyResourceRules(c *workspace.Change, res, baseline *PolicyResource, target *PolicyTarget) ([]*Rule, error) {
	vars := map[string]any{"change": c, "resource": res, "baseline": baseline, "target": target}
	var out []*Rule
	for _, r := range s.Rules(Policy, PolicyResourceScope) {
		ok, err := r.Eval(vars)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// DecideFinding decides whether a finding blocks the release. A finding from
// a resource rule whose effect decides (by) keeps that decision; any other
// goes to the finding rules, where the first rule whose `when` holds decides.
// When none does, the finding is an advisory.
func (s *Set) DecideFinding(c *workspace.Change, f *PolicyFinding, target *PolicyTarget, by *Rule) (PolicyVerdict, error) {
	if by != nil && by.Effect.Policy != nil && by.Effect.Policy.Decision != "" {
		return PolicyVerdict{Blocker: by.Effect.Policy.Decision == DecisionBlocker, By: by}, nil
	}
	vars := map[string]any{"change": c, "finding": f, "target": target}
	for _, r := range s.Rules(Policy, PolicyFindingScope) {
		ok, err := r.Eval(vars)
		if err != nil {
			return PolicyVerdict{}, err
		}
		if ok {
			return PolicyVerdict{Blocker: r.Effect.Policy.Decision == DecisionBlocker, By: r}, nil
		}
	}
	return PolicyVerdict{}, nil
}

// PolicyFindingOf is the finding a resource rule makes of an object.
func PolicyFindingOf(r *Rule, res *PolicyResource) PolicyFinding {
	return PolicyFinding{
		Source: workspace.SourcePolicy, Rule: r.ID, Severity: r.Effect.Policy.Severity, Title: message(r),
		Type: "policy", File: res.File, ResourceKind: res.Kind, ResourceName: res.Name, Namespace: res.Namespace,
	}
}

// testPolicy runs a policy test case. A case with a finding runs the finding
// rules on it; any other runs the resource rules on its resource and decides
// each resulting finding. Values: blocker ("true" when any finding blocks),
// severity (the highest), and each resource rule's id with its decision.
func testPolicy(s *Set, vars map[string]any) ([]workspace.Fired, map[string]string, error) {
	c := vars["change"].(*workspace.Change)
	target := vars["target"].(*PolicyTarget)
	values := map[string]string{"blocker": "false"}
	var fired []workspace.Fired
	seen := map[string]bool{}
	fire := func(r *Rule) {
		if r != nil && !seen[r.ID] {
			seen[r.ID] = true
			fired = append(fired, workspace.Fired{ID: r.ID, Message: message(r)})
		}
	}
	if f, ok := vars["finding"].(*PolicyFinding); ok {
		v, err := s.DecideFinding(c, f, target, nil)
		if err != nil {
			return nil, nil, err
		}
		fire(v.By)
		values["blocker"] = fmt.Sprint(v.Blocker)
		values["decision"] = decisionName(v.Blocker)
		return fired, values, nil
	}
	res := vars["resource"].(*PolicyResource)
	base := vars["baseline"].(*PolicyResource)
	hits, err := s.PolicyResourceRules(c, res, base, target)
	if err != nil {
		return nil, nil, err
	}
	top := -1
	for _, r := range hits {
		fire(r)
		f := PolicyFindingOf(r, res)
		v, err := s.DecideFinding(c, &f, target, r)
		if err != nil {
			return nil, nil, err
		}
		if v.By != r {
			fire(v.By)
		}
		values[r.ID] = decisionName(v.Blocker)
		if v.Blocker {
			values["blocker"] = "true"
		}
		top = max(top, workspace.SeverityRank(f.Severity))
	}
	if top >= 0 {
		values["severity"] = workspace.Severities[top]
	}
	return fired, values, nil
}

func decisionName(blocker bool) string {
	if blocker {
		return DecisionBlocker
	}
	return DecisionAdvisory
}
