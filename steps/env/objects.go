package env

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rehearsal-dev/rehearsal/internal/rules"
)

// Labels and annotations the env step puts on what it creates. The reaper
// touches nothing without ManagedBy=rehearsal and an env label.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "rehearsal"
	LabelEnv       = "rehearsal.dev/env"
	LabelOwner     = "rehearsal.dev/owner"
	// LabelExpiresAt is the expiry in Unix seconds (label values cannot
	// hold an RFC 3339 time; AnnotationExpiresAt has it for people).
	LabelExpiresAt = "rehearsal.dev/expires-at"
	LabelTemplate  = "rehearsal.dev/template"

	AnnotationExpiresAt    = "rehearsal.dev/expires-at"
	AnnotationOwner        = "rehearsal.dev/owner"
	AnnotationBranch       = "rehearsal.dev/branch"
	AnnotationState        = "rehearsal.dev/state"
	AnnotationStateMessage = "rehearsal.dev/state-message"
	AnnotationDataset      = "rehearsal.dev/dataset"
	AnnotationDatasetUser  = "rehearsal.dev/dataset-user"
	AnnotationReaper       = "rehearsal.dev/reaper"
	AnnotationReapingSince = "rehearsal.dev/reaping-since"
)

// Environment states, in the namespace's state annotation and env.json.
const (
	StateBuilding = "building"
	StateReady    = "ready"
	StateFailed   = "failed"
	StateReaping  = "reaping"
)

// Names of the objects every environment gets.
const (
	PolicyName    = "rehearsal"         // ResourceQuota, LimitRange
	NetPolName    = "rehearsal-default" // the NetworkPolicy
	DatasetSecret = "rehearsal-dataset" // the dataset's credentials
	BindingName   = "rehearsal-env"     // the step's RoleBinding in the namespace
)

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Name is the environment (and namespace) name for a template and branch:
// `<template>-<branch>`, lower-cased, other characters made dashes, and
// shortened with a hash of the whole when longer than a DNS label allows.
func Name(template, branch string) string {
	s := nonName.ReplaceAllString(strings.ToLower(template+"-"+branch), "-")
	s = strings.Trim(regexp.MustCompile(`-+`).ReplaceAllString(s, "-"), "-")
	if len(s) > 63 {
		sum := sha256.Sum256([]byte(template + "\x00" + branch))
		s = strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return s
}

// labelValue makes s a valid label value (owners may be e-mail addresses).
func labelValue(s string) string {
	v := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "_")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "._-")
}

// envMeta is what every environment object carries.
type envMeta struct {
	name, owner, template string
	expires               time.Time
}

func (m envMeta) labels() map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelEnv:       m.name,
		LabelOwner:     labelValue(m.owner),
		LabelExpiresAt: strconv.FormatInt(m.expires.Unix(), 10),
		LabelTemplate:  m.template,
	}
}

func (m envMeta) object(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: m.name, Labels: m.labels()}
}

// namespaceState is the namespace's state with its message and dataset.
type namespaceState struct {
	state, message, branch, dataset, datasetUser string
}

// namespaceObject is the environment's Namespace: our labels, the template's
// Pod Security Standard, and the state annotations.
func namespaceObject(m envMeta, t *rules.EnvTemplate, st namespaceState) (*unstructured.Unstructured, error) {
	labels := m.labels()
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = t.PodSecurity
	}
	ann := map[string]string{
		AnnotationExpiresAt: m.expires.UTC().Format(time.RFC3339),
		AnnotationOwner:     m.owner,
		AnnotationBranch:    st.branch,
		AnnotationState:     st.state,
	}
	if st.message != "" {
		ann[AnnotationStateMessage] = st.message
	}
	if st.dataset != "" {
		ann[AnnotationDataset] = st.dataset
		ann[AnnotationDatasetUser] = st.datasetUser
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: m.name, Labels: labels, Annotations: ann}}
	return toUnstructured(ns, corev1.SchemeGroupVersion.WithKind("Namespace"))
}

func quantities(in map[string]string) corev1.ResourceList {
	if len(in) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for k, v := range in {
		out[corev1.ResourceName(k)] = resource.MustParse(v) // checked when the rules loaded
	}
	return out
}

// templateObjects are the namespaced objects a template gives every
// environment: the ResourceQuota and LimitRange of its size, the
// NetworkPolicy that denies what the template does not allow, the service
// accounts, and — when binding is set — the RoleBinding that lets the step
// manage the namespace's workloads. dbAddr is the dataset server's host, for
// database egress peers.
func templateObjects(m envMeta, d *rules.EnvDecision, binding *Binding, dbAddr string) ([]*unstructured.Unstructured, []string, error) {
	t := d.Template
	size := t.Sizes[d.Parameters[rules.EnvParamSize]]
	var objs []runtime.Object
	var kinds []schema.GroupVersionKind
	add := func(o runtime.Object, gvk schema.GroupVersionKind) {
		objs = append(objs, o)
		kinds = append(kinds, gvk)
	}
	var notes []string
	if binding != nil {
		add(&rbacv1.RoleBinding{
			ObjectMeta: m.object(BindingName),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: binding.ClusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: binding.ServiceAccount, Namespace: binding.Namespace}},
		}, rbacv1.SchemeGroupVersion.WithKind("RoleBinding"))
	}
	add(&corev1.ResourceQuota{ObjectMeta: m.object(PolicyName), Spec: corev1.ResourceQuotaSpec{Hard: quantities(size.Quota)}}, corev1.SchemeGroupVersion.WithKind("ResourceQuota"))
	if len(size.Default)+len(size.DefaultRequest)+len(size.Max) > 0 {
		add(&corev1.LimitRange{ObjectMeta: m.object(PolicyName), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: quantities(size.Default), DefaultRequest: quantities(size.DefaultRequest), Max: quantities(size.Max),
		}}}}, corev1.SchemeGroupVersion.WithKind("LimitRange"))
	}
	np := &networkingv1.NetworkPolicy{ObjectMeta: m.object(NetPolName), Spec: networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		Ingress:     []networkingv1.NetworkPolicyIngressRule{},
		Egress:      []networkingv1.NetworkPolicyEgressRule{},
	}}
	for _, p := range t.Network.Ingress {
		peer, _ := networkPeer(p, dbAddr)
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peer, Ports: ports(p)})
	}
	for _, p := range t.Network.Egress {
		peer, note := networkPeer(p, dbAddr)
		if note != "" {
			notes = append(notes, note)
			continue
		}
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peer, Ports: ports(p)})
	}
	add(np, networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"))
	no := false
	for _, sa := range t.ServiceAccounts {
		add(&corev1.ServiceAccount{ObjectMeta: m.object(sa), AutomountServiceAccountToken: &no}, corev1.SchemeGroupVersion.WithKind("ServiceAccount"))
	}
	var out []*unstructured.Unstructured
	for i, o := range objs {
		u, err := toUnstructured(o, kinds[i])
		if err != nil {
			return nil, nil, err
		}
		out = append(out, u)
	}
	return out, notes, nil
}

// networkPeer turns a template peer into NetworkPolicy peers; a database
// peer without a server address (no dataset) is left out with a note.
func networkPeer(p rules.EnvPeer, dbAddr string) ([]networkingv1.NetworkPolicyPeer, string) {
	switch {
	case p.SameNamespace:
		return []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}, ""
	case p.Namespace != "":
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: p.Namespace}}}}, ""
	case p.CIDR != "":
		return []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: p.CIDR}}}, ""
	case p.DNS:
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "kube-system"}}}}, ""
	case p.Database:
		ip := net.ParseIP(dbAddr)
		if ip == nil {
			if dbAddr == "" {
				return nil, "no dataset server: the database egress peer is left out"
			}
			return nil, fmt.Sprintf("dataset server %q is not an IP address: the database egress peer is left out (give the template a cidr peer for it)", dbAddr)
		}
		bits := 32
		if ip.To4() == nil {
			bits = 128
		}
		return []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("%s/%d", ip, bits)}}}, ""
	}
	return nil, ""
}

func ports(p rules.EnvPeer) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	if p.DNS {
		udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
		dns := intstr.FromInt32(53)
		return []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}
	}
	ps := append([]int(nil), p.Ports...)
	sort.Ints(ps)
	for _, n := range ps {
		tcp := corev1.ProtocolTCP
		port := intstr.FromInt(n)
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &port})
	}
	return out
}
