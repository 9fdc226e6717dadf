package classify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

func TestRunReadsTheRequest(t *testing.T) {
	cat, set := loadShipped(t)
	steps := sampleRepo(t)
	base, head := steps[3].Tag, steps[4].Tag
	ws := t.TempDir()
	out, err := Run(context.Background(), Input{Repo: "sample", Base: base, Head: head, Catalog: cat, Rules: set, Workspace: ws,
		Request: "verify orders on qa but do not promote", Intent: workspace.Intent{Revision: "v1.4.0"}})
	if err != nil {
		t.Fatal(err)
	}
	it := out.Change.Intent
	if it == nil || it.Environment != "qa" || strings.Join(it.Services, ",") != "orders" || strings.Join(it.Goals, ",") != "verify" || it.Revision != "v1.4.0" {
		t.Fatalf("change intent = %+v", it)
	}
	var rec workspace.IntentRecord
	if err := workspace.ReadJSON(ws, workspace.IntentFile, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Source != workspace.IntentFromDeterministic || strings.Join(rec.Flags, ",") != "revision" || rec.Request != "verify orders on qa but do not promote" {
		t.Errorf("intent.json = %+v", rec)
	}
	// The intent is not a fact of the change: classes and risk are the same without it.
	again, err := Run(context.Background(), Input{Repo: "sample", Base: base, Head: head, Catalog: cat, Rules: set, Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	if again.Change.Intent != nil || again.Change.Risk != out.Change.Risk || strings.Join(again.Change.Classes, ",") != strings.Join(out.Change.Classes, ",") {
		t.Errorf("without a request: intent %+v risk %s classes %v", again.Change.Intent, again.Change.Risk, again.Change.Classes)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.IntentFile)); err == nil {
		t.Errorf("the earlier run's intent.json was left beside a change without intent")
	}
}

func TestRunReportsIntentFlagsWithOtherErrors(t *testing.T) {
	cat, set := loadShipped(t)
	sampleRepo(t)
	ws := t.TempDir()
	_, err := Run(context.Background(), Input{Repo: "sample", Base: "v404", Head: "HEAD", Catalog: cat, Rules: set, Workspace: ws,
		Intent: workspace.Intent{Services: []string{"billing"}}})
	if exitcode.Code(err) != exitcode.BadInput {
		t.Fatalf("Run = %v, want exit 2", err)
	}
	for _, want := range []string{"v404", `--service "billing": not a service in the catalog`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.ChangeFile)); err == nil {
		t.Errorf("change.json was written")
	}
}
