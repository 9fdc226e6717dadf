package diag

import (
	"errors"
	"fmt"
	"testing"
)

func TestListSortsAndPrintsEveryProblem(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatalf("empty List.Err() = %v, want nil", l.Err())
	}
	l.Add("b.yaml", 3, 1, "third")
	l.Add("a.yaml", 9, 2, "second")
	l.Add("a.yaml", 2, 7, "first %d", 1)
	l.Add("", 0, 0, "no place")
	err := fmt.Errorf("load: %w", l.Err())
	want := "load: no place\na.yaml:2:7: first 1\na.yaml:9:2: second\nb.yaml:3:1: third"
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	if got := len(Problems(err)); got != 4 {
		t.Errorf("Problems(wrapped) gave %d problems, want 4", got)
	}
	if Problems(errors.New("plain")) != nil {
		t.Errorf("Problems(plain error) should be nil")
	}
	if got := (Problem{File: "f", Line: 4, Msg: "m"}).String(); got != "f:4: m" {
		t.Errorf("String() = %q, want f:4: m", got)
	}
}
