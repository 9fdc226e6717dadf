// Package deploy is the kustomize base that installs Rehearsal into a cluster
// (kubectl apply -k deploy, after ko resolves the images); its test builds the
// base and checks every object with the Kubernetes and Argo types.
package deploy
