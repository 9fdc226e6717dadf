package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

// object is one Kubernetes object read from a manifest or a rendered chart.
type object struct {
	res  rules.PolicyResource
	node *yaml.Node
}

// key identifies an object across the release and its baseline.
func (o *object) key() string {
	return o.res.Kind + "/" + o.res.Namespace + "/" + o.res.Name
}

// syntaxError is a file that does not parse, at the place the parser stopped.
type syntaxError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

var yamlErrRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parseYAML reads every document of a YAML (or JSON) file and returns the
// Kubernetes objects among them (documents with apiVersion, kind and
// metadata, as Trivy takes them). A file that does not parse is a
// syntaxError; an object whose fields have the wrong types is one too, at the
// object.
func parseYAML(file string, data []byte) ([]*object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	seps := separators(data)
	var out []*object
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlErrRe.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			return nil, &syntaxError{File: file, Line: line, Col: 1, Msg: "YAML does not parse: " + msg}
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		if str(root, "apiVersion") == "" || str(root, "kind") == "" || get(root, "metadata") == nil {
			continue
		}
		o, err := readObject(file, root)
		if err != nil {
			return nil, &syntaxError{File: file, Line: root.Line, Col: root.Column,
				Msg: fmt.Sprintf("%s %q is not valid: %v", str(root, "kind"), str(get(root, "metadata"), "name"), err)}
		}
		o.res.EndLine = endOf(data, seps, root.Line)
		out = append(out, o)
	}
}

// separators returns the 1-based lines that start a new YAML document.
func separators(data []byte) []int {
	var out []int
	for i, l := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("---")) || bytes.Equal(bytes.TrimRight(l, "\r"), []byte("...")) {
			out = append(out, i+1)
		}
	}
	return out
}

// endOf is the last line of the document starting at line start: the line
// before the next separator (or the end of the file), trailing blank and
// comment lines left out.
func endOf(data []byte, seps []int, start int) int {
	lines := strings.Split(string(data), "\n")
	end := len(lines)
	for _, s := range seps {
		if s > start {
			end = s - 1
			break
		}
	}
	for end > start {
		t := strings.TrimSpace(lines[end-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		end--
	}
	return end
}

// podPaths says where each workload kind keeps its pod template spec.
var podPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// argoKinds are Argo Workflows objects: their templates run as pods.
var argoKinds = map[string][]string{
	"Workflow":         {"spec"},
	"WorkflowTemplate": {"spec"},
	"CronWorkflow":     {"spec", "workflowSpec"},
}

func readObject(file string, root *yaml.Node) (*object, error) {
	meta := get(root, "metadata")
	r := rules.PolicyResource{
		Kind: str(root, "kind"), APIVersion: str(root, "apiVersion"), Name: str(meta, "name"), Namespace: str(meta, "namespace"),
		File: file, Line: root.Line,
		Labels: strMap(get(meta, "labels")), Annotations: strMap(get(meta, "annotations")),
		Volumes: []rules.PolicyVolume{}, Containers: []rules.PolicyContainer{}, SecretRefs: []rules.PolicySecretRef{},
		Ports: []rules.PolicyPort{}, SourceRanges: []string{}, ExternalIPs: []string{}, Hosts: []string{},
		Data: map[string]string{}, DataKeys: []string{},
	}
	o := &object{res: r, node: root}
	var err error
	switch k := r.Kind; {
	case podPaths[k] != nil:
		err = o.readPod(getPath(root, podPaths[k]...), "")
	case argoKinds[k] != nil:
		err = o.readArgo(getPath(root, argoKinds[k]...))
	case k == "Service":
		err = o.readService(get(root, "spec"))
	case k == "Ingress":
		o.readIngress(get(root, "spec"))
	case k == "Gateway":
		spec := get(root, "spec")
		o.res.IngressClass = str(spec, "gatewayClassName")
		for _, l := range items(get(spec, "listeners")) {
			if h := str(l, "hostname"); h != "" {
				o.res.Hosts = append(o.res.Hosts, h)
			}
			if get(l, "tls") != nil {
				o.res.TLS = true
			}
		}
	case k == "HTTPRoute" || k == "GRPCRoute" || k == "TLSRoute":
		o.res.Hosts = append(o.res.Hosts, strList(get(get(root, "spec"), "hostnames"))...)
	case k == "ConfigMap":
		o.res.Data = strMap(get(root, "data"))
		o.res.DataKeys = sortedKeys(o.res.Data, get(root, "binaryData"))
	case k == "Secret":
		o.res.SecretType = str(root, "type")
		o.res.DataKeys = sortedKeys(nil, get(root, "data"), get(root, "stringData"))
	case k == "ExternalSecret":
		o.readExternalSecret(get(root, "spec"))
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// readPod reads a pod spec into the object; prefix names containers (for
// Argo templates, the template's name).
func (o *object) readPod(n *yaml.Node, prefix string) error {
	if n == nil {
		return nil
	}
	var spec corev1.PodSpec
	if err := decodeNode(n, &spec); err != nil {
		return err
	}
	o.res.Workload = true
	o.addPodSpec(&spec, n, prefix)
	return nil
}

func (o *object) addPodSpec(spec *corev1.PodSpec, n *yaml.Node, prefix string) {
	r := &o.res
	if spec.ServiceAccountName != "" {
		r.ServiceAccount = spec.ServiceAccountName
	} else if spec.DeprecatedServiceAccount != "" {
		r.ServiceAccount = spec.DeprecatedServiceAccount
	} else if r.ServiceAccount == "" {
		r.ServiceAccount = "default"
	}
	r.HostNetwork = r.HostNetwork || spec.HostNetwork
	r.HostPID = r.HostPID || spec.HostPID
	r.HostIPC = r.HostIPC || spec.HostIPC
	for _, v := range spec.Volumes {
		pv := rules.PolicyVolume{Name: v.Name, Type: "other"}
		switch {
		case v.HostPath != nil:
			pv.Type, pv.Path = "hostPath", v.HostPath.Path
		case v.Secret != nil:
			pv.Type, pv.Secret = "secret", v.Secret.SecretName
			r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: v.Secret.SecretName, Via: "volume"})
		case v.ConfigMap != nil:
			pv.Type = "configMap"
		case v.EmptyDir != nil:
			pv.Type = "emptyDir"
		case v.PersistentVolumeClaim != nil:
			pv.Type = "persistentVolumeClaim"
		case v.Projected != nil:
			pv.Type = "projected"
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: s.Secret.Name, Via: "volume"})
				}
			}
		case v.CSI != nil:
			pv.Type = "csi"
		}
		r.Volumes = append(r.Volumes, pv)
	}
	for _, s := range spec.ImagePullSecrets {
		r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: s.Name, Via: "imagePullSecret"})
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	add := func(cs []corev1.Container, key string, init bool) {
		nodes := items(get(n, key))
		for i, c := range cs {
			line := n.Line
			if i < len(nodes) {
				line = nodes[i].Line
			}
			name := c.Name
			if prefix != "" {
				name = prefix + "/" + c.Name
				if c.Name == "" {
					name = prefix
				}
			}
			r.Containers = append(r.Containers, container(c, pod, name, line, init))
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: e.ValueFrom.SecretKeyRef.Name,
						Key: e.ValueFrom.SecretKeyRef.Key, Via: "env", Container: name})
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: e.SecretRef.Name, Via: "envFrom", Container: name})
				}
			}
		}
	}
	add(spec.InitContainers, "initContainers", true)
	add(spec.Containers, "containers", false)
}

// container reads one container's effective settings.
func container(c corev1.Container, pod *corev1.PodSecurityContext, name string, line int, init bool) rules.PolicyContainer {
	pc := rules.PolicyContainer{
		Name: name, Init: init, Line: line, Image: c.Image, RunAsUser: -1, AllowPrivilegeEscalation: true,
		CapabilitiesAdd: []string{}, CapabilitiesDrop: []string{}, Env: []rules.PolicyEnv{}, Args: []string{},
		Ports: []rules.PolicyPort{}, Limits: map[string]string{}, Requests: map[string]string{},
	}
	pc.ImageTag, pc.ImageDigest = imageTag(c.Image)
	if pod.RunAsNonRoot != nil {
		pc.RunAsNonRoot = *pod.RunAsNonRoot
	}
	if pod.RunAsUser != nil {
		pc.RunAsUser = int(*pod.RunAsUser)
	}
	if pod.SeccompProfile != nil {
		pc.Seccomp = string(pod.SeccompProfile.Type)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil {
			pc.Privileged = *sc.Privileged
		}
		if sc.AllowPrivilegeEscalation != nil {
			pc.AllowPrivilegeEscalation = *sc.AllowPrivilegeEscalation
		}
		if sc.RunAsNonRoot != nil {
			pc.RunAsNonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			pc.RunAsUser = int(*sc.RunAsUser)
		}
		if sc.ReadOnlyRootFilesystem != nil {
			pc.ReadOnlyRootFilesystem = *sc.ReadOnlyRootFilesystem
		}
		if sc.SeccompProfile != nil {
			pc.Seccomp = string(sc.SeccompProfile.Type)
		}
		if caps := sc.Capabilities; caps != nil {
			for _, k := range caps.Add {
				pc.CapabilitiesAdd = append(pc.CapabilitiesAdd, string(k))
			}
			for _, k := range caps.Drop {
				pc.CapabilitiesDrop = append(pc.CapabilitiesDrop, string(k))
			}
		}
	}
	if pc.Privileged {
		pc.AllowPrivilegeEscalation = true
	}
	for _, e := range c.Env {
		pe := rules.PolicyEnv{Name: e.Name, Value: e.Value}
		if f := e.ValueFrom; f != nil {
			if f.SecretKeyRef != nil {
				pe.Secret = f.SecretKeyRef.Name
			}
			if f.ConfigMapKeyRef != nil {
				pe.ConfigMap = f.ConfigMapKeyRef.Name
			}
		}
		pc.Env = append(pc.Env, pe)
	}
	pc.Args = append(append(pc.Args, c.Command...), c.Args...)
	for _, p := range c.Ports {
		pc.Ports = append(pc.Ports, rules.PolicyPort{Name: p.Name, Port: int(p.ContainerPort), HostPort: int(p.HostPort), Protocol: string(p.Protocol)})
	}
	for k, q := range c.Resources.Limits {
		pc.Limits[string(k)] = q.String()
	}
	for k, q := range c.Resources.Requests {
		pc.Requests[string(k)] = q.String()
	}
	return pc
}

// imageTag returns an image reference's tag ("" when it names none) and
// whether it is pinned by digest.
func imageTag(image string) (string, bool) {
	ref, _, pinned := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[colon+1:], pinned
	}
	return "", pinned
}

// argoTemplate is the part of an Argo template that runs a pod.
type argoTemplate struct {
	Name            string                     `json:"name"`
	Container       *corev1.Container          `json:"container"`
	Script          *corev1.Container          `json:"script"`
	InitContainers  []corev1.Container         `json:"initContainers"`
	Sidecars        []corev1.Container         `json:"sidecars"`
	Volumes         []corev1.Volume            `json:"volumes"`
	SecurityContext *corev1.PodSecurityContext `json:"securityContext"`
	ServiceAccount  string                     `json:"serviceAccountName"`
}

// readArgo reads the pod-running templates of an Argo Workflow,
// WorkflowTemplate or CronWorkflow: each container, script, init container
// and sidecar is a container named template/container.
func (o *object) readArgo(spec *yaml.Node) error {
	if spec == nil {
		return nil
	}
	var ws struct {
		ServiceAccount  string                     `json:"serviceAccountName"`
		Volumes         []corev1.Volume            `json:"volumes"`
		SecurityContext *corev1.PodSecurityContext `json:"securityContext"`
		HostNetwork     *bool                      `json:"hostNetwork"`
		Templates       []argoTemplate             `json:"templates"`
	}
	if err := decodeNode(spec, &ws); err != nil {
		return err
	}
	tnodes := items(get(spec, "templates"))
	top := corev1.PodSpec{ServiceAccountName: ws.ServiceAccount, Volumes: ws.Volumes, SecurityContext: ws.SecurityContext}
	if ws.HostNetwork != nil {
		top.HostNetwork = *ws.HostNetwork
	}
	o.addPodSpec(&top, spec, "")
	for i, t := range ws.Templates {
		var cs []corev1.Container
		for _, c := range []*corev1.Container{t.Container, t.Script} {
			if c != nil {
				cs = append(cs, *c)
			}
		}
		cs = append(cs, t.Sidecars...)
		if len(cs) == 0 && len(t.InitContainers) == 0 {
			continue
		}
		o.res.Workload = true
		sc := t.SecurityContext
		if sc == nil {
			sc = ws.SecurityContext
		}
		ps := corev1.PodSpec{ServiceAccountName: t.ServiceAccount, Volumes: t.Volumes, SecurityContext: sc,
			InitContainers: t.InitContainers, Containers: cs}
		n := spec
		if i < len(tnodes) {
			n = tnodes[i]
		}
		// Container positions: the template's container, script or sidecars.
		cn := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
		var seq []*yaml.Node
		for _, k := range []string{"container", "script"} {
			if x := get(n, k); x != nil {
				seq = append(seq, x)
			}
		}
		seq = append(seq, items(get(n, "sidecars"))...)
		cn.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: "containers"}, {Kind: yaml.SequenceNode, Content: seq},
			{Kind: yaml.ScalarNode, Value: "initContainers"}, get(n, "initContainers")}
		if cn.Content[3] == nil {
			cn.Content[3] = &yaml.Node{Kind: yaml.SequenceNode}
		}
		if ps.ServiceAccountName == "" {
			ps.ServiceAccountName = o.res.ServiceAccount
		}
		o.addPodSpec(&ps, cn, t.Name)
	}
	return nil
}

func (o *object) readService(spec *yaml.Node) error {
	var s corev1.ServiceSpec
	if spec != nil {
		if err := decodeNode(spec, &s); err != nil {
			return err
		}
	}
	r := &o.res
	r.ServiceType = string(s.Type)
	if r.ServiceType == "" {
		r.ServiceType = string(corev1.ServiceTypeClusterIP)
	}
	for _, p := range s.Ports {
		r.Ports = append(r.Ports, rules.PolicyPort{Name: p.Name, Port: int(p.Port), NodePort: int(p.NodePort), Protocol: string(p.Protocol)})
	}
	r.SourceRanges = append(r.SourceRanges, s.LoadBalancerSourceRanges...)
	r.ExternalIPs = append(r.ExternalIPs, s.ExternalIPs...)
	return nil
}

func (o *object) readIngress(spec *yaml.Node) {
	r := &o.res
	r.IngressClass = str(spec, "ingressClassName")
	if r.IngressClass == "" {
		r.IngressClass = r.Annotations["kubernetes.io/ingress.class"]
	}
	for _, rule := range items(get(spec, "rules")) {
		if h := str(rule, "host"); h != "" && !slices.Contains(r.Hosts, h) {
			r.Hosts = append(r.Hosts, h)
		}
	}
	for _, t := range items(get(spec, "tls")) {
		r.TLS = true
		for _, h := range strList(get(t, "hosts")) {
			if !slices.Contains(r.Hosts, h) {
				r.Hosts = append(r.Hosts, h)
			}
		}
	}
}

func (o *object) readExternalSecret(spec *yaml.Node) {
	r := &o.res
	store := str(get(spec, "secretStoreRef"), "name")
	target := str(get(spec, "target"), "name")
	if target == "" {
		target = r.Name
	}
	for _, d := range items(get(spec, "data")) {
		ref := get(d, "remoteRef")
		r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: target, Key: str(d, "secretKey"), Via: "externalSecret",
			Store: store, Path: str(ref, "key")})
	}
	for _, d := range items(get(spec, "dataFrom")) {
		p := str(get(d, "extract"), "key")
		if p == "" {
			p = str(get(get(d, "find"), "name"), "regexp")
		}
		r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: target, Via: "externalSecret", Store: store, Path: p})
	}
	if len(r.SecretRefs) == 0 && store != "" {
		r.SecretRefs = append(r.SecretRefs, rules.PolicySecretRef{Name: target, Via: "externalSecret", Store: store})
	}
}

// decodeNode decodes a YAML node into a Kubernetes type through JSON, as the
// API server would read it (unknown fields are left to Trivy and the server).
func decodeNode(n *yaml.Node, v any) error {
	var raw any
	if err := n.Decode(&raw); err != nil {
		return err
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind == yaml.AliasNode {
				return v.Alias
			}
			return v
		}
	}
	return nil
}

func getPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = get(n, k)
	}
	return n
}

func str(m *yaml.Node, key string) string {
	if v := get(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func strList(n *yaml.Node) []string {
	var out []string
	for _, x := range items(n) {
		if x.Kind == yaml.ScalarNode {
			out = append(out, x.Value)
		}
	}
	return out
}

func strMap(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
			out[n.Content[i].Value] = v.Value
		}
	}
	return out
}

func sortedKeys(m map[string]string, more ...*yaml.Node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for _, n := range more {
		for k := range strMap(n) {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}
