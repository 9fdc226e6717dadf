package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/rehearsal-dev/rehearsal/internal/diag"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/internal/yamlsrc"
)

// Environment template parameters. Every template declares each of them with
// its allowed values and default; a request may give no other.
const (
	EnvParamTTL  = "ttl"  // how long the environment lives (a duration)
	EnvParamSize = "size" // which of the template's sizes (quota and limits)
	EnvParamData = "data" // masked, synthetic or none
)

// EnvParams are the parameters every template declares, in order.
var EnvParams = []string{EnvParamData, EnvParamSize, EnvParamTTL}

// Dataset choices of the data parameter.
const (
	EnvDataMasked    = "masked"    // masked from the source database
	EnvDataSynthetic = "synthetic" // generated from the schema, no source read
	EnvDataNone      = "none"
)

// EnvDataChoices are the values the data parameter may allow.
var EnvDataChoices = []string{EnvDataMasked, EnvDataNone, EnvDataSynthetic}

// PodSecurityLevels are the Pod Security Standards a template may enforce.
var PodSecurityLevels = []string{"baseline", "privileged", "restricted"}

// EnvRequest is what env rules see of a request for an environment (the CEL
// variable `request`): the template asked for, the branch, who asks, and the
// parameters as given (before defaults).
type EnvRequest struct {
	Template   string            `json:"template"`
	Branch     string            `json:"branch"`
	Owner      string            `json:"owner"`
	Parameters map[string]string `json:"parameters"`
}

// EnvTemplate is an approved environment template: what a namespace built
// from it holds. Only its parameters vary between environments.
type EnvTemplate struct {
	Name string `yaml:"name" json:"name"`
	// Parameters declares ttl, size and data: allowed values and default.
	Parameters map[string]EnvParameter `yaml:"parameters" json:"parameters"`
	// Sizes gives, for each allowed size, the namespace's ResourceQuota and
	// LimitRange.
	Sizes map[string]EnvSize `yaml:"sizes" json:"sizes"`
	// PodSecurity is the Pod Security Standard enforced on the namespace.
	PodSecurity string `yaml:"podSecurity" json:"podSecurity"`
	// Network is what the namespace's NetworkPolicy allows; everything else
	// is denied, both ways.
	Network EnvNetwork `yaml:"network" json:"network"`
	// ServiceAccounts are created in the namespace without token automount.
	ServiceAccounts []string `yaml:"serviceAccounts" json:"serviceAccounts,omitempty"`
	// Readiness is the deadline for the workloads to become ready.
	Readiness string `yaml:"readiness" json:"readiness"`
}

// EnvParameter is one parameter's allowed values and default.
type EnvParameter struct {
	Default string   `yaml:"default" json:"default"`
	Allowed []string `yaml:"allowed" json:"allowed"`
}

// EnvSize is one size: ResourceQuota hard limits and LimitRange container
// defaults (resource name → quantity).
type EnvSize struct {
	Quota          map[string]string `yaml:"quota" json:"quota"`
	Default        map[string]string `yaml:"default" json:"default,omitempty"`
	DefaultRequest map[string]string `yaml:"defaultRequest" json:"defaultRequest,omitempty"`
	Max            map[string]string `yaml:"max" json:"max,omitempty"`
}

// EnvNetwork lists the peers the NetworkPolicy admits.
type EnvNetwork struct {
	Ingress []EnvPeer `yaml:"ingress" json:"ingress,omitempty"`
	Egress  []EnvPeer `yaml:"egress" json:"egress,omitempty"`
}

// EnvPeer is one allowed peer: exactly one of SameNamespace, Namespace, CIDR,
// DNS (egress only: port 53 to kube-system) or Database (egress only: the
// dataset server's address), with optional TCP ports.
type EnvPeer struct {
	SameNamespace bool   `yaml:"sameNamespace" json:"sameNamespace,omitempty"`
	Namespace     string `yaml:"namespace" json:"namespace,omitempty"`
	CIDR          string `yaml:"cidr" json:"cidr,omitempty"`
	DNS           bool   `yaml:"dns" json:"dns,omitempty"`
	Database      bool   `yaml:"database" json:"database,omitempty"`
	Ports         []int  `yaml:"ports" json:"ports,omitempty"`
}

// envsKind declares env rule files: each rule offers one template, to the
// requests its `when` holds for.
var envsKind = kindSpec{
	Scopes: []string{""},
	Vars:   map[string][]string{"": {"change", "request"}},
	Types:  map[string]reflect.Type{"request": reflect.TypeOf(EnvRequest{})},
	decode: decodeEnvs,
	test:   testEnvs,
}

func decodeEnvs(_ string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, file string) Effect {
	var e Effect
	if !allowedKeys(file, n, at, l, "env rules", "template", "message") {
		return e
	}
	tn := yamlsrc.Get(n, "template")
	if tn == nil {
		p := at(n)
		l.Add(file, p.Line, p.Col, "an env rule offers a template: give template")
		return e
	}
	if mn := yamlsrc.Get(n, "message"); mn != nil {
		e.Message = mn.Value
	}
	t := &EnvTemplate{}
	var sub diag.List
	if err := tn.Decode(t); err != nil {
		p := at(tn)
		sub.Add(file, p.Line, p.Col, "template: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		*l = append(*l, sub...)
		return e
	}
	strictKeys(file, tn, at, l, "template", reflect.TypeOf(EnvTemplate{}))
	checkEnvTemplate(file, tn, at, l, t)
	e.Env = t
	return e
}

// strictKeys reports mapping keys of n (recursively, as deep as the Go type
// goes) that the type t does not have, each at its position.
func strictKeys(file string, n *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, what string, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n == nil:
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[name] = t.Field(i).Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				p := at(k)
				l.Add(file, p.Line, p.Col, "%s: unknown key %q (want one of %s)", what, k.Value, strings.Join(sortedKeys(fields), ", "))
				continue
			}
			strictKeys(file, n.Content[i+1], at, l, what+"."+k.Value, ft)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			strictKeys(file, n.Content[i+1], at, l, what+"."+n.Content[i].Value, t.Elem())
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			strictKeys(file, c, at, l, what+"[]", t.Elem())
		}
	}
}

// checkEnvTemplate reports every problem of a decoded template at the
// position of the value at fault.
func checkEnvTemplate(file string, tn *yaml.Node, at func(*yaml.Node) yamlsrc.Pos, l *diag.List, t *EnvTemplate) {
	add := func(node *yaml.Node, format string, args ...any) {
		if node == nil {
			node = tn
		}
		p := at(node)
		l.Add(file, p.Line, p.Col, format, args...)
	}
	get := func(path ...string) *yaml.Node {
		n := tn
		for _, k := range path {
			next := yamlsrc.Get(n, k)
			if next == nil {
				return n
			}
			n = next
		}
		return n
	}
	if !dnsLabel(t.Name) || len(t.Name) > 30 {
		add(get("name"), "template name %q must be a DNS label of at most 30 characters", t.Name)
	}
	for _, p := range EnvParams {
		if _, ok := t.Parameters[p]; !ok {
			add(get("parameters"), "template %s must declare parameter %s (allowed values and default)", t.Name, p)
		}
	}
	for _, name := range sortedKeys(t.Parameters) {
		p := t.Parameters[name]
		pn := get("parameters", name)
		if !slices.Contains(EnvParams, name) {
			add(pn, "unknown parameter %q (a template declares %s)", name, strings.Join(EnvParams, ", "))
			continue
		}
		if len(p.Allowed) == 0 {
			add(pn, "parameter %s allows no value", name)
		}
		if !slices.Contains(p.Allowed, p.Default) {
			add(get("parameters", name, "default"), "parameter %s: default %q is not one of its allowed values %q", name, p.Default, p.Allowed)
		}
		for i, v := range p.Allowed {
			vn := pn
			if an := yamlsrc.Get(pn, "allowed"); an != nil && i < len(an.Content) {
				vn = an.Content[i]
			}
			switch name {
			case EnvParamTTL:
				if d, err := time.ParseDuration(v); err != nil || d <= 0 {
					add(vn, "ttl %q is not a positive duration (e.g. 8h)", v)
				}
			case EnvParamData:
				if !slices.Contains(EnvDataChoices, v) {
					add(vn, "data %q is not one of %q", v, EnvDataChoices)
				}
			case EnvParamSize:
				if _, ok := t.Sizes[v]; !ok {
					add(vn, "size %q has no entry under sizes", v)
				}
			}
		}
	}
	for _, name := range sortedKeys(t.Sizes) {
		s := t.Sizes[name]
		if len(s.Quota) == 0 {
			add(get("sizes", name), "size %s needs a quota", name)
		}
		for _, part := range []struct {
			key string
			m   map[string]string
		}{{"quota", s.Quota}, {"default", s.Default}, {"defaultRequest", s.DefaultRequest}, {"max", s.Max}} {
			for _, k := range sortedKeys(part.m) {
				if _, err := resource.ParseQuantity(part.m[k]); err != nil {
					add(get("sizes", name, part.key, k), "size %s %s %s: %q is not a quantity", name, part.key, k, part.m[k])
				}
			}
		}
	}
	if !slices.Contains(PodSecurityLevels, t.PodSecurity) {
		add(get("podSecurity"), "podSecurity %q is not one of %q", t.PodSecurity, PodSecurityLevels)
	}
	if d, err := time.ParseDuration(t.Readiness); err != nil || d <= 0 {
		add(get("readiness"), "readiness %q is not a positive duration (the deadline for the workloads to be ready)", t.Readiness)
	}
	for _, sa := range t.ServiceAccounts {
		if !dnsLabel(sa) {
			add(get("serviceAccounts"), "service account %q is not a DNS label", sa)
		}
	}
	for _, dir := range []struct {
		key   string
		peers []EnvPeer
	}{{"ingress", t.Network.Ingress}, {"egress", t.Network.Egress}} {
		for i, p := range dir.peers {
			pn := get("network", dir.key)
			if i < len(pn.Content) {
				pn = pn.Content[i]
			}
			set := 0
			for _, b := range []bool{p.SameNamespace, p.Namespace != "", p.CIDR != "", p.DNS, p.Database} {
				if b {
					set++
				}
			}
			if set != 1 {
				add(pn, "network %s peer %d: give exactly one of sameNamespace, namespace, cidr, dns, database", dir.key, i+1)
			}
			if dir.key == "ingress" && (p.DNS || p.Database) {
				add(pn, "network ingress peer %d: dns and database are egress peers", i+1)
			}
			for _, port := range p.Ports {
				if port < 1 || port > 65535 {
					add(pn, "network %s peer %d: port %d is out of range", dir.key, i+1, port)
				}
			}
		}
	}
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// EnvDecision is a request resolved against the templates: the template, its
// parameters with defaults applied, and the rule that offered it.
type EnvDecision struct {
	Template   *EnvTemplate
	Parameters map[string]string
	Rule       *Rule
}

// TTL is the resolved ttl parameter.
func (d *EnvDecision) TTL() time.Duration {
	v, _ := time.ParseDuration(d.Parameters[EnvParamTTL])
	return v
}

// ReadinessDeadline is the template's readiness deadline.
func (d *EnvDecision) ReadinessDeadline() time.Duration {
	v, _ := time.ParseDuration(d.Template.Readiness)
	return v
}

// EnvRefusal is a request the templates do not allow: an unknown template, a
// template not offered to this request, or a parameter outside its allowed
// values. Param names the parameter at fault ("" otherwise).
type EnvRefusal struct {
	Template string
	Param    string
	Reason   string
}

func (e *EnvRefusal) Error() string { return e.Reason }

// EnvTemplates lists the templates of the env rules, by name.
func (s *Set) EnvTemplates() map[string]*Rule {
	out := map[string]*Rule{}
	for _, r := range s.Rules(Envs, "") {
		if r.Effect.Env != nil {
			out[r.Effect.Env.Name] = r
		}
	}
	return out
}

// ResolveEnv checks a request against the env rules: the template must be
// offered by a rule whose `when` holds for it, and every parameter must be
// one the template declares, with an allowed value. A refusal is an
// *EnvRefusal naming the template or parameter.
func (s *Set) ResolveEnv(c *workspace.Change, req *EnvRequest) (*EnvDecision, error) {
	if c == nil {
		c = &workspace.Change{}
	}
	templates := s.EnvTemplates()
	r, ok := templates[req.Template]
	if !ok {
		names := sortedKeys(templates)
		return nil, &EnvRefusal{Template: req.Template, Reason: fmt.Sprintf("unknown environment template %q (approved templates: %s)", req.Template, strings.Join(names, ", "))}
	}
	t := r.Effect.Env
	on, err := r.Eval(map[string]any{"change": c, "request": req})
	if err != nil {
		return nil, err
	}
	if !on {
		return nil, &EnvRefusal{Template: t.Name, Reason: fmt.Sprintf("template %s is not offered for this request (rule %s at %s: %s)", t.Name, r.ID, r.Pos(), r.Description)}
	}
	d := &EnvDecision{Template: t, Rule: r, Parameters: map[string]string{}}
	for _, name := range sortedKeys(req.Parameters) {
		if _, ok := t.Parameters[name]; !ok {
			return nil, &EnvRefusal{Template: t.Name, Param: name, Reason: fmt.Sprintf("parameter %s is not a parameter of template %s (it takes %s; rule %s at %s)", name, t.Name, strings.Join(EnvParams, ", "), r.ID, r.Pos())}
		}
	}
	for _, name := range EnvParams {
		p := t.Parameters[name]
		v, given := req.Parameters[name]
		if !given || v == "" {
			v = p.Default
		}
		if !slices.Contains(p.Allowed, v) {
			return nil, &EnvRefusal{Template: t.Name, Param: name, Reason: fmt.Sprintf("parameter %s: %q is not allowed by template %s (allowed: %s; rule %s at %s)", name, v, t.Name, strings.Join(p.Allowed, ", "), r.ID, r.Pos())}
		}
		d.Parameters[name] = v
	}
	return d, nil
}

// testEnvs runs an env test case: values are `template` (the resolved
// template, "" when refused), `refused` (the parameter named by a refusal,
// `template` for a template refusal, "" when accepted) and `param/<name>`
// for every resolved parameter.
func testEnvs(s *Set, vars map[string]any) ([]workspace.Fired, map[string]string, error) {
	c, _ := vars["change"].(*workspace.Change)
	req := vars["request"].(*EnvRequest)
	values := map[string]string{"template": "", "refused": ""}
	d, err := s.ResolveEnv(c, req)
	var ref *EnvRefusal
	switch {
	case err == nil:
	case asRefusal(err, &ref):
		values["refused"] = ref.Param
		if ref.Param == "" {
			values["refused"] = "template"
		}
		return nil, values, nil
	default:
		return nil, nil, err
	}
	values["template"] = d.Template.Name
	for k, v := range d.Parameters {
		values["param/"+k] = v
	}
	return []workspace.Fired{{ID: d.Rule.ID, Message: message(d.Rule)}}, values, nil
}

func asRefusal(err error, ref **EnvRefusal) bool {
	r, ok := err.(*EnvRefusal)
	if ok {
		*ref = r
	}
	return ok
}
