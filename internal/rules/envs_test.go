package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envTemplateBody is a valid template; tests break one line of it.
const envTemplateBody = `- id: env.t
  description: d
  when: request.owner != ''
  effect:
    template:
      name: t
      parameters:
        ttl: {default: 8h, allowed: [1h, 8h]}
        size: {default: small, allowed: [small]}
        data: {default: none, allowed: [none, masked]}
      sizes:
        small:
          quota: {pods: "5"}
      podSecurity: restricted
      readiness: 1m
      network:
        egress: [{dns: true}]
`

func writeEnvs(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "envs.yaml"), []byte("apiVersion: rehearsal.dev/v1\nkind: envs\nrules:\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnvTemplateProblemsAreLocated(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"ttl not a duration", "allowed: [1h, 8h]", "allowed: [8h, soon]", `envs.yaml:11:42: ttl "soon" is not a positive duration`},
		{"default not allowed", "default: 8h", "default: 2h", `envs.yaml:11:24: parameter ttl: default "2h" is not one of its allowed values`},
		{"size without an entry", "allowed: [small]", "allowed: [small, huge]", `envs.yaml:12:49: size "huge" has no entry under sizes`},
		{"unknown data choice", "allowed: [none, masked]", "allowed: [none, copied]", `envs.yaml:13:47: data "copied" is not one of`},
		{"missing parameter", "        data: {default: none, allowed: [none, masked]}\n", "", "must declare parameter data"},
		{"unknown parameter", "        data: {default: none, allowed: [none, masked]}\n", "        data: {default: none, allowed: [none]}\n        replicas: {default: '1', allowed: ['1']}\n", `unknown parameter "replicas"`},
		{"bad quantity", `quota: {pods: "5"}`, `quota: {pods: "five"}`, `envs.yaml:16:25: size small quota pods: "five" is not a quantity`},
		{"unknown key", "podSecurity: restricted", "podSecurity: restricted\n      hostNetwork: true", `envs.yaml:18:7: template: unknown key "hostNetwork"`},
		{"pod security level", "podSecurity: restricted", "podSecurity: open", `podSecurity "open" is not one of`},
		{"readiness", "readiness: 1m", "readiness: never", `readiness "never" is not a positive duration`},
		{"peer with two kinds", "egress: [{dns: true}]", "egress: [{dns: true, cidr: 10.0.0.0/8}]", "give exactly one of sameNamespace, namespace, cidr, dns, database"},
		{"dns ingress", "egress: [{dns: true}]", "ingress: [{dns: true}]", "dns and database are egress peers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(envTemplateBody, tc.old, tc.new, 1)
			if body == envTemplateBody {
				t.Fatalf("test does not change the template (%q not found)", tc.old)
			}
			_, err := Load(writeEnvs(t, body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
	// Every problem at once, not the first.
	body := strings.NewReplacer("default: 8h", "default: 2h", "readiness: 1m", "readiness: never").Replace(envTemplateBody)
	_, err := Load(writeEnvs(t, body))
	if err == nil || !strings.Contains(err.Error(), "default \"2h\"") || !strings.Contains(err.Error(), "readiness \"never\"") {
		t.Errorf("Load = %v, want both problems", err)
	}
}

func TestResolveEnv(t *testing.T) {
	s, err := Load(writeEnvs(t, envTemplateBody))
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.ResolveEnv(nil, &EnvRequest{Template: "t", Owner: "alice", Parameters: map[string]string{"data": "masked"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.TTL().Hours() != 8 || d.Parameters["data"] != "masked" || d.Parameters["size"] != "small" || d.ReadinessDeadline().Minutes() != 1 {
		t.Errorf("resolved %v (ttl %s)", d.Parameters, d.TTL())
	}
	for _, tc := range []struct {
		req         EnvRequest
		param, want string
	}{
		{EnvRequest{Template: "x", Owner: "alice"}, "", `unknown environment template "x" (approved templates: t)`},
		{EnvRequest{Template: "t"}, "", "template t is not offered for this request (rule env.t at "},
		{EnvRequest{Template: "t", Owner: "a", Parameters: map[string]string{"ttl": "72h"}}, "ttl", `parameter ttl: "72h" is not allowed by template t (allowed: 1h, 8h; rule env.t at `},
		{EnvRequest{Template: "t", Owner: "a", Parameters: map[string]string{"cpu": "9"}}, "cpu", "parameter cpu is not a parameter of template t"},
	} {
		_, err := s.ResolveEnv(nil, &tc.req)
		var ref *EnvRefusal
		if !errors.As(err, &ref) || ref.Param != tc.param || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ResolveEnv(%+v) = %v, want a refusal of %q containing %q", tc.req, err, tc.param, tc.want)
		}
	}
}
