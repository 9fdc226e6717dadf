package mask

import (
	"strings"
	"testing"
)

func TestTargetName(t *testing.T) {
	tests := []struct {
		template, branch, want, err string
	}{
		{"preprod_{{branch}}", "feature/JIRA-12 fix", "preprod_feature_jira_12_fix", ""},
		{"preprod_{{branch}}", "main", "preprod_main", ""},
		{"staging", "", "staging", ""},
		{"preprod_{{branch}}", "", "", "needs a branch"},
		{"preprod_{{user}}", "x", "", "only {{branch}}"},
		{"bad.name", "", "", "not a valid schema name"},
		{"preprod_{{branch}}", strings.Repeat("very-long-branch-", 5), "preprod_very_long_branch_very_long_bran_d07f89d6", ""},
	}
	for _, tc := range tests {
		got, err := TargetName(tc.template, tc.branch)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("TargetName(%q, %q) = %q, %v; want an error containing %q", tc.template, tc.branch, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || len(got) > maxTarget {
			t.Errorf("TargetName(%q, %q) = %q, %v; want %q", tc.template, tc.branch, got, err, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"app:hunter2@tcp(db:3306)/shop", "app:***@tcp(db:3306)/shop"},
		{"app@tcp(db:3306)/shop", "app@tcp(db:3306)/shop"},
		{"app:hunter2@((", "***@(("},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStagingDDL(t *testing.T) {
	in := "CREATE TABLE `orders` (\n  `id` int NOT NULL,\n  `c` int,\n  PRIMARY KEY (`id`),\n  CONSTRAINT `fk_a` FOREIGN KEY (`c`) REFERENCES `customers` (`id`)\n) ENGINE=InnoDB"
	want := "CREATE TABLE `_rh_new_orders` (\n  `id` int NOT NULL,\n  `c` int,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB"
	if got := stagingDDL(in, "_rh_new_orders"); got != want {
		t.Errorf("stagingDDL =\n%s\nwant\n%s", got, want)
	}
}

func TestAppendEscaped(t *testing.T) {
	got := string(appendEscaped(nil, []byte("a\tb\nc\\d\x00e\rf")))
	if want := `a\tb\nc\\d\0e\rf`; got != want {
		t.Errorf("appendEscaped = %q, want %q", got, want)
	}
}
