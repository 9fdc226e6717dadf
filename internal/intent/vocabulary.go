package intent

// Goals, in canonical order: an intent lists its goals in this order.
var Goals = []string{GoalPrepare, GoalVerify, GoalPromote, GoalRefreshData, GoalScanOnly}

// The goals a request may have.
const (
	GoalPrepare     = "prepare"      // bring the pre-production environment to the release
	GoalVerify      = "verify"       // check the release is safe there
	GoalPromote     = "promote"      // ask for promotion once checks and gates pass
	GoalRefreshData = "refresh-data" // refresh the environment's masked or synthetic data
	GoalScanOnly    = "scan-only"    // only run the security checks; excludes every other goal
)

// GoalMeanings explain the goals to the model.
var GoalMeanings = map[string]string{
	GoalPrepare:     "bring the pre-production environment to the release",
	GoalVerify:      "check that the release is safe there",
	GoalPromote:     "ask for promotion once the checks and gates pass",
	GoalRefreshData: "refresh the environment's masked or synthetic test data",
	GoalScanOnly:    "only run the security checks; excludes every other goal",
}

// Environments are the pre-production environments a request may name.
// Production is not one: Rehearsal rehearses before it.
var Environments = []string{"dev", "preprod", "qa", "sandbox", "staging", "uat"}

// envWords maps the words that name an environment to it.
var envWords = map[string]string{
	"dev": "dev", "development": "dev",
	"preprod": "preprod", "pre-prod": "preprod", "pre-production": "preprod", "preproduction": "preprod",
	"qa":      "qa",
	"sandbox": "sandbox",
	"staging": "staging", "stg": "staging",
	"uat": "uat",
}

// goalWords map single words to the goal they ask for.
var goalWords = map[string]string{
	"prepare": GoalPrepare, "prepares": GoalPrepare, "prepared": GoalPrepare, "preparing": GoalPrepare,
	"preparation": GoalPrepare, "prep": GoalPrepare, "provision": GoalPrepare, "provisioning": GoalPrepare,
	"setup": GoalPrepare,

	"verify": GoalVerify, "verifies": GoalVerify, "verified": GoalVerify, "verifying": GoalVerify,
	"verification": GoalVerify, "check": GoalVerify, "checks": GoalVerify, "checking": GoalVerify,
	"validate": GoalVerify, "validates": GoalVerify, "validating": GoalVerify, "validation": GoalVerify,
	"confirm": GoalVerify, "confirming": GoalVerify, "ensure": GoalVerify, "test": GoalVerify,
	"tests": GoalVerify, "testing": GoalVerify, "smoke-test": GoalVerify,

	"promote": GoalPromote, "promotes": GoalPromote, "promoted": GoalPromote, "promoting": GoalPromote,
	"promotion": GoalPromote, "ship": GoalPromote, "shipping": GoalPromote, "go-live": GoalPromote,

	"reseed": GoalRefreshData, "re-seed": GoalRefreshData, "refresh-data": GoalRefreshData,

	"scan-only": GoalScanOnly,
}

// goalPhrases are multi-word phrases, matched within a clause.
var goalPhrases = []struct {
	words []string
	goal  string
}{
	{[]string{"set", "up"}, GoalPrepare},
	{[]string{"get", "ready"}, GoalPrepare},
	{[]string{"make", "ready"}, GoalPrepare},
	{[]string{"spin", "up"}, GoalPrepare},
	{[]string{"stand", "up"}, GoalPrepare},
	{[]string{"bring", "up"}, GoalPrepare},
	{[]string{"make", "sure"}, GoalVerify},
	{[]string{"is", "safe"}, GoalVerify},
	{[]string{"it's", "safe"}, GoalVerify},
	{[]string{"safe", "to"}, GoalVerify},
	{[]string{"go", "live"}, GoalPromote},
}

// Data refresh: a verb near a data noun ("refresh the test data").
var (
	dataVerbs = set("refresh", "refreshed", "refreshing", "reload", "reloading", "reseed", "seed", "seeding",
		"mask", "masked", "masking", "fresh", "regenerate", "rebuild", "resync", "sync", "copy",
		"anonymize", "anonymise", "anonymized", "anonymised", "synthetic")
	dataNouns = set("data", "dataset", "datasets", "database", "databases", "db", "fixtures")
)

// Promotion to production: a verb followed by a production noun.
var (
	releaseVerbs    = set("release", "deploy", "push", "rollout", "roll", "take", "move")
	productionNouns = set("production", "prod")
)

// Scan only: a restricting word near a scan word.
var (
	onlyWords = set("only", "just", "solely", "merely")
	scanWords = set("scan", "scans", "scanning", "scanned")
)

// negators negate the goal, environment or service that follows them in the
// same clause (within three words).
var negators = set("not", "don't", "dont", "no", "never", "without", "skip", "skipping", "except",
	"excluding", "avoid", "won't", "shouldn't", "mustn't", "cannot", "can't", "neither", "nor")

// clauseWords end a clause, as punctuation does.
var clauseWords = set("and", "but", "then", "or", "while", "so")

// revisionWords introduce a revision: "tag v2", "commit 3f2a9c1".
var revisionWords = set("revision", "rev", "commit", "sha", "tag", "version", "ref")

// nameWords are the nouns after which a request names a service.
var nameWords = set("release", "rollout", "deploy", "deployment", "service", "services", "app")

// notNames are words that come before nameWords without naming a service.
var notNames = set("the", "a", "an", "this", "that", "these", "next", "new", "big", "whole", "full",
	"weekly", "nightly", "daily", "my", "our", "their", "its", "his", "her", "for", "of", "to", "in", "on",
	"production", "prod", "canary", "major", "minor", "patch", "hotfix", "final", "first", "last",
	"upcoming", "planned", "current", "latest", "pending", "every", "all", "each", "other", "same",
	"blue-green", "rolling", "safe", "risky", "small", "large", "quick", "proper", "real", "actual")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
