package rules

import (
	"testing"
)

// TestShippedRules loads the rules under rules/ and runs every case of the
// `*_test.yaml` files beside them.
func TestShippedRules(t *testing.T) {
	set, err := Load("../../rules")
	if err != nil {
		t.Fatalf("Load(rules) = %v", err)
	}
	if u := set.Untested(); len(u) > 0 {
		t.Errorf("rule files without tests: %v", u)
	}
	for _, res := range set.Test() {
		t.Run(res.Case, func(t *testing.T) {
			for _, f := range res.Failures {
				t.Errorf("%s:%d: %s", res.File, res.Line, f)
			}
		})
	}
}
