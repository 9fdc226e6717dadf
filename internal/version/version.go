// Package version holds the tool version, set at link time with
// -ldflags "-X github.com/rehearsal-dev/rehearsal/internal/version.Version=…".
package version

// Version is the Rehearsal version; "dev" for untagged builds.
var Version = "dev"
