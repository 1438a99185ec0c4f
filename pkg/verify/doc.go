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
// Each identity's policy is resolved once, with the steps
// policy.LookupFlow takes for both ends of every flow
// (ComputeSelectorPolicy, DistillPolicy, Lookup); tests compare every
// verdict with LookupFlow itself. Observed connections must be allowed.
// The excess sweep asks, for every workload a policy selects, every peer
// identity in the graph and every observed port, whether a never-observed
// connection is allowed; it looks up only the combinations some allow
// entry of the distilled policy map covers, since no other can be allowed
// in an enforced direction (tests compare it with the exhaustive sweep).
package verify
