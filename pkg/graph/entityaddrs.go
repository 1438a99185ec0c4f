package graph

import (
	"net/netip"
	"slices"
)

// EntityAddrs returns the addresses flows showed for a reserved entity,
// sorted. Only the kube-apiserver's are recorded: its identity carries no
// address, and a NetworkPolicy can reach it only through ipBlocks of them.
func (g *Graph) EntityAddrs(entity string) []netip.Addr {
	key := (&Peer{Kind: KindReserved, Entity: entity}).Key()
	var out []netip.Addr
	for _, o := range g.workloadIPs {
		if !slices.Contains(o.Owners, key) {
			continue
		}
		if a, err := netip.ParseAddr(o.IP); err == nil {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
