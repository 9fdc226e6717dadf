// Package e2e holds Rehearsal's end-to-end tests: the sample release driven
// through a real Kubernetes node, a real Argo workflow-controller and argo
// server (hack/cluster), the way CI users and approvers drive it. The tests
// carry the build tag e2e and need the cluster `make e2e` brings up; run them
// with `make e2e`, never on their own.
package e2e
