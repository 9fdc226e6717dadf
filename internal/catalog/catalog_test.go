package catalog

import (
	"strings"
	"testing"
)

const good = `groups:
  team-api: [alice, bob]
  team-orders: [carol]
services:
  - name: api
    owners: [team-api]
    tier: critical
    paths: ["services/api/**"]
    manifests: ["deploy/api/**"]
    dependsOn: [orders]
    database: api
  - name: orders
    owners: [team-orders]
    tier: standard
    paths: ["services/orders/**"]
`

func TestParseGood(t *testing.T) {
	c, err := Parse("services.yaml", []byte(good))
	if err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	tests := []struct {
		path string
		want string
	}{
		{"services/api/main.go", "api"},
		{"deploy/api/deployment.yaml", "api"},
		{"services/orders/x/y.go", "orders"},
		{"README.md", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(c.ServicesFor(tt.path), ","); got != tt.want {
			t.Errorf("ServicesFor(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := strings.Join(c.GroupsOf("bob"), ","); got != "team-api" {
		t.Errorf("GroupsOf(bob) = %q, want team-api", got)
	}
	c2, _ := Parse("other.yaml", []byte("# comment\n"+good))
	if c.Digest() != c2.Digest() {
		t.Errorf("a comment changed the catalog digest")
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown dependency", strings.Replace(good, "dependsOn: [orders]", "dependsOn: [billing]", 1),
			[]string{`services.yaml:10:17: service "api" depends on unknown service "billing"`}},
		{"overlapping ownership", strings.Replace(good, `paths: ["services/orders/**"]`, `paths: ["services/**"]`, 1),
			[]string{`services.yaml:15:13: service "orders": path "services/**" overlaps "services/api/**" owned by service "api"`}},
		{"bad tier and unknown group at once", strings.Replace(strings.Replace(good, "tier: standard", "tier: gold", 1), "owners: [team-orders]", "owners: [team-nobody]", 1),
			[]string{
				`services.yaml:13:14: service "orders": owner group "team-nobody" is not in groups`,
				`services.yaml:14:11: service "orders": tier "gold" is not one of critical, high, standard, low`,
			}},
		{"unknown key", strings.Replace(good, "database: api", "databse: api", 1),
			[]string{`services.yaml:11:5: field databse not found in type catalog.Service`}},
		{"bad traffic and flags", strings.Replace(good, "    database: api\n", "    database: api\n    traffic: huge\n    flags:\n      - {name: f, paths: [\"services/api/f/**\"]}\n      - {name: f, paths: []}\n      - {name: g, paths: [\"a/[\"]}\n", 1),
			[]string{
				`services.yaml:12:14: service "api": traffic "huge" is not one of high, normal, low`,
				`services.yaml:15:9: service "api": flag "f" is listed twice`,
				`services.yaml:15:9: service "api": flag "f" has no paths`,
				`services.yaml:16:27: service "api": flag "g": invalid glob "a/["`,
			}},
		{"duplicate service", good + "  - name: api\n    owners: [team-api]\n    tier: low\n    paths: [\"x/**\"]\n",
			[]string{`services.yaml:16:11: service "api" is listed twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("services.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse = nil, want errors")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse =\n%v\nwant a line\n%s", err, w)
				}
			}
		})
	}
}
