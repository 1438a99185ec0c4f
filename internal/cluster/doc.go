// Package cluster reads what a running cluster knows and the flows cannot
// tell: the network policies in force (NetworkPolicy, CiliumNetworkPolicy,
// CiliumClusterwideNetworkPolicy), namespaces and their labels, pods by IP
// (to name workloads Hubble saw only as an address), host-network pods, and
// the kube-apiserver's addresses from the default/kubernetes EndpointSlice.
//
// It only reads, so it works under the read-only ClusterRole in
// deploy/rbac.yaml; a missing permission is reported naming the verb and
// resource. Absent Cilium CRDs are reported in Snapshot.Absent, not as an
// error. DryRunApply is the one request that asks the server to evaluate a
// write, and it never persists anything.
package cluster
