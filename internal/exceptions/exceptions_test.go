package exceptions

import (
	"strings"
	"testing"
	"time"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// known accepts a few rule ids and resolves one alias.
func known(id string) (string, bool) {
	switch id {
	case "policy.privileged", "KSV-0017", "aws-access-key-id":
		return id, true
	case "KSV017", "AVD-KSV-0017":
		return "KSV-0017", true
	}
	return "", false
}

func day(s string) time.Time {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t.Add(13 * time.Hour) // any time of the day judges the same
}

func TestStatus(t *testing.T) {
	tests := []struct {
		expires, now string
		want         State
		left         int
	}{
		{"2026-03-01", "2026-01-01", Active, 59},
		{"2026-03-01", "2026-02-14", Active, 15},
		{"2026-03-01", "2026-02-15", Expiring, 14},
		{"2026-03-01", "2026-02-13", Active, 16},
		{"2026-03-01", "2026-03-01", Expiring, 0}, // the expiry day still applies
		{"2026-03-01", "2026-03-02", Expired, -1},
		{"2025-12-31", "2026-01-15", Expired, -15},
	}
	for _, tt := range tests {
		e := &Entry{Expires: tt.expires}
		e.expires, _ = time.Parse(DateLayout, tt.expires)
		got, left := Status(e, day(tt.now))
		if got != tt.want || left != tt.left {
			t.Errorf("Status(expires %s, now %s) = %s, %d; want %s, %d", tt.expires, tt.now, got, left, tt.want, tt.left)
		}
	}
}

const head = "apiVersion: rehearsal.dev/v1\nkind: exceptions\nexceptions:\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"bad date", "  - {id: a, rule: policy.privileged, path: '**', owner: o, reason: r, expires: 2026-13-01}\n",
			`x.yaml:4:80: exception a: expires "2026-13-01" is not a date (YYYY-MM-DD)`},
		{"date in another layout", "  - id: a\n    rule: policy.privileged\n    path: '**'\n    owner: o\n    reason: r\n    expires: 01/03/2026\n",
			`x.yaml:9:14: exception a: expires "01/03/2026" is not a date (YYYY-MM-DD)`},
		{"unknown rule", "  - id: a\n    rule: KSV-9999\n    path: '**'\n    owner: o\n    reason: r\n    expires: 2026-03-01\n",
			`x.yaml:5:11: exception a: unknown rule "KSV-9999"`},
		{"no owner", "  - {id: a, rule: policy.privileged, path: '**', reason: r, expires: 2026-03-01}\n", "x.yaml:4:5: exception a has no owner"},
		{"no reason", "  - {id: a, rule: policy.privileged, path: '**', owner: o, expires: 2026-03-01}\n", "x.yaml:4:5: exception a has no reason"},
		{"no expiry", "  - {id: a, rule: policy.privileged, path: '**', owner: o, reason: r}\n", "has no expires date"},
		{"neither rule nor finding", "  - {id: a, path: '**', owner: o, reason: r, expires: 2026-03-01}\n", "names neither a rule nor a finding"},
		{"both", "  - {id: a, rule: policy.privileged, finding: F-0123456789ab, owner: o, reason: r, expires: 2026-03-01}\n", "names both a rule and a finding"},
		{"not a finding id", "  - {id: a, finding: KSV017, owner: o, reason: r, expires: 2026-03-01}\n", `finding "KSV017" is not a finding id`},
		{"unscoped rule", "  - {id: a, rule: policy.privileged, owner: o, reason: r, expires: 2026-03-01}\n", "accepts rule policy.privileged everywhere"},
		{"bad glob", "  - {id: a, rule: policy.privileged, path: 'deploy/[', owner: o, reason: r, expires: 2026-03-01}\n", `path "deploy/[" is not a valid glob`},
		{"duplicate id", "  - {id: a, rule: policy.privileged, path: '**', owner: o, reason: r, expires: 2026-03-01}\n  - {id: a, rule: policy.privileged, path: x, owner: o, reason: r, expires: 2026-03-01}\n",
			`x.yaml:5:10: exception "a" is listed twice (first at line 4)`},
		{"unknown key", "  - {id: a, rule: policy.privileged, path: '**', owner: o, reason: r, expires: 2026-03-01, approver: x}\n", "x.yaml:4:"},
		{"bad id", "  - {id: A_1, rule: policy.privileged, path: '**', owner: o, reason: r, expires: 2026-03-01}\n", `exception id "A_1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(head+tt.body), known)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
	if _, err := Parse("x.yaml", []byte("apiVersion: v0\nkind: exemptions\nexceptions: []\n"), known); err == nil ||
		!strings.Contains(err.Error(), `x.yaml:1:13: apiVersion must be`) || !strings.Contains(err.Error(), `x.yaml:2:7: kind must be "exceptions"`) {
		t.Errorf("Parse(wrong header) = %v, want both problems located", err)
	}
}

// TestParseReportsEveryProblem: a ledger with several mistakes names them all.
func TestParseReportsEveryProblem(t *testing.T) {
	body := "  - {id: a, rule: nope, path: '**', owner: o, reason: r, expires: tomorrow}\n  - {id: b, rule: policy.privileged, path: '**', reason: r, expires: 2026-01-01}\n"
	_, err := Parse("x.yaml", []byte(head+body), known)
	if err == nil {
		t.Fatal("Parse = nil, want errors")
	}
	for _, want := range []string{`unknown rule "nope"`, `expires "tomorrow"`, "exception b has no owner"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v, want it to contain %q", err, want)
		}
	}
}

func TestParseResolvesAliases(t *testing.T) {
	l, err := Parse("x.yaml", []byte(head+"  - {id: a, rule: KSV017, resource: 'Deployment/*/api', owner: o, reason: r, expires: 2026-03-01}\n"), known)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Entries[0].Rule; got != "KSV-0017" {
		t.Errorf("rule = %q, want the canonical KSV-0017", got)
	}
}

func TestApply(t *testing.T) {
	src := head + `  - {id: active, rule: policy.privileged, resource: 'Deployment/shop/*', owner: team-a, reason: legacy, expires: 2026-12-31}
  - {id: expiring, rule: KSV017, path: 'deploy/api/**', owner: team-a, reason: moving, expires: 2026-01-20}
  - {id: expired, rule: aws-access-key-id, path: '**', owner: team-b, reason: rotating, expires: 2026-01-01}
  - {id: by-finding, finding: F-0123456789ab, owner: team-c, reason: known, expires: 2026-12-31}
  - {id: unused, rule: policy.privileged, path: 'nowhere/**', owner: team-d, reason: gone, expires: 2026-12-31}
`
	l, err := Parse("exceptions.yaml", []byte(src), known)
	if err != nil {
		t.Fatal(err)
	}
	fs := []workspace.Finding{
		{ID: "F-000000000001", Rule: "policy.privileged", Resource: "Deployment/shop/api", File: "deploy/api/d.yaml", Blocker: true},
		{ID: "F-000000000002", Rule: "policy.privileged", Resource: "Deployment/ops/agent", File: "deploy/agent/d.yaml", Blocker: true},
		{ID: "F-000000000003", Rule: "KSV-0017", Resource: "Deployment/shop/api", File: "deploy/api/d.yaml"},
		{ID: "F-000000000004", Rule: "aws-access-key-id", File: "config/app.env", Blocker: true},
		{ID: "F-0123456789ab", Rule: "DS-0002", File: "Dockerfile"},
	}
	out := l.Apply(fs, day("2026-01-15"))
	wantBy := []string{"active", "", "expiring", "", "by-finding"}
	for i, f := range fs {
		got := ""
		if f.Exception != nil {
			got = f.Exception.ID
			if !f.Excepted || f.Exception.At == "" || f.Exception.Owner == "" || f.Exception.Expires == "" {
				t.Errorf("finding %s: exception %+v, excepted %v; want it complete", f.ID, f.Exception, f.Excepted)
			}
		}
		if got != wantBy[i] {
			t.Errorf("finding %s (%s) excepted by %q, want %q", f.ID, f.Rule, got, wantBy[i])
		}
	}
	if fs[3].Excepted {
		t.Errorf("an expired exception applied to %s", fs[3].ID)
	}
	var rulesGot []string
	for _, f := range out.Findings {
		rulesGot = append(rulesGot, f.Rule+"@"+f.Resource)
		if f.File != "exceptions.yaml" || f.Line == 0 || f.Blocker {
			t.Errorf("ledger finding %+v: want an advisory at its line in exceptions.yaml", f)
		}
	}
	want := []string{RuleExpiring + "@exception/expiring", RuleExpired + "@exception/expired"}
	if strings.Join(rulesGot, " ") != strings.Join(want, " ") {
		t.Errorf("ledger findings %v, want %v", rulesGot, want)
	}
	if !strings.Contains(out.Findings[0].Message, "expires on 2026-01-20 (in 5 days)") {
		t.Errorf("expiring message %q, want the date and the days left", out.Findings[0].Message)
	}
	if len(out.Notes) != 1 || !strings.Contains(out.Notes[0].Message, "exception unused covers no finding") || out.Notes[0].Line != 8 {
		t.Errorf("notes %+v, want one for the unused entry at line 8", out.Notes)
	}
	if out.Applied["active"] != 1 || out.Applied["expired"] != 0 {
		t.Errorf("applied %v", out.Applied)
	}
}

// TestApplyNil: no ledger, nothing applies.
func TestApplyNil(t *testing.T) {
	var l *Ledger
	fs := []workspace.Finding{{Rule: "x", Blocker: true}}
	if out := l.Apply(fs, day("2026-01-15")); len(out.Findings) != 0 || fs[0].Excepted {
		t.Errorf("nil ledger applied: %+v %+v", out, fs)
	}
}
