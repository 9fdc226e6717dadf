package gate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// Eligible reports, as an error naming the policy not met, why user may not
// make decision at the gate: no identity, not a member of one of the gate's
// groups, or the change's author when the gate forbids it.
func Eligible(policy workspace.Gate, author string, cat *catalog.Catalog, user, decision string) error {
	if user == "" {
		return fmt.Errorf("no identity recorded for the decision at gate %q: refusing (fail closed)", policy.Name)
	}
	if policy.NotAuthor && user == author {
		return fmt.Errorf("%s is the change's author and may not %s gate %q", user, decision, policy.Name)
	}
	for _, g := range policy.Groups {
		if slices.Contains(cat.Members(g), user) {
			return nil
		}
	}
	if len(policy.Groups) == 0 {
		return fmt.Errorf("gate %q names no groups, so nobody may %s it", policy.Name, decision)
	}
	return fmt.Errorf("%s is not a member of %s and may not %s gate %q", user, strings.Join(policy.Groups, ", "), decision, policy.Name)
}

// Check verifies a recorded approval against its gate's policy: the recorded
// policy is the gate's, every decision was made by an eligible person, the
// approvers are the distinct people who approved, and the outcome follows from
// the records (approved only with enough approvers, rejected only by a recorded
// rejection or a timeout). The packet verifier runs it on recorded evidence.
func Check(policy workspace.Gate, author string, cat *catalog.Catalog, a workspace.Approval) error {
	if a.Gate != policy.Name {
		return fmt.Errorf("approval is for gate %q, not %q", a.Gate, policy.Name)
	}
	if err := samePolicy(a.Policy, policy); err != nil {
		return err
	}
	var approvers []string
	rejected := false
	for i, r := range a.Records {
		if r.Decision != Approve && r.Decision != Reject {
			return fmt.Errorf("record %d: decision %q is not one of %s, %s", i+1, r.Decision, Approve, Reject)
		}
		if err := Eligible(policy, author, cat, r.User, r.Decision); err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		if rejected {
			return fmt.Errorf("record %d: %s decided after the gate was rejected", i+1, r.User)
		}
		if r.Decision == Reject {
			rejected = true
			continue
		}
		if slices.Contains(approvers, r.User) {
			return fmt.Errorf("record %d: %s approved twice; the same person cannot count twice", i+1, r.User)
		}
		approvers = append(approvers, r.User)
		if len(approvers) > Needed(policy) {
			return fmt.Errorf("record %d: %s approved after the gate was complete", i+1, r.User)
		}
	}
	if !slices.Equal(approvers, a.Approvers) && (len(approvers) > 0 || len(a.Approvers) > 0) {
		return fmt.Errorf("approvers [%s] are not the people who approved [%s]", strings.Join(a.Approvers, ", "), strings.Join(approvers, ", "))
	}
	timedOut := a.Reason == TimedOutReason(policy.Timeout)
	switch a.Decision {
	case Approve:
		if rejected || timedOut {
			return fmt.Errorf("decision approve contradicts a recorded rejection")
		}
		if len(approvers) < Needed(policy) {
			return fmt.Errorf("decision approve with %d approvers, policy needs %d", len(approvers), Needed(policy))
		}
		if !a.Verified {
			return fmt.Errorf("decision approve is not verified")
		}
	case Reject:
		if !rejected && !timedOut {
			return fmt.Errorf("decision reject without a recorded rejection or timeout")
		}
		if !a.Verified {
			return fmt.Errorf("decision reject is not verified")
		}
	case Pending:
		if rejected || timedOut {
			return fmt.Errorf("decision pending contradicts a recorded rejection")
		}
		if len(approvers) >= Needed(policy) {
			return fmt.Errorf("decision pending with %d approvers, policy needs %d", len(approvers), Needed(policy))
		}
		if a.Verified {
			return fmt.Errorf("decision pending is marked verified")
		}
	default:
		return fmt.Errorf("decision %q is not one of %s, %s, %s", a.Decision, Approve, Reject, Pending)
	}
	return nil
}

func samePolicy(recorded, policy workspace.Gate) error {
	if !reflect.DeepEqual(normal(recorded), normal(policy)) {
		return fmt.Errorf("recorded policy %+v is not the gate's policy %+v in %s", recorded, policy, workspace.GraphFile)
	}
	return nil
}

func normal(g workspace.Gate) workspace.Gate {
	if len(g.Groups) == 0 {
		g.Groups = nil
	}
	return g
}
