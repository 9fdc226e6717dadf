package workspace

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestAuditRoundTrip(t *testing.T) {
	dir := t.TempDir()
	entries := []AuditEntry{
		{Step: "packet", Node: "packet", Start: "2026-01-01T10:05:00Z", End: "2026-01-01T10:06:00Z", Version: "dev"},
		{Step: "coordinate", Node: "coordinate", Start: "2026-01-01T10:01:00+00:00", End: "2026-01-01T10:02:00Z", Version: "dev",
			Inputs: map[string]string{"change.json": "sha256:aa"}, Outputs: map[string]string{"graph.json": "sha256:bb"}},
		// Same instant as coordinate, written with another offset: ordered by node name.
		{Step: "classify", Node: "classify", Start: "2026-01-01T11:01:00+01:00", End: "2026-01-01T10:01:30Z", Version: "dev"},
	}
	for _, e := range entries {
		if err := WriteAudit(dir, e); err != nil {
			t.Fatalf("WriteAudit(%q) = %v", e.Node, err)
		}
	}
	got, order := readOrder(t, dir)
	if want := []string{"classify", "coordinate", "packet"}; !reflect.DeepEqual(order, want) {
		t.Errorf("ReadAudit() order = %v, want %v", order, want)
	}
	if got[1].Inputs["change.json"] != "sha256:aa" || got[1].Outputs["graph.json"] != "sha256:bb" {
		t.Errorf("ReadAudit() coordinate = %+v, want its digests kept", got[1])
	}
	if got[0].Inputs == nil {
		t.Errorf("ReadAudit() classify inputs = nil, want an empty map (stable JSON)")
	}
}

// Steps that start within the same second (a fast local run) keep the order
// they ran in, not the order of their node names.
func TestAuditTimeOrdersWithinASecond(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 100, time.UTC)
	for i, node := range []string{"scan", "gate-migration.bob", "mask"} {
		at := AuditTime(t0.Add(time.Duration(i) * time.Millisecond))
		if err := WriteAudit(dir, AuditEntry{Step: node, Node: node, Start: at, End: at}); err != nil {
			t.Fatalf("WriteAudit(%q) = %v", node, err)
		}
	}
	_, order := readOrder(t, dir)
	if want := []string{"scan", "gate-migration.bob", "mask"}; !reflect.DeepEqual(order, want) {
		t.Errorf("ReadAudit() order = %v, want %v", order, want)
	}
	if got, want := AuditTime(t0.In(time.FixedZone("x", 3600))), "2026-01-01T10:00:00.000000100Z"; got != want {
		t.Errorf("AuditTime() = %q, want %q", got, want)
	}
}

// readOrder reads dir's audit entries and their nodes in order.
func readOrder(t *testing.T, dir string) ([]AuditEntry, []string) {
	t.Helper()
	got, err := ReadAudit(dir)
	if err != nil {
		t.Fatalf("ReadAudit() = %v", err)
	}
	var order []string
	for _, e := range got {
		order = append(order, e.Node)
	}
	return got, order
}

func TestReadAuditEmpty(t *testing.T) {
	got, err := ReadAudit(t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("ReadAudit(empty) = %v, %v, want none, nil", got, err)
	}
}

func TestWriteAuditRefuses(t *testing.T) {
	tests := []struct {
		name string
		e    AuditEntry
	}{
		{"node with a slash", AuditEntry{Node: "../x", Start: "2026-01-01T10:00:00Z", End: "2026-01-01T10:00:00Z"}},
		{"empty node", AuditEntry{Start: "2026-01-01T10:00:00Z", End: "2026-01-01T10:00:00Z"}},
		{"start not RFC 3339", AuditEntry{Node: "a", Start: "yesterday", End: "2026-01-01T10:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteAudit(dir, tt.e); err == nil {
				t.Errorf("WriteAudit(%+v) = nil, want an error", tt.e)
			}
			if _, err := os.Stat(filepath.Join(dir, AuditDir)); err == nil {
				t.Errorf("WriteAudit(%+v) wrote %s, want nothing", tt.e, AuditDir)
			}
		})
	}
}

func TestReadAuditStrict(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, AuditDir, "x.json"), []byte(`{"node":"x","bogus":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAudit(dir); err == nil {
		t.Errorf("ReadAudit(unknown key) = nil, want an error")
	}
}
