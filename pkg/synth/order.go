package synth

import (
	"fmt"
	"sort"
)

func refLess(a, b WorkloadRef) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func sortEdges(es []Edge) {
	sort.Slice(es, func(i, j int) bool { return edgeLess(es[i], es[j]) })
}

func edgeLess(a, b Edge) bool {
	if x, y := peerSortKey(a.From), peerSortKey(b.From); x != y {
		return x < y
	}
	if x, y := peerSortKey(a.To), peerSortKey(b.To); x != y {
		return x < y
	}
	if a.Protocol != b.Protocol {
		return a.Protocol < b.Protocol
	}
	return a.Port < b.Port
}

// peerSortKey orders peers by kind, then by name; CIDRs sort by address.
func peerSortKey(p Peer) string {
	if p.Kind == PeerCIDR {
		a := p.Prefix.Addr().As16()
		return fmt.Sprintf("%d|%x/%03d", p.Kind, a, p.Prefix.Bits())
	}
	return fmt.Sprintf("%d|%s", p.Kind, p.String())
}

func sortPeers(ps []Peer) {
	sort.Slice(ps, func(i, j int) bool { return peerSortKey(ps[i]) < peerSortKey(ps[j]) })
}
