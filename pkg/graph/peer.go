package graph

import (
	"net/netip"
	"sort"
	"strings"
)

// PeerKind says what a peer is.
type PeerKind uint8

const (
	// KindWorkload is a set of pods named by namespace and labels.
	KindWorkload PeerKind = iota + 1
	// KindReserved is a Cilium reserved entity: world, host, remote-node,
	// kube-apiserver, ingress, unmanaged...
	KindReserved
	// KindExternal is a world address or CIDR.
	KindExternal
)

var peerKindNames = [...]string{"", "workload", "reserved", "external"}

func (k PeerKind) String() string {
	if int(k) < len(peerKindNames) && k != 0 {
		return peerKindNames[k]
	}
	return "unknown"
}

func parsePeerKind(s string) (PeerKind, bool) {
	for i, n := range peerKindNames {
		if i > 0 && n == s {
			return PeerKind(i), true
		}
	}
	return 0, false
}

// PeerID is a peer's index in Graph.Peers.
type PeerID int32

// NoPeer is the PeerID of no peer.
const NoPeer PeerID = -1

// Entity names of Cilium's reserved identities that can be peers.
const (
	EntityWorld         = "world"
	EntityHost          = "host"
	EntityRemoteNode    = "remote-node"
	EntityKubeAPIServer = "kube-apiserver"
	EntityIngress       = "ingress"
	EntityUnmanaged     = "unmanaged"
)

// Peer is one side of an edge: a workload identity, a reserved entity or
// an external address.
type Peer struct {
	Kind PeerKind
	// Namespace and Labels (selector labels, without a "k8s:" prefix)
	// name a workload; Name is a short display name.
	Namespace string
	Labels    map[string]string
	Name      string
	// ServiceAccount is a workload's service account, when seen.
	ServiceAccount string
	// Entity is a reserved peer's Cilium entity name.
	Entity string
	// CIDR is an external peer's address (/32, /128) or aggregate.
	CIDR netip.Prefix
	// DNSNames are the names an external peer answered to: from
	// destination_names and from DNS responses whose TTL covered the time
	// it was contacted. Sorted, capped.
	DNSNames []string
	// InClusterIP flags an external address that looks like a pod's: seen
	// as a workload in this graph, or inside Options.ClusterCIDRs or a pod
	// range (/24, /64) a workload was seen in. InClusterReason says which.
	InClusterIP     bool
	InClusterReason InClusterReason
	// SeenAs is the workload this address was also seen as in the graph,
	// or NoPeer (none, or more than one).
	SeenAs PeerID
	// SelectorIncomplete marks a workload without any stable label: a
	// label selector cannot single it out.
	SelectorIncomplete bool
	// Identities are the Cilium identity label sets a workload's pods
	// were seen with, as the flows carried them ("k8s:app=reviews",
	// "k8s:io.kubernetes.pod.namespace=shop", namespace and rollout
	// labels included), each sorted: the smallest MaxIdentities sets, so
	// the choice does not depend on flow order. IdentitiesTruncated says
	// more were seen. Verification gives the workload these identities.
	Identities          [][]string
	IdentitiesTruncated bool

	// names are destination_names seen for an external peer (state;
	// DNSNames adds the DNS-derived ones).
	names []string
}

// InClusterReason is why an external address was taken for a pod's.
type InClusterReason uint8

const (
	// NotInCluster: nothing says the address is a pod's.
	NotInCluster InClusterReason = iota
	// SeenAsWorkload: the same address was seen as a workload.
	SeenAsWorkload
	// InClusterCIDR: the address is inside Options.ClusterCIDRs.
	InClusterCIDR
	// NearPods: the address shares a /24 (/64) with pods seen in the
	// graph, a guess that can be wrong where pods and machines share
	// subnets (AWS VPC CNI); --cluster-cidr makes it exact.
	NearPods
)

var inClusterReasonNames = [...]string{"", "seen-as-workload", "cluster-cidr", "near-pods"}

func (r InClusterReason) String() string {
	if int(r) < len(inClusterReasonNames) {
		return inClusterReasonNames[r]
	}
	return "unknown"
}

// Key is the peer's stable, unique name, used to sort peers and in
// snapshots: "workload:NS/k=v,k=v", "reserved:ENTITY", "external:CIDR".
func (p *Peer) Key() string {
	switch p.Kind {
	case KindWorkload:
		return "workload:" + p.Namespace + "/" + p.SelectorString()
	case KindReserved:
		return "reserved:" + p.Entity
	case KindExternal:
		return "external:" + p.CIDR.String()
	}
	return "unknown:"
}

// SelectorString renders Labels as sorted "k=v" pairs joined by commas.
func (p *Peer) SelectorString() string {
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(p.Labels[k])
	}
	return sb.String()
}

// String is a short human name: "bookinfo/reviews", "world",
// "203.0.113.7/32".
func (p *Peer) String() string {
	switch p.Kind {
	case KindWorkload:
		return p.Namespace + "/" + p.Name
	case KindReserved:
		return p.Entity
	case KindExternal:
		return p.CIDR.String()
	}
	return "unknown"
}
