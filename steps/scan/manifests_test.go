package scan

import (
	"reflect"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

func TestParseYAML(t *testing.T) {
	src := `# a comment before the first document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {app: api}
spec:
  template:
    spec:
      serviceAccountName: api
      securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
      volumes:
        - {name: sock, hostPath: {path: /var/run/docker.sock}}
        - {name: creds, secret: {secretName: api-creds}}
      imagePullSecrets: [{name: registry-prod}]
      initContainers:
        - {name: migrate, image: "gcr.io/x/migrate@sha256:abc"}
      containers:
        - name: api
          image: registry:5000/shop/api
          command: [/api]
          args: [--debug]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {add: [NET_ADMIN], drop: [ALL]}
          env:
            - {name: A, value: "1"}
            - {name: B, valueFrom: {secretKeyRef: {name: b-secret, key: k}}}
          envFrom: [{secretRef: {name: env-secret}}]
          ports: [{name: pprof, containerPort: 6060}]
          resources: {limits: {cpu: 500m, memory: 1Gi}}

# trailing comment
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [10.0.0.0/8]
  ports: [{name: http, port: 80, nodePort: 30080}]
---
not: a manifest
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations: {kubernetes.io/ingress.class: nginx}
spec:
  tls: [{hosts: [a.example.com, b.example.com]}]
  rules: [{host: a.example.com}]
---
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: db}
spec:
  secretStoreRef: {name: vault}
  target: {name: db-secret}
  data: [{secretKey: password, remoteRef: {key: secret/prod/db}}]
  dataFrom: [{extract: {key: secret/prod/all}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          hostPID: true
          containers: [{name: b, image: "backup:latest", securityContext: {privileged: true}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {DEBUG: "true"}
binaryData: {blob: AAAA}
`
	objs, err := parseYAML("deploy/all.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parseYAML = %v", err)
	}
	if len(objs) != 6 {
		t.Fatalf("parseYAML found %d objects, want 6 (the mapping without apiVersion is not one)", len(objs))
	}
	d := objs[0].res
	if d.Line != 2 || d.EndLine != 32 || d.File != "deploy/all.yaml" || d.Namespace != "shop" || !d.Workload || d.ServiceAccount != "api" {
		t.Errorf("deployment = lines %d-%d, %+v", d.Line, d.EndLine, d)
	}
	wantVolumes := []rules.PolicyVolume{{Name: "sock", Type: "hostPath", Path: "/var/run/docker.sock"}, {Name: "creds", Type: "secret", Secret: "api-creds"}}
	if !reflect.DeepEqual(d.Volumes, wantVolumes) {
		t.Errorf("volumes = %+v", d.Volumes)
	}
	wantRefs := []rules.PolicySecretRef{
		{Name: "api-creds", Via: "volume"}, {Name: "registry-prod", Via: "imagePullSecret"},
		{Name: "b-secret", Key: "k", Via: "env", Container: "api"}, {Name: "env-secret", Via: "envFrom", Container: "api"},
	}
	if !reflect.DeepEqual(d.SecretRefs, wantRefs) {
		t.Errorf("secret refs = %+v", d.SecretRefs)
	}
	if len(d.Containers) != 2 {
		t.Fatalf("containers = %+v", d.Containers)
	}
	init, c := d.Containers[0], d.Containers[1]
	if !init.Init || !init.ImageDigest || init.Line != 18 || !init.AllowPrivilegeEscalation || !init.RunAsNonRoot || init.RunAsUser != 10001 {
		t.Errorf("init container = %+v", init)
	}
	if c.ImageTag != "" || c.ImageDigest || c.AllowPrivilegeEscalation || !c.RunAsNonRoot || c.Seccomp != "RuntimeDefault" || c.Line != 20 ||
		!reflect.DeepEqual(c.CapabilitiesAdd, []string{"NET_ADMIN"}) || !reflect.DeepEqual(c.Args, []string{"/api", "--debug"}) ||
		c.Limits["memory"] != "1Gi" || c.Limits["cpu"] != "500m" || len(c.Requests) != 0 || c.Ports[0].Port != 6060 ||
		!reflect.DeepEqual(c.Env, []rules.PolicyEnv{{Name: "A", Value: "1"}, {Name: "B", Secret: "b-secret"}}) {
		t.Errorf("container = %+v", c)
	}
	s := objs[1].res
	if s.ServiceType != "LoadBalancer" || !reflect.DeepEqual(s.SourceRanges, []string{"10.0.0.0/8"}) || s.Ports[0].NodePort != 30080 || s.Line != 36 || s.EndLine != 42 {
		t.Errorf("service = %+v", s)
	}
	i := objs[2].res
	if i.IngressClass != "nginx" || !reflect.DeepEqual(i.Hosts, []string{"a.example.com", "b.example.com"}) || !i.TLS {
		t.Errorf("ingress = %+v", i)
	}
	e := objs[3].res
	wantES := []rules.PolicySecretRef{
		{Name: "db-secret", Key: "password", Via: "externalSecret", Store: "vault", Path: "secret/prod/db"},
		{Name: "db-secret", Via: "externalSecret", Store: "vault", Path: "secret/prod/all"},
	}
	if !reflect.DeepEqual(e.SecretRefs, wantES) {
		t.Errorf("external secret refs = %+v", e.SecretRefs)
	}
	j := objs[4].res
	if !j.Workload || !j.HostPID || len(j.Containers) != 1 || !j.Containers[0].Privileged || j.Containers[0].ImageTag != "latest" || j.ServiceAccount != "default" {
		t.Errorf("cronjob = %+v", j)
	}
	m := objs[5].res
	if m.Data["DEBUG"] != "true" || !reflect.DeepEqual(m.DataKeys, []string{"DEBUG", "blob"}) {
		t.Errorf("configmap = %+v", m)
	}
}

// TestParseArgo: an Argo WorkflowTemplate's pod-running templates are read
// as containers named template/container, with the template's security
// context, so the policies check Rehearsal's own step templates.
func TestParseArgo(t *testing.T) {
	src := `apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: rehearsal-x}
spec:
  serviceAccountName: wf
  templates:
    - name: dag
      dag: {tasks: []}
    - name: step
      serviceAccountName: step-sa
      securityContext: {runAsNonRoot: true}
      volumes: [{name: tmp, emptyDir: {}}]
      container:
        image: ko://example.com/cmd/x
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
        resources: {limits: {cpu: "1", memory: 512Mi}}
        env: [{name: DEBUG, value: "false"}]
    - name: script
      script: {image: "python:3.12", source: "print(1)"}
`
	objs, err := parseYAML("wt.yaml", []byte(src))
	if err != nil || len(objs) != 1 {
		t.Fatalf("parseYAML = %v, %v", objs, err)
	}
	r := objs[0].res
	if !r.Workload || len(r.Containers) != 2 {
		t.Fatalf("workflow template = %+v", r)
	}
	c := r.Containers[0]
	if c.Name != "step" || !c.RunAsNonRoot || !c.ReadOnlyRootFilesystem || c.AllowPrivilegeEscalation || c.Limits["memory"] != "512Mi" || c.Line != 14 {
		t.Errorf("step container = %+v", c)
	}
	if sc := r.Containers[1]; sc.Name != "script" || sc.RunAsNonRoot || sc.ImageTag != "3.12" {
		t.Errorf("script container = %+v", sc)
	}
	if r.ServiceAccount != "step-sa" || len(r.Volumes) != 1 || r.Volumes[0].Type != "emptyDir" {
		t.Errorf("workflow template pod = sa %q, volumes %+v", r.ServiceAccount, r.Volumes)
	}
}

func TestImageTag(t *testing.T) {
	tests := []struct {
		image, tag string
		digest     bool
	}{
		{"nginx", "", false}, {"nginx:1.27", "1.27", false}, {"registry:5000/a/b", "", false}, {"registry:5000/a/b:v2", "v2", false},
		{"a/b@sha256:00", "", true}, {"a/b:v1@sha256:00", "v1", true}, {"ko://github.com/x/y", "", false},
	}
	for _, tt := range tests {
		tag, digest := imageTag(tt.image)
		if tag != tt.tag || digest != tt.digest {
			t.Errorf("imageTag(%q) = %q, %v; want %q, %v", tt.image, tag, digest, tt.tag, tt.digest)
		}
	}
}
