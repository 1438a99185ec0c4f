// Package verify proves generated policies against observed traffic with
// Cilium's own policy engine (github.com/cilium/cilium/pkg/policy), offline.
//
// Every peer of the graph gets a Cilium identity: a workload the labels its
// selector names plus its namespace labels, a reserved entity its reserved
// identity, an address a CIDR identity (cidr:a.b.c.d/32 plus world), and a
// DNS name the CIDR identity of the address it resolved to plus the
// fqdn:<name> label Cilium's DNS proxy attaches to such addresses, so that
// toFQDNs selectors are checked at L3/L4 exactly as the datapath would
// after the name was resolved. NetworkPolicies are parsed by
// pkg/k8s.ParseNetworkPolicy and CiliumNetworkPolicies by their own Parse,
// into one repository.
//
// Observed connections are checked with policy.LookupFlow. The excess
// sweep asks, for every policy-selected workload, every peer identity in
// the graph and every observed port, whether a never-observed connection
// is allowed; it distils each subject's policy once (the same
// ComputeSelectorPolicy, DistillPolicy and Lookup steps LookupFlow takes)
// so the sweep stays fast on large graphs.
package verify
