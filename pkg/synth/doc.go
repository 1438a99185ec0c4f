// Package synth turns an observed traffic graph into least-privilege
// network policy: a default-deny per namespace and one policy per workload
// holding exactly the ingress and egress that was seen, as Kubernetes
// NetworkPolicy, CiliumNetworkPolicy or both, plus a review report.
//
// Synthesis works on its own small model (Graph, Workload, Peer, Edge) so
// it can be tested with hand-built graphs; FromGraph converts pkg/graph's
// graph into it. The output is deterministic: the same Graph and Options
// give byte-identical files.
package synth
