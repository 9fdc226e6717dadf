package cli

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/argo"
	"github.com/rehearsal-dev/rehearsal/internal/catalog"
	"github.com/rehearsal-dev/rehearsal/internal/exitcode"
	"github.com/rehearsal-dev/rehearsal/internal/rules"
	"github.com/rehearsal-dev/rehearsal/internal/stepcmd"
	"github.com/rehearsal-dev/rehearsal/internal/workspace"
	"github.com/rehearsal-dev/rehearsal/steps/classify"
	"github.com/rehearsal-dev/rehearsal/steps/coordinate"
	"github.com/rehearsal-dev/rehearsal/steps/packet"
	"github.com/rehearsal-dev/rehearsal/steps/plan"
	"github.com/rehearsal-dev/rehearsal/workflowtemplates"
)

// packetCmd is `rehearsal packet verify|replay DIR`.
func packetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 {
		return exitcode.Inputf("usage: rehearsal packet verify|replay DIR")
	}
	sub, rest := args[0], args[1:]
	// Allow the directory before or after the flags.
	var dir string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		dir, rest = rest[0], rest[1:]
	}
	fl := flag.NewFlagSet("packet "+sub, flag.ContinueOnError)
	var pubFile, rulesDir string
	switch sub {
	case "verify":
		fl.StringVar(&pubFile, "public-key", "", "PEM public key `file` to verify against (default: the key in packet.sig)")
	case "replay":
		fl.StringVar(&rulesDir, "rules", "rules", "rules `dir` to re-evaluate with")
	default:
		return exitcode.Inputf("usage: rehearsal packet verify|replay DIR")
	}
	if err := stepcmd.Parse(fl, rest, stderr); err != nil {
		if dir == "" && fl.NArg() == 1 {
			dir = fl.Arg(0)
		} else {
			return err
		}
	}
	if dir == "" {
		return exitcode.Inputf("usage: rehearsal packet %s DIR", sub)
	}
	if sub == "verify" {
		return verifyPacket(dir, pubFile, stdout)
	}
	return replayPacket(ctx, dir, rulesDir, stdout)
}

func verifyPacket(dir, pubFile string, stdout io.Writer) error {
	var pub ed25519.PublicKey
	if pubFile != "" {
		k, err := packet.LoadPublicKey(pubFile)
		if err != nil {
			return err
		}
		pub = k
	}
	rep, err := packet.Verify(dir, pub)
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "packet %s verified: verdict %s, key %s\n", dir, rep.Verdict, rep.KeyID)
	if pubFile == "" {
		fmt.Fprintln(stdout, "note: verified against the key inside packet.sig; pass --public-key to prove who signed it")
	}
	return nil
}

// replayPacket re-evaluates the classify, route and gate rules on the inputs the
// packet recorded (the change's facts and the catalog) and compares the
// decisions with what the packet says, byte for byte.
func replayPacket(ctx context.Context, dir, rulesDir string, stdout io.Writer) error {
	var p packet.Packet
	if err := workspace.ReadJSON(dir, workspace.PacketFile, &p); err != nil {
		return exitcode.Input(fmt.Errorf("replay: %w", err))
	}
	cat, err := catalog.Load(filepath.Join(dir, workspace.CatalogFile))
	if err != nil {
		return exitcode.Input(fmt.Errorf("replay: recorded catalog: %w", err))
	}
	if got := cat.Digest(); got != p.CatalogDigest {
		return exitcode.Verdict(fmt.Errorf("replay: %s has digest %s, the packet recorded %s (run packet verify)", workspace.CatalogFile, got, p.CatalogDigest))
	}
	set, err := rules.Load(rulesDir)
	if err != nil {
		return exitcode.Input(err)
	}
	ts, err := argo.LoadFS(workflowtemplates.FS)
	if err != nil {
		return exitcode.Infrastructure(err)
	}
	change := p.Change
	if err := classify.Decide(&change, cat, set); err != nil {
		return err
	}
	graph, err := coordinate.Plan(&change, cat, set, ts.Steps())
	if err != nil {
		return err
	}
	graph.RulesDigest = set.Digest
	findings, err := packet.ReadFindings(dir)
	if err != nil {
		return err
	}
	verdict, reason := packet.Decide(*graph, p.Approvals, findings)

	diffs := compareDecisions(p, &change, graph, verdict)
	planDiffs, err := replayPlan(dir, p, &change, cat, set)
	if err != nil {
		return err
	}
	diffs = append(diffs, planDiffs...)
	if sameText, err := packet.ReplayExplanations(ctx, dir, p); err != nil {
		return err
	} else if !sameText {
		diffs = append(diffs, "explanations: the recorded model answers and templates no longer give the recorded text")
	}
	fmt.Fprintf(stdout, "recorded rules %s\nreplayed rules %s\n", p.RulesDigest, set.Digest)
	if len(diffs) == 0 {
		what := "classes, risk, fired rules, graph"
		if p.Summary.Plan != nil {
			what += ", plan strategies"
		}
		fmt.Fprintf(stdout, "replay identical: %s and verdict %q reproduced byte for byte\n", what, verdict)
		return nil
	}
	for _, d := range diffs {
		fmt.Fprintf(stdout, "- %s\n", d)
	}
	return exitcode.Verdict(fmt.Errorf("replay differs from the packet in %d place(s) (verdict now %s: %s)", len(diffs), verdict, reason))
}

// compareDecisions lists what the replay decided differently: fired rules,
// classes, risk, file kinds, graph nodes, verdict. Digests of the rule set are
// compared by the caller; here only decisions count.
func compareDecisions(p packet.Packet, c *workspace.Change, g *workspace.Graph, verdict string) []string {
	var out []string
	was, now := p.Change, *c
	was.RulesDigest, now.RulesDigest = "", ""
	if same(was, now) && same(nodesOf(p.Graph), nodesOf(*g)) && verdict == p.Verdict {
		return nil
	}
	fired := func(fs []workspace.Fired) map[string]string {
		m := map[string]string{}
		for _, f := range fs {
			m[f.ID] = f.Message
		}
		return m
	}
	a, b := fired(was.Rules), fired(now.Rules)
	for _, id := range sortedUnion(a, b) {
		switch {
		case a[id] == "" && b[id] != "":
			out = append(out, fmt.Sprintf("rule %s now fires: %s", id, b[id]))
		case a[id] != "" && b[id] == "":
			out = append(out, fmt.Sprintf("rule %s no longer fires (recorded: %s)", id, a[id]))
		case a[id] != b[id]:
			out = append(out, fmt.Sprintf("rule %s fires with a different message: %q, was %q", id, b[id], a[id]))
		}
	}
	if !slices.Equal(was.Classes, now.Classes) {
		out = append(out, fmt.Sprintf("classes %v, recorded %v", now.Classes, was.Classes))
	}
	if was.Risk != now.Risk {
		out = append(out, fmt.Sprintf("risk %s, recorded %s", now.Risk, was.Risk))
	}
	for i := range was.Files {
		if i < len(now.Files) && was.Files[i].Kind != now.Files[i].Kind {
			out = append(out, fmt.Sprintf("file %s kind %s, recorded %s", now.Files[i].Path, now.Files[i].Kind, was.Files[i].Kind))
		}
	}
	na, nb := map[string]workspace.Node{}, map[string]workspace.Node{}
	for _, n := range p.Graph.Nodes {
		na[n.ID] = n
	}
	for _, n := range g.Nodes {
		nb[n.ID] = n
	}
	for _, id := range sortedUnion(na, nb) {
		x, inA := na[id]
		y, inB := nb[id]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("node %s is new: rule %s now puts it there", id, strings.Join(y.Rules, ", ")))
		case !inB:
			out = append(out, fmt.Sprintf("node %s is gone: rule %s no longer puts it there", id, strings.Join(x.Rules, ", ")))
		case !same(x, y):
			out = append(out, fmt.Sprintf("node %s changed (rules %s)", id, strings.Join(y.Rules, ", ")))
		}
	}
	if verdict != p.Verdict {
		out = append(out, fmt.Sprintf("verdict %s, recorded %s", verdict, p.Verdict))
	}
	if len(out) == 0 {
		out = append(out, "the change record differs in a field no rule names (compare change.json)")
	}
	return out
}

// replayPlan designs the plan again from the recorded change, catalog and
// manifests snapshot with today's rules and lists the services whose
// strategy, choosing rule or migration order changed.
func replayPlan(dir string, p packet.Packet, c *workspace.Change, cat *catalog.Catalog, set *rules.Set) ([]string, error) {
	if p.Summary.Plan == nil {
		return nil, nil
	}
	var m *plan.Manifests
	var err error
	snapshot := filepath.Join(dir, plan.ManifestsDir)
	if st, statErr := os.Stat(snapshot); statErr == nil && st.IsDir() {
		m, err = plan.LoadManifests(os.DirFS(snapshot), cat)
	} else {
		m, err = plan.LoadManifests(nil, cat)
	}
	if err != nil {
		return nil, exitcode.Input(fmt.Errorf("replay: recorded manifests: %w", err))
	}
	d, err := plan.Build(c, cat, m, set)
	if err != nil {
		return nil, err
	}
	now := map[string]packet.PlannedService{}
	for _, s := range d.Plan.Services {
		now[s.Name] = packet.PlannedService{Name: s.Name, Strategy: s.Strategy, Rule: s.StrategyRule, Migration: s.Migration}
	}
	was := map[string]packet.PlannedService{}
	for _, s := range p.Summary.Plan.Services {
		was[s.Name] = s
	}
	var out []string
	for _, name := range sortedUnion(was, now) {
		a, inA := was[name]
		b, inB := now[name]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("plan: service %s is now planned (%s by rule %s)", name, b.Strategy, b.Rule))
		case !inB:
			out = append(out, fmt.Sprintf("plan: service %s is no longer planned", name))
		case a.Strategy != b.Strategy || a.Rule != b.Rule:
			out = append(out, fmt.Sprintf("plan: service %s strategy %s by rule %s, recorded %s by rule %s", name, b.Strategy, b.Rule, a.Strategy, a.Rule))
		case a.Migration != b.Migration:
			out = append(out, fmt.Sprintf("plan: service %s migration %s, recorded %s", name, b.Migration, a.Migration))
		}
	}
	return out, nil
}

func nodesOf(g workspace.Graph) []workspace.Node { return g.Nodes }

func same(a, b any) bool {
	x, err1 := workspace.Marshal(a)
	y, err2 := workspace.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func sortedUnion[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for k := range a {
		seen[k] = true
		out = append(out, k)
	}
	for k := range b {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
