package graph

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// derive works out the fields that follow from the graph's state:
// whether world addresses are really pods, the DNS names of external
// peers, mirror edges, uncertainty and the coverage counters that count
// them. It runs after every Finish, Merge and Load, so derived fields
// never disagree with the state they come from.
func (g *Graph) derive() {
	for i := range g.Peers {
		p := &g.Peers[i]
		p.InClusterIP, p.InClusterReason, p.SeenAs = false, NotInCluster, NoPeer
		p.DNSNames = slices.Clone(p.names)
	}
	g.Coverage.UncertainEdges, g.Coverage.InClusterWorldFlows, g.Coverage.MirrorFlows = 0, 0, 0
	for i := range g.Edges {
		e := &g.Edges[i]
		e.Mirror, e.MirrorOf = false, NoPeer
		e.Uncertain = e.Direction == DirectionGuessed
	}
	g.flagPodAddresses()
	g.nameExternalPeers()
	g.findMirrors()
	for _, e := range g.Edges {
		if e.Uncertain {
			g.Coverage.UncertainEdges++
		}
		if g.Peers[e.From].InClusterIP || g.Peers[e.To].InClusterIP {
			g.Coverage.InClusterWorldFlows += e.Count
		}
		if e.Mirror {
			g.Coverage.MirrorFlows += e.Count
		}
	}
}

// flagPodAddresses flags external peers whose address was also seen as a
// workload, or lies in a pod range a workload was seen in (/24, /64) or in
// Options.ClusterCIDRs.
func (g *Graph) flagPodAddresses() {
	owners := map[netip.Addr][]string{}
	var podRanges []netip.Prefix
	for _, o := range g.workloadIPs {
		addr, err := netip.ParseAddr(o.IP)
		if err != nil {
			continue
		}
		// The kube-apiserver's addresses are recorded here too; they are
		// no pod's and say nothing about pod ranges.
		o.Owners = slices.DeleteFunc(slices.Clone(o.Owners), func(k string) bool { return !strings.HasPrefix(k, "workload:") })
		if len(o.Owners) == 0 {
			continue
		}
		owners[addr] = o.Owners
		podRanges = append(podRanges, podRange(addr))
	}
	slices.SortFunc(podRanges, comparePrefix)
	podRanges = slices.Compact(podRanges)
	overlaps := func(ranges []netip.Prefix, p netip.Prefix) bool {
		for _, r := range ranges {
			if r.Overlaps(p) {
				return true
			}
		}
		return false
	}
	for i := range g.Peers {
		p := &g.Peers[i]
		if p.Kind != KindExternal {
			continue
		}
		switch o := owners[p.CIDR.Addr()]; {
		case p.CIDR.IsSingleIP() && len(o) > 0:
			p.InClusterReason = SeenAsWorkload
			if len(o) == 1 {
				p.SeenAs = g.PeerByKey(o[0])
			}
		case overlaps(g.Options.ClusterCIDRs, p.CIDR):
			p.InClusterReason = InClusterCIDR
		case overlaps(podRanges, p.CIDR):
			p.InClusterReason = NearPods
		}
		p.InClusterIP = p.InClusterReason != NotInCluster
	}
}

// podRange is the per-node pod range an address most likely sits in.
func podRange(addr netip.Addr) netip.Prefix {
	bits := 24
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// nameExternalPeers gives external peers the DNS names that resolved to
// them while the answer's TTL covered the time they were contacted.
func (g *Graph) nameExternalPeers() {
	if len(g.DNS) == 0 {
		return
	}
	type window struct{ first, last time.Time }
	byPrefix := map[netip.Prefix]PeerID{}
	seen := map[PeerID]*window{}
	for i, p := range g.Peers {
		if p.Kind == KindExternal {
			byPrefix[p.CIDR] = PeerID(i)
			seen[PeerID(i)] = &window{}
		}
	}
	for _, e := range g.Edges {
		for _, id := range []PeerID{e.From, e.To} {
			if w, ok := seen[id]; ok {
				foldTime(&w.first, &w.last, e.FirstSeen)
				foldTime(&w.first, &w.last, e.LastSeen)
			}
		}
	}
	ids := &identities{opts: g.Options}
	for _, r := range g.DNS {
		validUntil := r.LastSeen.Add(time.Duration(r.TTL) * time.Second)
		for _, s := range r.IPs {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			id, ok := byPrefix[ids.aggregate(addr)]
			if !ok {
				continue
			}
			w := seen[id]
			if !w.first.IsZero() && !r.FirstSeen.IsZero() && (w.last.Before(r.FirstSeen) || w.first.After(validUntil)) {
				continue
			}
			p := &g.Peers[id]
			p.DNSNames, _ = addCapped(p.DNSNames, r.Name, g.Options.MaxL7)
		}
	}
}

// findMirrors marks edges whose client is remote-node, host, world or an
// external address and whose sampled connections all belong to edges from
// workloads to the same server port: the same connections, seen at the
// server's node after the client's address was translated.
func (g *Graph) findMirrors() {
	type target struct {
		to       PeerID
		port     uint16
		icmpType uint8
		proto    uint8
	}
	clients := map[target][]int{}
	for i, e := range g.Edges {
		if g.Peers[e.From].Kind == KindWorkload && len(e.sample) > 0 {
			t := target{e.To, e.Port, e.ICMPType, uint8(e.Protocol)}
			clients[t] = append(clients[t], i)
		}
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		if !translatedClient(&g.Peers[e.From]) || len(e.sample) == 0 {
			continue
		}
		cands := clients[target{e.To, e.Port, e.ICMPType, uint8(e.Protocol)}]
		best, bestMatches := -1, 0
		matches := make([]int, len(cands))
		mirrored := true
		for _, fp := range e.sample {
			found, absent := false, true
			for c, ci := range cands {
				s := g.Edges[ci].sample
				if _, ok := slices.BinarySearch(s, fp); ok {
					found = true
					matches[c]++
				} else if len(s) >= sampleSize && fp > s[len(s)-1] {
					// Beyond what the client edge kept: cannot tell.
					absent = false
				}
			}
			if !found && absent {
				mirrored = false
				break
			}
		}
		for c, m := range matches {
			if m > bestMatches {
				best, bestMatches = cands[c], m
			}
		}
		if mirrored && best >= 0 {
			e.Mirror, e.MirrorOf = true, g.Edges[best].From
		}
	}
}

// translatedClient reports whether a peer is what a client pod looks like
// at the server's node when its address was translated or its identity
// not carried.
func translatedClient(p *Peer) bool {
	switch p.Kind {
	case KindExternal:
		return true
	case KindReserved:
		return p.Entity == EntityRemoteNode || p.Entity == EntityHost || p.Entity == EntityWorld
	}
	return false
}
