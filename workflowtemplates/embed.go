// Package workflowtemplates carries Rehearsal's Argo WorkflowTemplates, so that a
// coordinator image validates against the templates it was built with.
package workflowtemplates

import "embed"

// FS holds every *.yaml file of this directory (kustomization.yaml included;
// internal/argo skips it).
//
//go:embed *.yaml
var FS embed.FS
