package gate

import (
	"regexp"
	"strings"
)

// Claim names Argo records in a resumed suspend node's message.
const (
	ClaimUser              = "User" // the token's subject
	ClaimEmail             = "Email"
	ClaimPreferredUsername = "PreferredUsername"
)

// Labels argo-server sets on a Workflow for the person behind its last action.
const (
	LabelActor                  = "workflows.argoproj.io/actor"
	LabelActorEmail             = "workflows.argoproj.io/actor-email"
	LabelActorPreferredUsername = "workflows.argoproj.io/actor-preferred-username"
	LabelAction                 = "workflows.argoproj.io/action"
)

const resumedBy = "Resumed by: "

var claimKeyRe = regexp.MustCompile(`(?:^| )(` + ClaimEmail + `|` + ClaimPreferredUsername + `|` + ClaimUser + `):`)

// ParseResumedBy reads the claims from the message argo-server writes on a
// suspend node resumed by an authenticated person:
//
//	Resumed by: map[Email:alice@example.com PreferredUsername:alice User:system:serviceaccount:rehearsal:alice]
//
// Earlier messages may precede it, joined with "; "; the last "Resumed by:" wins.
// It returns nil when the message carries no claims.
func ParseResumedBy(msg string) map[string]string {
	i := strings.LastIndex(msg, resumedBy)
	if i < 0 {
		return nil
	}
	rest := msg[i+len(resumedBy):]
	if !strings.HasPrefix(rest, "map[") {
		return nil
	}
	rest = rest[len("map["):]
	end := strings.LastIndex(rest, "]")
	if end < 0 {
		return nil
	}
	body := rest[:end]
	locs := claimKeyRe.FindAllStringSubmatchIndex(body, -1)
	if len(locs) == 0 || locs[0][0] != 0 {
		return nil
	}
	out := map[string]string{}
	for k, loc := range locs {
		key := body[loc[2]:loc[3]]
		valEnd := len(body)
		if k+1 < len(locs) {
			valEnd = locs[k+1][0]
		}
		if v := body[loc[1]:valEnd]; v != "" {
			out[key] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Identity maps recorded claims to the user name the catalog knows: the
// preferred username, else the email's local part, else the name of a
// `system:serviceaccount:<ns>:<name>` subject, else the subject.
//
// The Workflow's actor labels are a cross-check: argo-server sets them in the
// same update that writes the claims, so each must be exactly what it derives
// from the claims (absent where the claim is absent). A mismatch (someone acted
// on the workflow since, or the labels were edited) refuses the identity, as do
// claims that name nobody.
func Identity(claims map[string]string, labels map[string]string) (user string, ok bool) {
	for claim, label := range map[string]string{
		ClaimUser:              LabelActor,
		ClaimEmail:             LabelActorEmail,
		ClaimPreferredUsername: LabelActorPreferredUsername,
	} {
		want := claims[claim]
		if claim == ClaimEmail {
			want = strings.Replace(want, "@", ".at.", 1)
		}
		if DNSFriendly(want) != labels[label] {
			return "", false
		}
	}
	if u := claims[ClaimPreferredUsername]; u != "" {
		return u, true
	}
	if e := claims[ClaimEmail]; e != "" {
		if at := strings.IndexByte(e, '@'); at > 0 {
			return e[:at], true
		}
		return e, true
	}
	if s := claims[ClaimUser]; s != "" {
		if rest, found := strings.CutPrefix(s, "system:serviceaccount:"); found {
			if _, name, found := strings.Cut(rest, ":"); found && name != "" {
				return name, true
			}
		}
		return s, true
	}
	return "", false
}

var (
	notLabelRe      = regexp.MustCompile(`[^-_.a-zA-Z0-9]`)
	leadingJunkRe   = regexp.MustCompile(`^[^a-zA-Z0-9]*`)
	trailingJunkRe  = regexp.MustCompile(`[^a-zA-Z0-9]*$`)
	maxLabelValueSz = 63
)

// DNSFriendly turns a claim into the label value argo-server stores for it:
// characters a label may not hold become "-", only the last 63 characters are
// kept, and the value starts and ends with an alphanumeric character.
func DNSFriendly(s string) string {
	v := notLabelRe.ReplaceAllString(s, "-")
	if len(v) > maxLabelValueSz {
		v = v[len(v)-maxLabelValueSz:]
	}
	v = leadingJunkRe.ReplaceAllString(v, "")
	return trailingJunkRe.ReplaceAllString(v, "")
}
