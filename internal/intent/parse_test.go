package intent

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var catalogServices = []string{"api", "orders"}

func it(env string, services, goals []string, rev string) workspace.Intent {
	if services == nil {
		services = []string{}
	}
	if goals == nil {
		goals = []string{}
	}
	return workspace.Intent{Environment: env, Services: services, Goals: goals, Revision: rev}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, request string
		want          workspace.Intent
		notes         []string // substrings, in order
	}{
		{"the issue's example", "prepare staging for the api release and verify it is safe to promote",
			it("staging", []string{"api"}, []string{"prepare", "verify", "promote"}, ""), nil},
		{"case and punctuation", "Prepare STAGING for API. Verify!",
			it("staging", []string{"api"}, []string{"prepare", "verify"}, ""), nil},
		{"possessive and aliases", "set up pre-prod with orders's v2.3.1 and make sure it works",
			it("preprod", []string{"orders"}, []string{"prepare", "verify"}, "v2.3.1"), nil},
		{"revision after a keyword", "verify api at commit 3f2a9c1d on qa",
			it("qa", []string{"api"}, []string{"verify"}, "3f2a9c1d"), nil},
		{"negation", "verify the orders release on uat but do not promote",
			it("uat", []string{"orders"}, []string{"verify"}, ""), []string{`negated in the request, not a goal: promote ("not" before "promote")`}},
		{"negated service", "prepare staging for everything except orders",
			it("staging", nil, []string{"prepare"}, ""), []string{`negated in the request, ignored: service orders ("except" before "orders")`}},
		{"test data is data, not a test", "refresh the test data for api in dev",
			it("dev", []string{"api"}, []string{"refresh-data"}, ""), nil},
		{"data refresh", "staging needs a data refresh for orders",
			it("staging", []string{"orders"}, []string{"refresh-data"}, ""), nil},
		{"scan only stands alone", "just scan api on staging, then promote",
			it("staging", []string{"api"}, []string{"scan-only"}, ""), []string{"the request asks to scan only; other goals ignored: promote"}},
		{"release to production is a promotion", "release api to production from staging",
			it("staging", []string{"api"}, []string{"promote"}, ""), nil},
		{"all services", "prepare qa for all services",
			it("qa", []string{"api", "orders"}, []string{"prepare"}, ""), []string{"the request names all services"}},
		{"several environments", "copy staging data to qa and verify",
			it("staging", nil, []string{"verify", "refresh-data"}, ""), []string{"several environments (staging, qa); using the first, staging"}},
		{"unknown service name", "prepare staging for the billing release",
			it("staging", nil, []string{"prepare"}, ""), []string{`"billing" looks like a service name but is not a service in the catalog (services: api, orders); ignored`}},
		{"no goal", "api on staging",
			it("staging", []string{"api"}, nil, ""), []string{"no goal found in the request (goals: prepare, verify, promote, refresh-data, scan-only)"}},
		{"production is not an environment", "promote api to prod",
			it("", []string{"api"}, []string{"promote"}, ""), nil},
		{"a secret-looking revision is not read", "verify api tag AKIAABCDEFGHIJKLMNOP",
			it("", []string{"api"}, []string{"verify"}, ""), nil},
		{"service names are whole words", "prepare the apigateway and orders-legacy",
			it("", nil, []string{"prepare"}, ""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, notes := Parse(tc.request, catalogServices)
			got = canonical(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.request, got, tc.want)
			}
			all := strings.Join(notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(all, n) {
					t.Errorf("Parse(%q) notes lack %q:\n%s", tc.request, n, all)
				}
			}
			again, notes2 := Parse(tc.request, catalogServices)
			if !reflect.DeepEqual(canonical(again), got) || strings.Join(notes2, "\n") != all {
				t.Errorf("Parse(%q) is not deterministic", tc.request)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	services := make([]string, 0, 500)
	for i := range 500 {
		services = append(services, "svc-"+string(rune('a'+i%26))+strings.Repeat("x", i%7))
	}
	services = append(services, "api")
	for b.Loop() {
		Parse(example+" at tag v1.2.3, then refresh the test data but do not scan only", services)
	}
}
