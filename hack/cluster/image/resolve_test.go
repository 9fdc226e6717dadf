package image

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{{
		name: "rewrites image fields and keeps everything else",
		in: "# ko://github.com/rehearsal-dev/rehearsal/cmd/steps/scan in a comment\n" +
			"image: ko://github.com/rehearsal-dev/rehearsal/cmd/steps/classify\n" +
			"  image: \"ko://github.com/rehearsal-dev/rehearsal/cmd/steps/mask\"\n" +
			"args: [--image=x, ko://github.com/rehearsal-dev/rehearsal/cmd/rehearsal]\n" +
			"command: [\"/ko-app/classify\"]\n",
		want: "# rehearsal.local/scan:e2e in a comment\n" +
			"image: rehearsal.local/classify:e2e\n" +
			"  image: \"rehearsal.local/mask:e2e\"\n" +
			"args: [--image=x, rehearsal.local/rehearsal:e2e]\n" +
			"command: [\"/ko-app/classify\"]\n",
	}, {
		name: "no references",
		in:   "kind: WorkflowTemplate\n",
		want: "kind: WorkflowTemplate\n",
	}, {
		name:    "foreign module is an error with its location",
		in:      "a: 1\nimage: ko://example.com/other/cmd/x\n",
		wantErr: "t.yaml:2:8: ko://example.com/other/cmd/x is not a package of github.com/rehearsal-dev/rehearsal",
	}, {
		name:    "module prefix without a path separator is foreign",
		in:      "image: ko://github.com/rehearsal-dev/rehearsal-other/cmd/x\n",
		wantErr: "t.yaml:1:8:",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Resolve("t.yaml", []byte(tt.in), "rehearsal.local/", "e2e")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Resolve() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
