// Package graph folds Hubble flows into a communication graph that a
// policy can name: workload identities (who) joined by directed edges
// from the side that opened a connection to the port it opened (what).
//
// # API
//
//	b := graph.NewBuilder(graph.Options{})   // zero Options = documented defaults
//	b.Add(flow)                              // *observe.Flow, any order
//	b.AddLost(lost)                          // *observe.LostEvent
//	g := b.Finish()                          // *graph.Graph, deterministic
//	b2.Prime(g)                              // carry listeners into the next segment
//
//	g.Peers          []Peer   sorted by Peer.Key; an edge names peers by index
//	g.Edges          []Edge   sorted by (From, To, Protocol, Port, ICMPType)
//	g.PolicyEdges()  []Edge   the edges a policy should allow: Allowed()
//	                          and not Mirror (uncertain ones included,
//	                          check Edge.Uncertain)
//	g.DNS            []DNSRecord  name -> answered IPs, TTL, when seen
//	g.Coverage       Coverage     lost events, replies, undirected flows...
//	g.Peer(id)       *Peer
//
//	g.Save(w) / graph.Load(r, name)     versioned JSON snapshot, byte-stable
//	graph.SaveFile(path, g) / graph.LoadFile(path)
//	graph.Merge(a, b) (*Graph, error)   associative and commutative
//	graph.Build(ctx, src, opts)         a whole observe.Source into a graph
//	g.WriteDOT(w) / g.WriteMermaid(w) / g.WriteJSON(w) / g.WriteText(w)
//
// An Edge carries Protocol, Port (ICMPType for ICMP), Count, Dropped,
// Answered (let-through replies), FirstSeen/LastSeen, Verdicts, how its
// Direction was established, Uncertain, Mirror/MirrorOf, the Services that
// fronted it, and capped L7 evidence: HTTP ("GET /reviews/{id}"),
// DNSQueries (names looked up over it) and DNSNames (names its destination
// answered to). L7, when the edge had L7 requests, is what L7 rules are
// written from: the bounded HTTP route table of the port, the names looked
// up (on an edge to a DNS server) and the Kafka topics used, each role.
// Allowed() is false for an edge seen only dropped, or forwarded at the
// client but dropped at the server with no answer.
//
// A Peer is one of:
//
//   - KindWorkload: Namespace plus Labels, the selector labels (a map of
//     Kubernetes label key to value, without Cilium's "k8s:" source
//     prefix). Name is a short display name ("reviews"). ServiceAccount is
//     the pod's service account when Hubble reported it.
//   - KindReserved: Entity is one of world, host, remote-node,
//     kube-apiserver, ingress, unmanaged or another Cilium reserved entity
//     name; Cilium's entity names are used as they are so a
//     CiliumNetworkPolicy can say toEntities/fromEntities. The addresses
//     flows showed for the kube-apiserver are kept (Graph.EntityAddrs): a
//     NetworkPolicy can reach it only through ipBlocks of them.
//   - KindExternal: a world address. CIDR is the IP as a /32 or /128, or
//     the aggregate when Options.CIDRPrefixV4/V6 ask for it. DNSNames are
//     the names it answered to. InClusterIP says the address looks like a
//     pod's (it was seen as a workload in this graph, or lies in a pod
//     range): Cilium did not resolve its identity on the observing node, so
//     a policy must not freeze it into an ipBlock; InClusterReason says
//     why (seen as a workload, in Options.ClusterCIDRs, or only near pods).
//     SeenAs is the workload the same address was seen as in this graph,
//     or NoPeer.
//
// # Identity rules
//
// A workload identity is a namespace plus a stable set of labels, chosen
// so that the selector stays true after the next rollout:
//
//  1. Labels that change per pod, per rollout or per release are dropped:
//     pod-template-hash (and Argo Rollouts' rollouts-pod-template-hash),
//     controller-revision-hash, statefulset.kubernetes.io/pod-name,
//     apps.kubernetes.io/pod-index, job-name, controller-uid,
//     batch.kubernetes.io/*, version and app.kubernetes.io/version, helm
//     chart labels, per-run pipeline labels (skaffold.dev/run-id,
//     tekton.dev/pipelineRun, tekton.dev/taskRun and their UIDs,
//     workflows.argoproj.io/workflow), tags.datadoghq.com/version, sidecar-injection and
//     operator bookkeeping labels (sidecar.istio.io/*,
//     sidecar.opentelemetry.io/*, security.istio.io/tlsMode,
//     service.istio.io/*, app.kubernetes.io/managed-by), and Cilium's own
//     io.cilium.* / io.kubernetes.pod.namespace labels (the namespace and
//     service account are kept in their own fields). Options.IgnoreLabels
//     adds keys (a trailing "*" matches a prefix); Options.KeepLabels
//     exempts keys and adds them to the selector (KeepLabels: version
//     splits a workload by release).
//  2. The selector is the first of these that the pod carries:
//     app.kubernetes.io/name (with app.kubernetes.io/instance and
//     app.kubernetes.io/component when present, which separate workloads
//     sharing a name), app, k8s-app, name. Options.SelectorLabels replaces
//     this list. With none of them, every label left after step 1 is the
//     selector and the name comes from Hubble's workloads field or the
//     pod name with its ReplicaSet hash and pod suffix removed.
//  3. Replicas and release variants of one workload thus fold into one
//     identity: reviews-v1, -v2 and -v3 are all {app: reviews}.
//  4. Reserved endpoints are themselves (reserved:world with an address is
//     KindExternal); reserved:health and reserved:init are not workloads
//     and their flows are skipped and counted.
//
// # Direction rules
//
// Only the side that opened a connection becomes an edge's From, and the
// edge's Port is the port it connected to, never a reply's ephemeral port.
// Each flow is judged by the first rule that speaks:
//
//  1. L7 REQUEST is client to server; L7 RESPONSE is server to client.
//  2. is_reply true/false; then the deprecated reply field (true only).
//  3. TCP SYN without ACK opens (destination listens); SYN+ACK answers
//     (source listens).
//  4. ICMP echo request opens, echo reply answers.
//
// Flows that none of these direct are held as bounded pending aggregates
// keyed by (peer pair, protocol, both ports) and resolved in Finish from
// the whole capture: a (peer, protocol, port) that received a SYN, a
// request or sent a reply is a listener (DirectionInferred); failing that,
// a port that served three or more distinct counterpart ports among the
// undirected flows is one. Only when no evidence decides does a port
// heuristic choose (well-known < 1024, then non-ephemeral < 32768, then
// the lower port), and such an edge is Uncertain. The pending aggregates
// are capped (Options.MaxPending); a capture that fills the cap has them
// resolved early with the evidence seen so far. UDP on any port is
// decided by evidence first, so a UDP service on 8125 or 5353 is kept.
//
// The same connection seen at the client's egress and, with the client
// translated to reserved:remote-node, host or world, at the server's
// ingress on another node, is one connection: the translated edge is
// marked Mirror (it matches the client edge's sampled connection
// fingerprints) and PolicyEdges leaves it out.
//
// # Memory
//
// State grows with peers and edges, never with flows: peers are interned
// to small integers, edges aggregate into maps keyed by compact structs,
// L7 evidence and connection samples are capped (keeping the smallest
// values, so merging stays associative).
package graph
