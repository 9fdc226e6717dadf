package explain

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/llm"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Approved is the verdict that allows a release.
const Approved = "approved"

var (
	commandRes = []*regexp.Regexp{
		regexp.MustCompile("```|~~~"),
		regexp.MustCompile("(?m)^\\s*[$#>]\\s+\\S"),
		regexp.MustCompile(`(?i)\b(kubectl|gcloud|mysqldump|curl|wget|sudo|chmod|chown|rm\s+-[a-z]*[rf])\b`),
		regexp.MustCompile(`(?i)\b(helm\s+(install|upgrade|uninstall|rollback|template|repo|delete)|kustomize\s+(build|edit)|(docker|podman)\s+(run|build|push|pull|exec|rm|compose)|terraform\s+(apply|destroy|plan|init|import|state)|git\s+(push|reset|checkout|commit|rebase|revert|clone)|(mysql|psql)\s+-|(bash|sh|zsh)\s+-c|ssh\s+\S+@)\b`),
		regexp.MustCompile(`(?i)\bargo\s+(submit|resume|suspend|retry|stop|terminate|delete|cron|template|lint|logs|get|list|wait|watch|approve)\b`),
		regexp.MustCompile(`(?i)\brehearsal\s+(run|approve|render|packet|rules|version)\b`),
		regexp.MustCompile(`(^|\s)--[a-z][a-z0-9-]+`),
		regexp.MustCompile("`[^`]*`"),
		regexp.MustCompile(`\$\(|&&|\|\s*(sh|bash)\b|;\s*(rm|curl|wget)\b`),
		regexp.MustCompile(`\b(DROP\s+(TABLE|DATABASE|SCHEMA|INDEX|COLUMN)|TRUNCATE(\s+TABLE)?|DELETE\s+FROM|ALTER\s+TABLE|UPDATE\s+\w+\s+SET|GRANT\s+\w+)\b`),
	}
	linkRe      = regexp.MustCompile(`(?i)\b(https?|ftp)://|\bwww\.[a-z0-9-]+\.`)
	bypassRe    = regexp.MustCompile(`(?i)\b(skip|skipping|skipped|bypass|bypassing|bypassed|waive|waiving|waived|override|overriding|overridden|circumvent|ignore|ignoring|suppress|force[- ]approve|self[- ]approve)\b`)
	exceptionRe = regexp.MustCompile(`(?i)\b(exception|exceptions|exempt|exemption|allowlist|whitelist|waiver)\b`)
	markdownRe  = regexp.MustCompile(`(?m)^\s*(#{1,6}\s|[-*+]\s|\d+\.\s)|\*\*|__`)

	claimApprovedRe = regexp.MustCompile(`(?i)\b(((the\s+)?(release|change|rollout|deployment|promotion)|it|this)\s+(is|was|has\s+been|are|looks)\s+(now\s+)?(approved|safe|ready|cleared|fine|good\s+to\s+go)|safe\s+to\s+(promote|deploy|release|ship|proceed|merge)|good\s+to\s+go|green\s+light|go\s+ahead\s+(and|with)|can\s+(now\s+)?(safely\s+)?(be\s+)?(promoted|deployed|released|shipped)|no\s+blockers?|nothing\s+blocks|no\s+(further\s+)?action\s+(is\s+)?(needed|required))\b`)
	claimBlockedRe  = regexp.MustCompile(`(?i)\b((the\s+)?(release|change|rollout|deployment|promotion)|it|this)\s+(is|was|has\s+been|remains)\s+(now\s+)?(blocked|rejected|refused|denied|not\s+approved)\b`)
	advisoryRe      = regexp.MustCompile(`(?i)\b(not\s+(a\s+)?block(er|ing)|non-?blocking|only\s+advisory|is\s+advisory|merely\s+advisory|informational|false\s+positive|safe\s+to\s+ignore|can\s+be\s+ignored|not\s+(a\s+)?real\s+(issue|problem)|harmless)\b`)
	tierRes         = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(low|medium|high|critical)[- ]risk\b`),
		regexp.MustCompile(`(?i)\brisk(?:\s+(?:tier|level))?(?:\s+(?:is|of|was|as|at))?\s*:?\s+(low|medium|high|critical)\b`),
		regexp.MustCompile(`(?i)\b(low|medium|high|critical)[- ](?:tier|priority)\b`),
		regexp.MustCompile(`(?i)\btier\s*:?\s+(?:is\s+)?(low|medium|high|critical)\b`),
	}
	// conditions after a claim make it conditional ("can be promoted once …").
	conditions = map[string]bool{"once": true, "after": true, "when": true, "if": true, "until": true, "unless": true, "only": true}
	noRiskRe   = regexp.MustCompile(`(?i)\b(no\s+risk|risk[- ]free|riskless|trivial|minor\s+change|nothing\s+to\s+worry)\b`)
	// softeners before a claim make it conditional or negative.
	softeners = map[string]bool{"not": true, "no": true, "never": true, "cannot": true, "can't": true, "isn't": true,
		"aren't": true, "won't": true, "wasn't": true, "until": true, "unless": true, "before": true, "once": true,
		"after": true, "when": true, "if": true, "pending": true, "awaiting": true, "only": true, "yet": true, "nor": true}
)

// Check returns why text may not stand as an explanation of kind (finding,
// gate, summary) for in, or "" when it may. tier is the gate's tier for a
// gate explanation. The checks run in a fixed order, secrets first, so a
// replay of a recorded (redacted) answer fails the same check.
func Check(text, kind string, in Input, tier string, limit int) string {
	t := strings.TrimSpace(text)
	switch {
	case llm.LooksSecret(t):
		return "contains a secret-looking string"
	case t == "":
		return "empty"
	case len([]rune(t)) > limit:
		return fmt.Sprintf("longer than %d characters", limit)
	case linkRe.MatchString(t):
		return "contains a link"
	}
	for _, re := range commandRes {
		if re.MatchString(t) {
			return "contains a command or code"
		}
	}
	if markdownRe.MatchString(t) {
		return "is not plain prose (Markdown)"
	}
	if m := bypassRe.FindString(t); m != "" {
		return fmt.Sprintf("suggests bypassing a control (%q)", strings.ToLower(m))
	}
	if m := exceptionRe.FindString(t); m != "" {
		return fmt.Sprintf("suggests a security exception (%q)", strings.ToLower(m))
	}
	if in.Verdict != Approved {
		if m, ok := unsoftened(t, claimApprovedRe); ok {
			return fmt.Sprintf("contradicts the verdict %s (%q)", in.Verdict, m)
		}
	} else if m, ok := unsoftened(t, claimBlockedRe); ok {
		return fmt.Sprintf("contradicts the verdict %s (%q)", in.Verdict, m)
	}
	if kind == KindFinding {
		if m := advisoryRe.FindString(t); m != "" {
			return fmt.Sprintf("calls the blocking finding advisory (%q)", strings.ToLower(m))
		}
	}
	want := in.Change.Risk
	for _, re := range tierRes {
		for _, m := range re.FindAllStringSubmatch(t, -1) {
			named := strings.ToLower(m[1])
			floor := want
			if kind == KindGate && tier != "" && strings.Contains(strings.ToLower(m[0]), "tier") {
				floor = tier
			}
			if workspace.RiskRank(named) < workspace.RiskRank(floor) {
				return fmt.Sprintf("names %s, below the rules' %s", strings.ToLower(m[0]), floor)
			}
		}
	}
	if workspace.RiskRank(want) >= workspace.RiskRank("medium") {
		if m := noRiskRe.FindString(t); m != "" {
			return fmt.Sprintf("plays down a %s-risk change (%q)", want, strings.ToLower(m))
		}
	}
	return ""
}

// unsoftened finds a match of re that no softening word precedes (within
// four words, in the same sentence).
func unsoftened(t string, re *regexp.Regexp) (string, bool) {
	for _, loc := range re.FindAllStringIndex(t, -1) {
		before := t[:loc[0]]
		if i := strings.LastIndexAny(before, ".;!?:"); i >= 0 {
			before = before[i+1:]
		}
		words := strings.Fields(strings.ToLower(before))
		soft := false
		for i := len(words) - 1; i >= 0 && i >= len(words)-4; i-- {
			if softeners[strings.Trim(words[i], ",()\"'")] {
				soft = true
				break
			}
		}
		after := strings.Fields(strings.ToLower(t[loc[1]:]))
		for i := 0; i < len(after) && i < 2 && !soft; i++ {
			w := strings.Trim(after[i], ",()\"'")
			soft = conditions[w]
			if strings.ContainsAny(after[i], ".;!?") {
				break
			}
		}
		m := strings.ToLower(t[loc[0]:loc[1]])
		// The claim itself may carry its negation ("no blockers" is a claim;
		// "is not approved" does not match the pattern).
		if !soft {
			return m, true
		}
	}
	return "", false
}
