package gate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

var update = flag.Bool("update", false, "rewrite golden files")

// newWorkspace copies testdata/ws (author alice; gate "migration": team-api or
// team-dba, two approvers, not the author, 24h; gate "notify": team-api, one
// approver, the author allowed) into a fresh directory.
func newWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{workspace.ChangeFile, workspace.GraphFile, workspace.CatalogFile} {
		b, err := os.ReadFile(filepath.Join("testdata", "ws", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func decide(dir, gate, user, decision string) Input {
	return Input{Workspace: dir, Gate: gate, User: user, Decision: decision, Source: SourceLocal}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// TestRefused checks decisions that must not be recorded: each one leaves the
// approvals file byte for byte as it was (here: one approval by bob recorded).
func TestRefused(t *testing.T) {
	tests := []struct {
		name     string
		in       func(dir string) Input
		wantCode int
		wantMsg  string
		// wantRefused is who a *Refusal names; "-" when the error is no refusal.
		wantRefused string
	}{
		{"author approves", func(d string) Input { return decide(d, "migration", "alice", Approve) },
			exitcode.Negative, `alice is the change's author and may not approve gate "migration"`, "alice"},
		{"author rejects", func(d string) Input { return decide(d, "migration", "alice", Reject) },
			exitcode.Negative, `alice is the change's author and may not reject gate "migration"`, "alice"},
		{"outside the groups", func(d string) Input { return decide(d, "migration", "mallory", Approve) },
			exitcode.Negative, `mallory is not a member of team-api, team-dba and may not approve gate "migration"`, "mallory"},
		{"same person twice", func(d string) Input { return decide(d, "migration", "bob", Approve) },
			exitcode.Negative, `bob has already approved gate "migration"; the same person cannot count twice`, "bob"},
		{"no identity", func(d string) Input { return decide(d, "migration", "", Approve) },
			exitcode.Negative, `no identity recorded for the decision at gate "migration": refusing (fail closed)`, ""},
		{"decision outside the enum", func(d string) Input { return decide(d, "migration", "carol", "yes") },
			exitcode.BadInput, `decision "yes" is not one of approve, reject`, "-"},
		{"unknown gate", func(d string) Input { return decide(d, "deploy", "carol", Approve) },
			exitcode.BadInput, `graph.json: unknown gate "deploy" (gates: migration, notify)`, "-"},
		{"unknown source", func(d string) Input { in := decide(d, "migration", "carol", Approve); in.Source = "slack"; return in },
			exitcode.BadInput, `source "slack" is not one of local, argo`, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkspace(t)
			if _, err := Run(context.Background(), decide(dir, "migration", "bob", Approve)); err != nil {
				t.Fatalf("Run(bob approves) = %v", err)
			}
			path := filepath.Join(dir, workspace.ApprovalFile("migration"))
			before := readFile(t, path)
			in := tt.in(dir)
			_, err := Run(context.Background(), in)
			if got := exitcode.Code(err); got != tt.wantCode {
				t.Fatalf("Run(%+v) exit = %d (%v), want %d", in, got, err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Run(%+v) = %q, want it to contain %q", in, err, tt.wantMsg)
			}
			var r *Refusal
			switch {
			case tt.wantRefused == "-" && errors.As(err, &r):
				t.Errorf("Run(%+v) = refusal %+v, want an error that is no refusal", in, r)
			case tt.wantRefused != "-" && !errors.As(err, &r):
				t.Errorf("Run(%+v) = %v, want a *Refusal", in, err)
			case tt.wantRefused != "-" && (r.User != tt.wantRefused || r.Gate != "migration" || r.Reason != err.Error()):
				t.Errorf("Run(%+v) = refusal %+v, want user %q at gate migration with the error as reason", in, r, tt.wantRefused)
			}
			if after := readFile(t, path); !bytes.Equal(before, after) {
				t.Errorf("Run(%+v) changed %s:\n%s\nwant it unchanged:\n%s", in, path, after, before)
			}
			entries, _ := os.ReadDir(filepath.Join(dir, workspace.ApprovalsDir))
			if len(entries) != 1 {
				t.Errorf("Run(%+v) left %d files in approvals/, want 1", in, len(entries))
			}
		})
	}
}

// TestSequences runs decisions in order and checks each outcome.
func TestSequences(t *testing.T) {
	type step struct {
		in           Input // Workspace is filled in
		wantErr      string
		wantDecision string
		wantComplete bool
		wantExit     int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"two distinct approvers complete the gate", []step{
			{in: Input{Gate: "migration", User: "bob", Decision: Approve, Source: SourceLocal}, wantDecision: Pending},
			{in: Input{Gate: "migration", User: "carol", Decision: Approve, Comment: "backup verified", Source: SourceLocal}, wantDecision: Approve, wantComplete: true},
			{in: Input{Gate: "migration", User: "dave", Decision: Approve, Source: SourceLocal}, wantErr: `gate "migration" is already approved; no further decisions are recorded`},
			{in: Input{Gate: "migration", User: "dave", Decision: Reject, Source: SourceLocal}, wantErr: `gate "migration" is already approved`},
		}},
		{"approve then reject", []step{
			{in: Input{Gate: "migration", User: "bob", Decision: Approve, Source: SourceLocal}, wantDecision: Pending},
			{in: Input{Gate: "migration", User: "carol", Decision: Reject, Comment: "no backup", Source: SourceLocal}, wantDecision: Reject, wantExit: exitcode.Negative},
			{in: Input{Gate: "migration", User: "dave", Decision: Approve, Source: SourceLocal}, wantErr: `gate "migration" is already rejected`},
		}},
		{"a pending gate on the last round is negative", []step{
			{in: Input{Gate: "migration", User: "bob", Decision: Approve, Source: SourceArgo, RequireComplete: true,
				Claims: map[string]string{"PreferredUsername": "bob"}}, wantDecision: Pending, wantExit: exitcode.Negative},
		}},
		{"timeout rejects", []step{
			{in: Input{Gate: "migration", User: "bob", Decision: Approve, Source: SourceArgo}, wantDecision: Pending},
			{in: Input{Gate: "migration", Decision: Reject, Source: SourceArgo, TimedOut: true}, wantDecision: Reject, wantExit: exitcode.Negative},
			{in: Input{Gate: "migration", User: "carol", Decision: Approve, Source: SourceLocal}, wantErr: `already rejected`},
		}},
		{"the author may approve a gate that allows it", []step{
			{in: Input{Gate: "notify", User: "alice", Decision: Approve, Source: SourceLocal}, wantDecision: Approve, wantComplete: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkspace(t)
			for i, s := range tt.steps {
				s.in.Workspace = dir
				out, err := Run(context.Background(), s.in)
				if s.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), s.wantErr) || exitcode.Code(err) != exitcode.Negative {
						t.Fatalf("step %d: Run(%+v) = %v, want exit 1 containing %q", i, s.in, err, s.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: Run(%+v) = %v", i, s.in, err)
				}
				if out.Approval.Decision != s.wantDecision || out.Complete != s.wantComplete || out.ExitCode() != s.wantExit {
					t.Errorf("step %d: Run(%+v) = decision %s complete %v exit %d, want %s %v %d",
						i, s.in, out.Approval.Decision, out.Complete, out.ExitCode(), s.wantDecision, s.wantComplete, s.wantExit)
				}
				if (out.Err() != nil) != (s.wantExit != 0) {
					t.Errorf("step %d: Output.Err() = %v, want an error iff exit %d", i, out.Err(), s.wantExit)
				}
				var onDisk workspace.Approval
				if err := workspace.ReadJSON(dir, workspace.ApprovalFile(s.in.Gate), &onDisk); err != nil {
					t.Fatalf("step %d: read approval: %v", i, err)
				}
				if !reflect.DeepEqual(onDisk, out.Approval) {
					t.Errorf("step %d: recorded %+v, want %+v", i, onDisk, out.Approval)
				}
			}
		})
	}
}

func TestTimeoutReason(t *testing.T) {
	dir := newWorkspace(t)
	out, err := Run(context.Background(), Input{Workspace: dir, Gate: "migration", Source: SourceArgo, TimedOut: true})
	if err != nil {
		t.Fatalf("Run(timed out) = %v", err)
	}
	want := "timed out after 24h: a gate never approves by itself"
	if out.Approval.Reason != want || out.Approval.Decision != Reject || !out.Approval.Verified {
		t.Errorf("Run(timed out) = %+v, want a verified rejection with reason %q", out.Approval, want)
	}
	if err := out.Err(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Output.Err() = %v, want it to name %q", err, want)
	}
}

// TestGolden pins the recorded file of a complete two-person gate.
func TestGolden(t *testing.T) {
	dir := newWorkspace(t)
	for _, in := range []Input{
		{Workspace: dir, Gate: "migration", User: "bob", Decision: Approve, Comment: "looks fine", Source: SourceLocal},
		{Workspace: dir, Gate: "migration", User: "carol", Decision: Approve, Source: SourceArgo,
			Claims: map[string]string{"Email": "carol@example.com", "PreferredUsername": "carol", "User": "system:serviceaccount:rehearsal:carol"}},
	} {
		if _, err := Run(context.Background(), in); err != nil {
			t.Fatalf("Run(%+v) = %v", in, err)
		}
	}
	got := readFile(t, filepath.Join(dir, workspace.ApprovalFile("migration")))
	golden := filepath.Join("testdata", "approved.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, golden)
	if !bytes.Equal(got, want) {
		t.Errorf("approvals/migration.json =\n%s\nwant\n%s", got, want)
	}
}

func TestCheck(t *testing.T) {
	dir := newWorkspace(t)
	cat, err := ReadCatalog(dir)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := Policy(dir, "migration")
	if err != nil {
		t.Fatal(err)
	}
	rec := func(user, decision string) workspace.Decision {
		return workspace.Decision{User: user, Decision: decision, Source: SourceLocal}
	}
	ok := workspace.Approval{Gate: "migration", Decision: Approve, Verified: true, Policy: policy,
		Approvers: []string{"bob", "carol"}, Records: []workspace.Decision{rec("bob", Approve), rec("carol", Approve)}}
	tests := []struct {
		name    string
		edit    func(a *workspace.Approval)
		wantErr string
	}{
		{"consistent", func(a *workspace.Approval) {}, ""},
		{"author among approvers", func(a *workspace.Approval) {
			a.Approvers[1], a.Records[1].User = "alice", "alice"
		}, "alice is the change's author"},
		{"one approver short", func(a *workspace.Approval) {
			a.Approvers, a.Records = a.Approvers[:1], a.Records[:1]
		}, "decision approve with 1 approvers, policy needs 2"},
		{"same person twice", func(a *workspace.Approval) {
			a.Approvers[1], a.Records[1].User = "bob", "bob"
		}, "bob approved twice"},
		{"approvers not the records", func(a *workspace.Approval) { a.Approvers[1] = "dave" }, "are not the people who approved"},
		{"outsider", func(a *workspace.Approval) {
			a.Approvers[1], a.Records[1].User = "mallory", "mallory"
		}, "mallory is not a member"},
		{"weakened policy", func(a *workspace.Approval) { a.Policy.Approvers = 1 }, "is not the gate's policy"},
		{"reject without a rejection", func(a *workspace.Approval) { a.Decision = Reject }, "without a recorded rejection"},
		{"unverified approval", func(a *workspace.Approval) { a.Verified = false }, "not verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ok
			a.Approvers = append([]string{}, ok.Approvers...)
			a.Records = append([]workspace.Decision{}, ok.Records...)
			a.Policy.Groups = append([]string{}, ok.Policy.Groups...)
			tt.edit(&a)
			err := Check(policy, "alice", cat, a)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check(%+v) = %v, want nil", a, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check(%+v) = %v, want an error containing %q", a, err, tt.wantErr)
			}
		})
	}
}
