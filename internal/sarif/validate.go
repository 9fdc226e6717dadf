package sarif

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Validate checks a SARIF log against the parts of the SARIF 2.1.0 schema
// and of GitHub code scanning's requirements that this package relies on:
// version and schema; a driver with a name and uniquely named rules; results
// whose ruleId and ruleIndex agree, with a level from the spec, a message,
// and locations whose URI is relative to a declared uriBaseId, with a line
// region; suppressions of a known kind and status; numeric
// security-severity. Every problem is reported.
func Validate(data []byte) error {
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if log["version"] != Version {
		bad("version = %v, want %q", log["version"], Version)
	}
	if s, _ := log["$schema"].(string); !strings.Contains(s, "sarif") || !strings.Contains(s, "2.1.0") {
		bad("$schema = %q, want the SARIF 2.1.0 schema", s)
	}
	runs, ok := log["runs"].([]any)
	if !ok || len(runs) == 0 {
		bad("runs: want at least one run")
	}
	for ri, r := range runs {
		run, _ := r.(map[string]any)
		at := fmt.Sprintf("runs[%d]", ri)
		driver, _ := dig(run, "tool", "driver").(map[string]any)
		if driver == nil || str(driver["name"]) == "" {
			bad("%s.tool.driver.name is required", at)
		}
		var ruleIDs []string
		rules, _ := driver["rules"].([]any)
		for i, x := range rules {
			rule, _ := x.(map[string]any)
			id := str(rule["id"])
			if id == "" {
				bad("%s.tool.driver.rules[%d].id is required", at, i)
			}
			if slices.Contains(ruleIDs, id) {
				bad("%s.tool.driver.rules[%d].id %q is not unique", at, i, id)
			}
			ruleIDs = append(ruleIDs, id)
			if str(dig(rule, "shortDescription", "text")) == "" {
				bad("%s.tool.driver.rules[%d] (%s): shortDescription.text is required", at, i, id)
			}
			if s, ok := dig(rule, "properties", "security-severity").(string); ok {
				if v, err := strconv.ParseFloat(s, 64); err != nil || v < 0 || v > 10 {
					bad("%s rule %s: security-severity %q is not a number from 0 to 10", at, id, s)
				}
			}
		}
		bases, _ := run["originalUriBaseIds"].(map[string]any)
		results, ok := run["results"].([]any)
		if !ok {
			bad("%s.results is required (an empty array when there is nothing)", at)
		}
		for i, x := range results {
			res, _ := x.(map[string]any)
			rat := fmt.Sprintf("%s.results[%d]", at, i)
			id := str(res["ruleId"])
			idx, hasIdx := res["ruleIndex"].(float64)
			switch {
			case id == "":
				bad("%s.ruleId is required", rat)
			case !slices.Contains(ruleIDs, id):
				bad("%s.ruleId %q is not among the driver's rules", rat, id)
			case hasIdx && (int(idx) >= len(ruleIDs) || ruleIDs[int(idx)] != id):
				bad("%s.ruleIndex %v does not point at rule %q", rat, idx, id)
			}
			if l := str(res["level"]); !slices.Contains([]string{"none", "note", "warning", "error"}, l) {
				bad("%s.level %q is not none, note, warning or error", rat, l)
			}
			if str(dig(res, "message", "text")) == "" {
				bad("%s.message.text is required", rat)
			}
			locs, _ := res["locations"].([]any)
			if len(locs) == 0 {
				bad("%s.locations: code scanning needs one", rat)
			}
			for j, l := range locs {
				lat := fmt.Sprintf("%s.locations[%d].physicalLocation", rat, j)
				pl, _ := dig(l, "physicalLocation").(map[string]any)
				uri := str(dig(pl, "artifactLocation", "uri"))
				u, err := url.Parse(uri)
				switch {
				case uri == "":
					bad("%s.artifactLocation.uri is required", lat)
				case err != nil || u.Scheme != "" || strings.HasPrefix(uri, "/"):
					bad("%s.artifactLocation.uri %q must be a relative reference", lat, uri)
				}
				if base := str(dig(pl, "artifactLocation", "uriBaseId")); base != "" && bases[base] == nil {
					bad("%s.artifactLocation.uriBaseId %q is not in originalUriBaseIds", lat, base)
				}
				start, _ := dig(pl, "region", "startLine").(float64)
				if start < 1 {
					bad("%s.region.startLine %v must be at least 1", lat, start)
				}
				if end, ok := dig(pl, "region", "endLine").(float64); ok && end < start {
					bad("%s.region.endLine %v is before startLine %v", lat, end, start)
				}
			}
			sups, _ := res["suppressions"].([]any)
			for j, s := range sups {
				if k := str(dig(s, "kind")); k != "inSource" && k != "external" {
					bad("%s.suppressions[%d].kind %q is not inSource or external", rat, j, k)
				}
				if st := str(dig(s, "status")); st != "" && !slices.Contains([]string{"accepted", "underReview", "rejected"}, st) {
					bad("%s.suppressions[%d].status %q is not accepted, underReview or rejected", rat, j, st)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
