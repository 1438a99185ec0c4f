package synth

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netpolgen/netpolgen/pkg/graph"
)

// FromGraph converts pkg/graph's graph into synthesis's model: the edges
// a policy should allow (graph.PolicyEdges), workloads with their
// selectors, DNS answers, and the coverage facts the report states.
// Edges to an address that answered to DNS names become one edge per
// name; an address that is really a pod seen as world becomes that
// workload when the graph knows which, and is left out with a note when
// it does not, since an ipBlock of a pod address would break on restart.
func FromGraph(g *graph.Graph) *Graph {
	c := converter{g: g, out: &Graph{NameIPs: map[string][]netip.Addr{}}, edges: map[ConnKey]*Edge{}}
	c.workloads()
	c.dns()
	c.addresses()
	for _, e := range g.PolicyEdges() {
		c.edge(e)
	}
	c.coverage()
	keys := make([]ConnKey, 0, len(c.edges))
	for k := range c.edges {
		keys = append(keys, k)
	}
	for _, k := range keys {
		c.out.Edges = append(c.out.Edges, *c.edges[k])
	}
	sortEdges(c.out.Edges)
	return c.out
}

type converter struct {
	g     *graph.Graph
	out   *Graph
	refs  map[graph.PeerID]WorkloadRef
	edges map[ConnKey]*Edge
}

// workloads names each workload peer uniquely within its namespace.
func (c *converter) workloads() {
	c.refs = map[graph.PeerID]WorkloadRef{}
	used := map[WorkloadRef]bool{}
	for i := range c.g.Peers {
		p := &c.g.Peers[i]
		if p.Kind != graph.KindWorkload {
			continue
		}
		name := dnsLabel(p.Name)
		ref := WorkloadRef{p.Namespace, name}
		for n := 2; used[ref]; n++ {
			ref.Name = fmt.Sprintf("%s-%d", name, n)
		}
		used[ref] = true
		c.refs[graph.PeerID(i)] = ref
		c.out.Workloads = append(c.out.Workloads, Workload{WorkloadRef: ref, Selector: p.Labels, Identities: p.Identities, IdentitiesTruncated: p.IdentitiesTruncated})
		if p.SelectorIncomplete {
			c.note(fmt.Sprintf("workload %s: its selector may be incomplete (%s); review it", ref, p.SelectorString()))
		}
	}
}

func (c *converter) dns() {
	for _, r := range c.g.DNS {
		for _, s := range r.IPs {
			if a, err := netip.ParseAddr(s); err == nil && !containsAddr(c.out.NameIPs[r.Name], a) {
				c.out.NameIPs[r.Name] = append(c.out.NameIPs[r.Name], a)
			}
		}
	}
	for _, ips := range c.out.NameIPs {
		sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	}
}

// peers maps one end of a graph edge to the peers a policy names; a
// destination address with DNS names maps to each name.
func (c *converter) peers(id graph.PeerID, names []string, destination bool) []Peer {
	p := c.g.Peer(id)
	if p == nil {
		return nil
	}
	switch p.Kind {
	case graph.KindWorkload:
		return []Peer{{Kind: PeerWorkload, Workload: c.refs[id]}}
	case graph.KindReserved:
		return []Peer{EntityPeer(Entity(p.Entity))}
	case graph.KindExternal:
		if p.InClusterIP {
			if ref, ok := c.refs[p.SeenAs]; ok {
				return []Peer{{Kind: PeerWorkload, Workload: ref}}
			}
			return nil
		}
		if len(names) == 0 {
			names = p.DNSNames
		}
		if destination && len(names) > 0 {
			out := make([]Peer, 0, len(names))
			for _, n := range names {
				out = append(out, FQDNPeer(n))
			}
			return out
		}
		return []Peer{CIDRPeer(p.CIDR)}
	}
	return nil
}

func (c *converter) edge(e graph.Edge) {
	froms := c.peers(e.From, nil, false)
	tos := c.peers(e.To, e.DNSNames, true)
	if len(froms) == 0 || len(tos) == 0 {
		c.note(fmt.Sprintf("%s -> %s %s: a pod address seen only as world, with no workload to name it by; left out of policy (%d flows)",
			c.g.Peer(e.From), c.g.Peer(e.To), graph.PortString(&e), e.Count))
		return
	}
	if e.Uncertain {
		c.note(fmt.Sprintf("%s -> %s %s: the direction was guessed from port numbers; check it", c.g.Peer(e.From), c.g.Peer(e.To), graph.PortString(&e)))
	}
	port := e.Port
	if e.Protocol.IsICMP() {
		port = uint16(e.ICMPType)
	}
	for _, from := range froms {
		for _, to := range tos {
			se := Edge{From: from, To: to, Protocol: e.Protocol, Port: port, Services: e.Services,
				Flows: e.Count, Dropped: e.Dropped, First: e.FirstSeen, Last: e.LastSeen, L7: e.L7}
			k := se.Key()
			if old := c.edges[k]; old != nil {
				mergeEdge(old, se)
				continue
			}
			se.Services = append([]string(nil), se.Services...)
			c.edges[k] = &se
		}
	}
}

func mergeEdge(dst *Edge, e Edge) {
	dst.L7 = graph.MergeL7(dst.L7, e.L7)
	dst.Flows += e.Flows
	dst.Dropped += e.Dropped
	if !e.First.IsZero() && (dst.First.IsZero() || e.First.Before(dst.First)) {
		dst.First = e.First
	}
	if e.Last.After(dst.Last) {
		dst.Last = e.Last
	}
	for _, s := range e.Services {
		found := false
		for _, d := range dst.Services {
			found = found || d == s
		}
		if !found {
			dst.Services = append(dst.Services, s)
		}
	}
	sort.Strings(dst.Services)
}

func (c *converter) coverage() {
	cov := c.g.Coverage
	w := &c.out.Window
	w.Flows = cov.Flows
	for _, n := range cov.LostEvents {
		w.LostEvents += n
	}
	w.NoDirection, w.Guessed = cov.UndirectedFlows, cov.GuessedFlows
	// The window is the span of the flows read; snapshots from before the
	// graph recorded it fall back to the span of the edges.
	w.Start, w.End = cov.FirstFlow, cov.LastFlow
	fromEdges := w.Start.IsZero()
	for _, e := range c.g.Edges {
		if fromEdges && !e.FirstSeen.IsZero() && (w.Start.IsZero() || e.FirstSeen.Before(w.Start)) {
			w.Start = e.FirstSeen
		}
		if fromEdges && e.LastSeen.After(w.End) {
			w.End = e.LastSeen
		}
		if !e.Allowed() && e.Dropped > 0 && !e.Mirror {
			c.note(fmt.Sprintf("%s -> %s %s: dropped during learning (%d flows) and never allowed; not in policy",
				c.g.Peer(e.From), c.g.Peer(e.To), graph.PortString(&e), e.Dropped))
		}
	}
	if cov.InClusterWorldFlows > 0 {
		c.note(fmt.Sprintf("%d flows showed pods as world (their identity was not resolved on the observing node)", cov.InClusterWorldFlows))
	}
	if cov.MalformedL7 > 0 {
		c.note(fmt.Sprintf("%d L7 requests with a malformed method or URL were left out of the routes: %s", cov.MalformedL7, strings.Join(cov.MalformedL7Notes, "; ")))
	}
}

func (c *converter) note(s string) { c.out.Window.Notes = append(c.out.Window.Notes, s) }

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// dnsLabel makes a workload name usable as a policy and file name.
func dnsLabel(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-', ch == '.':
			b = append(b, ch)
		case ch >= 'A' && ch <= 'Z':
			b = append(b, ch+'a'-'A')
		default:
			b = append(b, '-')
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	for len(b) > 0 && (b[0] == '-' || b[0] == '.') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == '-' || b[len(b)-1] == '.') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "workload"
	}
	return string(b)
}
