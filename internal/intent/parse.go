package intent

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// token is one word of a request.
type token struct {
	orig  string // as written (revisions keep their case)
	low   string
	pos   int // byte offset in the request
	claus int // clause number: punctuation and words like "and" start a new one
}

var wordRe = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._/+'’-]*`)

// tokenize splits a request into words with their clause numbers.
func tokenize(s string) []token {
	var out []token
	clause, last := 0, 0
	for _, m := range wordRe.FindAllStringIndex(s, -1) {
		if strings.ContainsAny(s[last:m[0]], ",;:!?()\n") || strings.Contains(s[last:m[0]], ". ") {
			clause++
		}
		w := s[m[0]:m[1]]
		w = strings.ReplaceAll(w, "’", "'")
		// A sentence's full stop ends the clause after this word.
		endsSentence := strings.HasSuffix(w, ".")
		w = strings.TrimRight(w, ".-_/+'")
		w = strings.TrimSuffix(w, "'s")
		last = m[1]
		if w == "" {
			continue
		}
		low := strings.ToLower(w)
		if clauseWords[low] {
			clause++
			continue
		}
		out = append(out, token{orig: w, low: low, pos: m[0], claus: clause})
		if endsSentence {
			clause++
		}
	}
	return out
}

// negated reports whether a negating word comes up to three words before
// tokens[i] in the same clause.
func negated(ts []token, i int) (string, bool) {
	for j := i - 1; j >= 0 && j >= i-3 && ts[j].claus == ts[i].claus; j-- {
		if negators[ts[j].low] {
			return ts[j].orig, true
		}
	}
	return "", false
}

// near reports whether a word of want is within n words of tokens[i] in the
// same clause, before (dir < 0), after (dir > 0) or either side (dir == 0).
func near(ts []token, i, n, dir int, want map[string]bool) (int, bool) {
	for d := 1; d <= n; d++ {
		for _, j := range []int{i - d, i + d} {
			if (j < i && dir > 0) || (j > i && dir < 0) || j < 0 || j >= len(ts) || ts[j].claus != ts[i].claus {
				continue
			}
			if want[ts[j].low] {
				return j, true
			}
		}
	}
	return 0, false
}

var (
	semverRe   = regexp.MustCompile(`^(v\d+(\.\d+){0,3}|\d+\.\d+\.\d+)([-+][0-9A-Za-z.-]+)?$`)
	revTokenRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._/-]{0,99}$`)
)

// parsed is the keyword parser's reading of a request, with what the model
// validation needs: which words the request holds.
type parsed struct {
	intent workspace.Intent
	notes  []string
	tokens []token
}

// Parse reads a request with the keyword grammar: the environment, the
// catalog services, the goals and the target revision it names, with notes
// on what it ignored. services are the catalog's service names. The same text
// always gives the same intent.
func Parse(request string, services []string) (workspace.Intent, []string) {
	p := parse(request, services)
	return p.intent, p.notes
}

func parse(request string, services []string) parsed {
	ts := tokenize(request)
	p := parsed{tokens: ts, intent: workspace.Intent{Services: []string{}, Goals: []string{}}}
	known := map[string]string{}
	for _, s := range services {
		known[strings.ToLower(s)] = s
	}
	goals := map[string]bool{}
	used := make([]bool, len(ts))
	var negatedGoals []string
	addGoal := func(g string, i int) {
		if w, ok := negated(ts, i); ok {
			negatedGoals = append(negatedGoals, fmt.Sprintf("%s (%q before %q)", g, w, ts[i].orig))
			return
		}
		goals[g] = true
	}

	// Data refresh first: "test data" is not a test.
	for i, t := range ts {
		if dataNouns[t.low] {
			if j, ok := near(ts, i, 3, -1, dataVerbs); ok {
				for k := j; k <= i; k++ {
					used[k] = true
				}
				addGoal(GoalRefreshData, j)
				continue
			}
			if j, ok := near(ts, i, 1, 1, set("refresh", "reload", "reseed", "refreshes")); ok {
				used[i], used[j] = true, true
				addGoal(GoalRefreshData, i)
			}
		}
	}
	// Scan only.
	for i, t := range ts {
		if scanWords[t.low] {
			if j, ok := near(ts, i, 3, 0, onlyWords); ok {
				used[i], used[j] = true, true
				addGoal(GoalScanOnly, min(i, j))
			}
		}
	}
	// Phrases, then single words.
	for i := range ts {
		for _, ph := range goalPhrases {
			if i+len(ph.words) > len(ts) {
				continue
			}
			match := true
			for k, w := range ph.words {
				if ts[i+k].low != w || ts[i+k].claus != ts[i].claus || used[i+k] {
					match = false
					break
				}
			}
			if match {
				for k := range ph.words {
					used[i+k] = true
				}
				addGoal(ph.goal, i)
			}
		}
	}
	for i, t := range ts {
		if used[i] {
			continue
		}
		if g, ok := goalWords[t.low]; ok {
			used[i] = true
			addGoal(g, i)
			continue
		}
		if releaseVerbs[t.low] {
			if j, ok := near(ts, i, 3, 1, productionNouns); ok {
				used[i], used[j] = true, true
				addGoal(GoalPromote, i)
			}
		}
	}

	// Environments and services.
	var envs []string
	svc := map[string]bool{}
	var ignored []string
	all := false
	for i, t := range ts {
		if e, ok := envWords[t.low]; ok {
			if w, neg := negated(ts, i); neg {
				ignored = append(ignored, fmt.Sprintf("environment %s (%q before %q)", e, w, t.orig))
			} else if !slices.Contains(envs, e) {
				envs = append(envs, e)
			}
			continue
		}
		if s, ok := known[t.low]; ok {
			if w, neg := negated(ts, i); neg {
				ignored = append(ignored, fmt.Sprintf("service %s (%q before %q)", s, w, t.orig))
			} else {
				svc[s] = true
			}
			continue
		}
		if (t.low == "all" || t.low == "every") && i+1 < len(ts) && (ts[i+1].low == "services" || ts[i+1].low == "service") {
			all = true
		}
	}
	if all {
		for _, s := range services {
			svc[s] = true
		}
		p.notes = append(p.notes, "the request names all services: every catalog service is in the intent")
	}
	if len(envs) > 0 {
		p.intent.Environment = envs[0]
		if len(envs) > 1 {
			p.notes = append(p.notes, fmt.Sprintf("the request names several environments (%s); using the first, %s", strings.Join(envs, ", "), envs[0]))
		}
	}
	for s := range svc {
		p.intent.Services = append(p.intent.Services, s)
	}
	sort.Strings(p.intent.Services)

	// Unknown names: "for the billing release".
	for i, t := range ts {
		if !nameWords[t.low] || i == 0 {
			continue
		}
		prev := ts[i-1]
		if prev.claus != t.claus || notNames[prev.low] || known[prev.low] != "" || envWords[prev.low] != "" || goalWords[prev.low] != "" {
			continue
		}
		p.notes = append(p.notes, fmt.Sprintf("%q looks like a service name but is not a service in the catalog (services: %s); ignored", llm.Redact(prev.orig), strings.Join(services, ", ")))
	}

	// Revision.
	var revs []string
	for i, t := range ts {
		r := ""
		switch {
		case semverRe.MatchString(t.orig):
			r = t.orig
		case revisionWords[t.low] && i+1 < len(ts) && ts[i+1].claus == t.claus &&
			revTokenRe.MatchString(ts[i+1].orig) && strings.ContainsAny(ts[i+1].orig, "0123456789"):
			r = ts[i+1].orig
		}
		if r != "" && !slices.Contains(revs, r) && !llm.LooksSecret(r) {
			revs = append(revs, r)
		}
	}
	if len(revs) > 0 {
		p.intent.Revision = revs[0]
		if len(revs) > 1 {
			p.notes = append(p.notes, fmt.Sprintf("the request names several revisions (%s); using the first, %s", strings.Join(revs, ", "), revs[0]))
		}
	}

	// Goals in canonical order; scan-only stands alone.
	for _, g := range Goals {
		if goals[g] {
			p.intent.Goals = append(p.intent.Goals, g)
		}
	}
	if goals[GoalScanOnly] && len(p.intent.Goals) > 1 {
		var dropped []string
		for _, g := range p.intent.Goals {
			if g != GoalScanOnly {
				dropped = append(dropped, g)
			}
		}
		p.notes = append(p.notes, fmt.Sprintf("the request asks to scan only; other goals ignored: %s", strings.Join(dropped, ", ")))
		p.intent.Goals = []string{GoalScanOnly}
	}
	for _, n := range negatedGoals {
		if !slices.Contains(p.intent.Goals, strings.Fields(n)[0]) {
			p.notes = append(p.notes, "negated in the request, not a goal: "+n)
		}
	}
	for _, n := range ignored {
		p.notes = append(p.notes, "negated in the request, ignored: "+n)
	}
	if len(p.intent.Goals) == 0 {
		p.notes = append(p.notes, "no goal found in the request (goals: "+strings.Join(Goals, ", ")+")")
	}
	return p
}

// names reports whether the request holds word w (case-insensitively), and
// whether it holds it as written (for revisions).
func (p parsed) names(w string) (lower, exact bool) {
	lw := strings.ToLower(w)
	for _, t := range p.tokens {
		if t.orig == w {
			return true, true
		}
		if t.low == lw {
			lower = true
		}
	}
	return lower, false
}

// namesEnvironment reports whether the request names environment e by one
// of its words.
func (p parsed) namesEnvironment(e string) bool {
	for _, t := range p.tokens {
		if envWords[t.low] == e {
			return true
		}
	}
	return false
}
