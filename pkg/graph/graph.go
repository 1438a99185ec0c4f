package graph

// Graph is a finished communication graph. Peers and Edges are sorted;
// treat a Graph as read-only (Merge returns a new one).
type Graph struct {
	// Options are the rules the graph was built with (normalized).
	Options Options
	// Peers are sorted by Key; PeerID indexes this slice.
	Peers []Peer
	// Edges are sorted by (From, To, Protocol, Port, ICMPType).
	Edges []Edge
	// DNS are DNS answers seen, sorted by name.
	DNS      []DNSRecord
	Coverage Coverage

	// workloadIPs maps an address to the workloads seen with it (state,
	// sorted by address; owners sorted, capped).
	workloadIPs []ipOwners
}

// ipOwners is an address and the workloads (by key) seen using it.
type ipOwners struct {
	IP     string   `json:"ip"`
	Owners []string `json:"owners"`
}

// maxIPOwners caps how many workloads are remembered per address; two
// already make the address ambiguous.
const maxIPOwners = 4

// Peer returns the peer with the given id, or nil for NoPeer or an id out
// of range.
func (g *Graph) Peer(id PeerID) *Peer {
	if id < 0 || int(id) >= len(g.Peers) {
		return nil
	}
	return &g.Peers[id]
}

// PeerByKey returns the id of the peer with the given Key, or NoPeer.
func (g *Graph) PeerByKey(key string) PeerID {
	lo, hi := 0, len(g.Peers)
	for lo < hi {
		m := (lo + hi) / 2
		if g.Peers[m].Key() < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(g.Peers) && g.Peers[lo].Key() == key {
		return PeerID(lo)
	}
	return NoPeer
}

// PolicyEdges returns the edges a policy should allow: those with at least
// one allowed flow that are not mirrors of another edge. Uncertain edges
// are included; check Edge.Uncertain.
func (g *Graph) PolicyEdges() []Edge {
	var out []Edge
	for _, e := range g.Edges {
		if e.Allowed() && !e.Mirror {
			out = append(out, e)
		}
	}
	return out
}
