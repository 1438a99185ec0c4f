package graph

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
)

// Finish resolves the undirected flows with the whole capture's evidence
// and returns the graph. The Builder must not be used afterwards.
func (b *Builder) Finish() *Graph {
	b.flushPending()

	edges := make([]Edge, 0, len(b.edges))
	for _, e := range b.edges {
		edges = append(edges, *e)
	}
	dns := make([]DNSRecord, 0, len(b.dns))
	for _, r := range b.dns {
		dns = append(dns, *r)
	}
	ips := make([]ipOwners, 0, len(b.workloadIPs))
	for addr, owners := range b.workloadIPs {
		o := ipOwners{IP: addr.String()}
		for _, id := range owners {
			o.Owners = append(o.Owners, b.ids.peers[id].Key())
		}
		slices.Sort(o.Owners)
		ips = append(ips, o)
	}
	return assemble(b.opts, slices.Clone(b.ids.peers), edges, dns, ips, b.cov)
}

// assemble puts graph state into canonical form: peers sorted by key and
// merged when keys repeat, edges renumbered, merged and sorted, DNS and
// address records sorted and merged, and the derived fields worked out.
// Finish, Merge and Load all end here, so they agree byte for byte.
// Edges refer to peers by index into peers.
func assemble(opts Options, peers []Peer, edges []Edge, dns []DNSRecord, ips []ipOwners, cov Coverage) *Graph {
	maxL7 := opts.MaxL7
	keys := make([]string, len(peers))
	order := make([]int, len(peers))
	for i := range peers {
		keys[i] = peers[i].Key()
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	remap := make([]PeerID, len(peers))
	var outPeers []Peer
	for n, i := range order {
		if n > 0 && keys[i] == keys[order[n-1]] {
			last := &outPeers[len(outPeers)-1]
			*last = mergePeer(*last, peers[i], maxL7)
		} else {
			outPeers = append(outPeers, peers[i])
		}
		remap[i] = PeerID(len(outPeers) - 1)
	}

	for i := range edges {
		e := &edges[i]
		e.From, e.To = remap[e.From], remap[e.To]
		e.FirstSeen, e.LastSeen = e.FirstSeen.UTC(), e.LastSeen.UTC()
	}
	slices.SortFunc(edges, compareEdges)
	var outEdges []Edge
	for _, e := range edges {
		if n := len(outEdges); n > 0 && compareEdges(outEdges[n-1], e) == 0 {
			outEdges[n-1] = mergeEdge(outEdges[n-1], e, maxL7)
		} else {
			outEdges = append(outEdges, e)
		}
	}

	slices.SortFunc(dns, func(a, b DNSRecord) int { return cmp.Compare(a.Name, b.Name) })
	var outDNS []DNSRecord
	for _, r := range dns {
		if n := len(outDNS); n > 0 && outDNS[n-1].Name == r.Name {
			outDNS[n-1] = mergeDNS(outDNS[n-1], r)
		} else {
			outDNS = append(outDNS, r)
		}
	}

	slices.SortFunc(ips, func(a, b ipOwners) int { return compareAddrStrings(a.IP, b.IP) })
	var outIPs []ipOwners
	for _, o := range ips {
		if n := len(outIPs); n > 0 && outIPs[n-1].IP == o.IP {
			outIPs[n-1].Owners, _ = unionCapped(outIPs[n-1].Owners, o.Owners, maxIPOwners)
		} else {
			outIPs = append(outIPs, o)
		}
	}

	g := &Graph{Options: opts, Peers: outPeers, Edges: outEdges, DNS: outDNS, Coverage: cov, workloadIPs: outIPs}
	g.derive()
	return g
}

func compareEdges(a, b Edge) int {
	return cmp.Or(
		cmp.Compare(a.From, b.From),
		cmp.Compare(a.To, b.To),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.ICMPType, b.ICMPType),
	)
}

// compareAddrStrings orders addresses numerically when they parse.
func compareAddrStrings(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return pa.Compare(pb)
	}
	return cmp.Compare(a, b)
}

func mergePeer(a, b Peer, maxL7 int) Peer {
	a.Name = minNonEmpty(a.Name, b.Name)
	a.ServiceAccount = minNonEmpty(a.ServiceAccount, b.ServiceAccount)
	a.SelectorIncomplete = a.SelectorIncomplete || b.SelectorIncomplete
	a.names, _ = unionCapped(a.names, b.names, maxL7)
	var cut bool
	a.Identities, cut = unionLabelSets(a.Identities, b.Identities, MaxIdentities)
	a.IdentitiesTruncated = a.IdentitiesTruncated || b.IdentitiesTruncated || cut
	return a
}

func minNonEmpty(a, b string) string {
	if a == "" || (b != "" && b < a) {
		return b
	}
	return a
}

func mergeEdge(a, b Edge, maxL7 int) Edge {
	a.Count += b.Count
	a.Dropped += b.Dropped
	a.Answered += b.Answered
	foldTime(&a.FirstSeen, &a.LastSeen, b.FirstSeen)
	foldTime(&a.FirstSeen, &a.LastSeen, b.LastSeen)
	a.Verdicts |= b.Verdicts
	a.Direction = min(a.Direction, b.Direction)
	var c1, c2, c3, c4 bool
	a.Services, c1 = unionCapped(a.Services, b.Services, maxL7)
	a.HTTP, c2 = unionCapped(a.HTTP, b.HTTP, maxL7)
	a.DNSNames, c3 = unionCapped(a.DNSNames, b.DNSNames, maxL7)
	a.DNSQueries, c4 = unionCapped(a.DNSQueries, b.DNSQueries, maxL7)
	a.L7Truncated = a.L7Truncated || b.L7Truncated || c1 || c2 || c3 || c4
	a.sample, _ = unionCapped(a.sample, b.sample, sampleSize)
	a.L7 = MergeL7(a.L7, b.L7)
	return a
}

func mergeDNS(a, b DNSRecord) DNSRecord {
	a.IPs, _ = unionCapped(a.IPs, b.IPs, maxDNSAnswers)
	a.TTL = max(a.TTL, b.TTL)
	foldTime(&a.FirstSeen, &a.LastSeen, b.FirstSeen)
	foldTime(&a.FirstSeen, &a.LastSeen, b.LastSeen)
	return a
}
