package intent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// quote quotes a value for a message: secret-looking parts redacted, long
// values cut.
func quote(v string) string {
	v = llm.Redact(v)
	if r := []rune(v); len(r) > 60 {
		v = string(r[:57]) + "..."
	}
	return fmt.Sprintf("%q", v)
}

var flagRevisionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._/+-]{0,99}$`)

// CheckExplicit checks the intent explicit flags give against the
// vocabulary and the catalog's services, reporting every problem at once,
// each naming its flag (exit code 2).
func CheckExplicit(in workspace.Intent, services []string, catalogFile string) error {
	var problems []string
	if in.Environment != "" && !slices.Contains(Environments, in.Environment) {
		problems = append(problems, fmt.Sprintf("--env %s: not a pre-production environment (environments: %s)", quote(in.Environment), strings.Join(Environments, ", ")))
	}
	for _, s := range in.Services {
		if !slices.Contains(services, s) {
			problems = append(problems, fmt.Sprintf("--service %s: not a service in the catalog %s (services: %s)", quote(s), catalogFile, strings.Join(services, ", ")))
		}
	}
	for _, g := range in.Goals {
		if !slices.Contains(Goals, g) {
			problems = append(problems, fmt.Sprintf("--goal %s: not a goal (goals: %s)", quote(g), strings.Join(Goals, ", ")))
		}
	}
	if slices.Contains(in.Goals, GoalScanOnly) && len(unique(in.Goals)) > 1 {
		problems = append(problems, fmt.Sprintf("--goal %s excludes every other goal (given: %s)", GoalScanOnly, strings.Join(in.Goals, ", ")))
	}
	if in.Revision != "" && (!flagRevisionRe.MatchString(in.Revision) || llm.LooksSecret(in.Revision)) {
		problems = append(problems, fmt.Sprintf("--target %s: not a revision (letters, digits and ._/+- up to 100 characters)", quote(in.Revision)))
	}
	if len(problems) == 0 {
		return nil
	}
	return exitcode.Inputf("%s", strings.Join(problems, "\n"))
}

func unique(xs []string) []string {
	out := slices.Clone(xs)
	sort.Strings(out)
	return slices.Compact(out)
}

// canonical returns in with services sorted and unique and goals in
// canonical order.
func canonical(in workspace.Intent) workspace.Intent {
	out := workspace.Intent{Environment: in.Environment, Revision: in.Revision, Services: unique(in.Services), Goals: []string{}}
	if out.Services == nil {
		out.Services = []string{}
	}
	for _, g := range Goals {
		if slices.Contains(in.Goals, g) {
			out.Goals = append(out.Goals, g)
		}
	}
	return out
}

// modelFields are the keys a model's answer may have.
var modelFields = []string{"environment", "services", "goals", "revision"}

// checkModel decodes and validates a model's answer against the schema's
// vocabulary, the catalog and the request: every value must be known, and
// every name and revision must be written in the request. It returns every
// problem, each naming the value.
func checkModel(answer string, p parsed, services []string) (workspace.Intent, []string) {
	var out workspace.Intent
	if llm.LooksSecret(answer) {
		return out, []string{"the answer holds a secret-looking value"}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(answer))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return out, []string{"the answer is not a JSON object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, []string{"the answer has text after its JSON object"}
	}
	var problems []string
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(modelFields, k) {
			problems = append(problems, fmt.Sprintf("unknown field %s (an intent has only %s)", quote(k), strings.Join(modelFields, ", ")))
		}
	}
	str := func(key string) (string, bool) {
		v, ok := raw[key]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return "", true
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			problems = append(problems, fmt.Sprintf("%s is not a string", key))
			return "", false
		}
		return s, true
	}
	list := func(key string) []string {
		v, ok := raw[key]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil
		}
		var xs []string
		if json.Unmarshal(v, &xs) != nil {
			problems = append(problems, fmt.Sprintf("%s is not a list of strings", key))
			return nil
		}
		return xs
	}

	if env, ok := str("environment"); ok && env != "" {
		switch {
		case !slices.Contains(Environments, env):
			problems = append(problems, fmt.Sprintf("environment %s is not a pre-production environment (environments: %s)", quote(env), strings.Join(Environments, ", ")))
		case !p.namesEnvironment(env):
			problems = append(problems, fmt.Sprintf("environment %s is not named in the request", quote(env)))
		case p.intent.Environment != "" && env != p.intent.Environment:
			problems = append(problems, fmt.Sprintf("environment %s contradicts the request's first, %s", quote(env), quote(p.intent.Environment)))
		}
		out.Environment = env
	}
	for i, s := range list("services") {
		lower, _ := p.names(s)
		switch {
		case !slices.Contains(services, s):
			problems = append(problems, fmt.Sprintf("services[%d] %s is not a service in the catalog (services: %s)", i, quote(s), strings.Join(services, ", ")))
		case !lower:
			problems = append(problems, fmt.Sprintf("services[%d] %s is not named in the request", i, quote(s)))
		}
		out.Services = append(out.Services, s)
	}
	for i, g := range list("goals") {
		if !slices.Contains(Goals, g) {
			problems = append(problems, fmt.Sprintf("goals[%d] %s is not a goal (goals: %s)", i, quote(g), strings.Join(Goals, ", ")))
		}
		out.Goals = append(out.Goals, g)
	}
	if rev, ok := str("revision"); ok && rev != "" {
		_, exact := p.names(rev)
		switch {
		case !exact:
			problems = append(problems, fmt.Sprintf("revision %s is not written in the request", quote(rev)))
		case p.intent.Revision != "" && rev != p.intent.Revision:
			problems = append(problems, fmt.Sprintf("revision %s contradicts the request's first, %s", quote(rev), quote(p.intent.Revision)))
		}
		out.Revision = rev
	}
	return canonical(out), problems
}
