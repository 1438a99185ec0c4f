package synth

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Graph is the observed traffic that synthesis turns into policy.
type Graph struct {
	// Workloads are the in-cluster workloads that appear as peers.
	Workloads []Workload
	// Edges are the observed connections, one per (from, to, protocol,
	// port); replies must already be folded into their request.
	Edges []Edge
	// NameIPs are the addresses each DNS name resolved to, as seen in DNS
	// responses; they let verification give FQDN peers real identities.
	NameIPs map[string][]netip.Addr
	// EntityIPs are the addresses seen for reserved entities (for example
	// the kube-apiserver's endpoints), used for NetworkPolicy ipBlocks.
	EntityIPs map[Entity][]netip.Addr
	// ClusterCIDRs are the cluster's pod and service ranges, when known:
	// an ipBlock standing for any outside address excepts them.
	ClusterCIDRs []netip.Prefix
	// Exposures are what the cluster says is reachable from outside
	// (LoadBalancer and NodePort Services, Ingress and Gateway backends),
	// evidence for the public-endpoint decision.
	Exposures []Exposure
	// Window describes the learning window, for the report.
	Window Window
}

// Window is what the report says about how traffic was learned.
type Window struct {
	Start, End time.Time
	Flows      uint64
	// LostEvents counts events Hubble reported lost during learning.
	LostEvents uint64
	// NoDirection counts flows that said nothing about their direction;
	// Guessed of them were oriented by port numbers alone.
	NoDirection uint64
	Guessed     uint64
	// Notes are coverage warnings from earlier stages, said as is.
	Notes []string
}

// WorkloadRef names a workload.
type WorkloadRef struct {
	Namespace string
	Name      string
}

func (r WorkloadRef) String() string { return r.Namespace + "/" + r.Name }

// Workload is a set of pods sharing stable labels.
type Workload struct {
	WorkloadRef
	// Selector holds the stable pod labels (Kubernetes keys, no source
	// prefix) that select this workload's pods and nothing else.
	Selector map[string]string
	// Identities are the Cilium identity label sets its pods were seen
	// with, as the flows carried them ("k8s:app=reviews",
	// "k8s:io.kubernetes.pod.namespace=shop", namespace labels included):
	// verification gives the workload these identities. Empty when the
	// graph did not record them (a snapshot from before they were), and
	// then verification falls back to identities made from Selector.
	Identities [][]string
	// IdentitiesTruncated says more label sets were seen than recorded.
	IdentitiesTruncated bool
}

// Entity is a Cilium reserved entity such as host or kube-apiserver.
type Entity string

// The entities synthesis knows how to express.
const (
	EntityWorld         Entity = "world"
	EntityHost          Entity = "host"
	EntityRemoteNode    Entity = "remote-node"
	EntityKubeAPIServer Entity = "kube-apiserver"
	EntityHealth        Entity = "health"
	EntityIngress       Entity = "ingress"
	EntityInit          Entity = "init"
	EntityUnmanaged     Entity = "unmanaged"
)

// PeerKind says what a peer is.
type PeerKind uint8

const (
	// PeerWorkload is a workload in the cluster.
	PeerWorkload PeerKind = iota + 1
	// PeerEntity is a reserved Cilium entity.
	PeerEntity
	// PeerFQDN is an outside address reached by a DNS name.
	PeerFQDN
	// PeerCIDR is an outside address seen without a name.
	PeerCIDR
)

// Peer is one end of an edge. It is comparable, so it can key maps.
type Peer struct {
	Kind     PeerKind
	Workload WorkloadRef
	Entity   Entity
	FQDN     string
	Prefix   netip.Prefix
}

// WorkloadPeer, EntityPeer, FQDNPeer, CIDRPeer and AddrPeer (a single
// address) build peers.
func WorkloadPeer(namespace, name string) Peer {
	return Peer{Kind: PeerWorkload, Workload: WorkloadRef{namespace, name}}
}
func EntityPeer(e Entity) Peer     { return Peer{Kind: PeerEntity, Entity: e} }
func FQDNPeer(name string) Peer    { return Peer{Kind: PeerFQDN, FQDN: name} }
func CIDRPeer(p netip.Prefix) Peer { return Peer{Kind: PeerCIDR, Prefix: p.Masked()} }
func AddrPeer(a netip.Addr) Peer   { return CIDRPeer(netip.PrefixFrom(a, a.BitLen())) }

// String names the peer for reports and sorting.
func (p Peer) String() string {
	switch p.Kind {
	case PeerWorkload:
		return p.Workload.String()
	case PeerEntity:
		return "entity:" + string(p.Entity)
	case PeerFQDN:
		return "fqdn:" + p.FQDN
	case PeerCIDR:
		return "cidr:" + p.Prefix.String()
	}
	return fmt.Sprintf("peer(%d)", p.Kind)
}

// Edge is one observed connection: From opened it to To's Port.
type Edge struct {
	From, To Peer
	Protocol observe.Protocol
	// Port is the destination port as the destination pod receives it,
	// after Service translation; for ICMP, the type of the message that
	// opened the exchange (an echo request for a ping).
	Port uint16
	// Services are the Services ("namespace/name") that fronted the port.
	Services []string
	Flows    uint64
	// Dropped counts flows of this connection dropped during learning.
	Dropped     uint64
	First, Last time.Time
	// L7 is what the connection's L7 requests said (routes, lookups,
	// Kafka topics), or nil.
	L7 *graph.L7
}

// PortKey is a protocol and port.
type PortKey struct {
	Protocol observe.Protocol
	Port     uint16
}

// String writes "80/TCP", or "ICMPv4 type 8" for ICMP (as pkg/graph does).
func (k PortKey) String() string {
	if k.Protocol.IsICMP() {
		return fmt.Sprintf("%s type %d", k.Protocol, k.Port)
	}
	return fmt.Sprintf("%d/%s", k.Port, k.Protocol)
}

// Ruleable says whether a policy rule can allow a connection on this
// protocol and port, and if not, why. ICMP is allowed by message type;
// ICMP errors need no rule (Cilium passes them with the connection they
// answer), nor does IPv6 neighbour discovery (the node answers it).
func Ruleable(k PortKey) (bool, string) {
	switch {
	case k.Protocol.HasPorts() && k.Port != 0:
		return true, ""
	case k.Protocol.HasPorts():
		return false, fmt.Sprintf("%s without a destination port; no rule can name it", k.Protocol)
	case k.Protocol == observe.ProtoICMPv4 && icmpv4Error(k.Port):
		return false, fmt.Sprintf("ICMPv4 type %d is an error message, allowed with the connection it answers", k.Port)
	case k.Protocol == observe.ProtoICMPv6 && (k.Port < 128 || k.Port >= 133 && k.Port <= 137):
		return false, fmt.Sprintf("ICMPv6 type %d is an error or neighbour-discovery message, which Cilium passes without a rule", k.Port)
	case k.Protocol.IsICMP():
		return true, ""
	}
	return false, fmt.Sprintf("%s has no ports or message types; netpolgen writes no rules for it", k.Protocol)
}

// icmpv4Error reports the ICMPv4 error types: destination unreachable,
// source quench, redirect, time exceeded, parameter problem.
func icmpv4Error(t uint16) bool {
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// Key identifies the connection an edge stands for.
func (e Edge) Key() ConnKey {
	return ConnKey{From: e.From, To: e.To, Port: PortKey{e.Protocol, e.Port}}
}

// ConnKey identifies a connection.
type ConnKey struct {
	From, To Peer
	Port     PortKey
}
