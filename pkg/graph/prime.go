package graph

// Prime tells the builder which ports an earlier graph saw listening, so
// that undirected flows in this segment are directed by evidence from
// before it. Learners that checkpoint, start a new Builder per segment and
// Merge the segments should prime each new Builder with the graph so far;
// otherwise a segment decides its undirected flows on its own evidence
// alone. g must have been built with the same identity rules.
func (b *Builder) Prime(g *Graph) {
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.Direction == DirectionGuessed || e.Mirror || !e.Protocol.HasPorts() {
			continue
		}
		p := &g.Peers[e.To]
		id := b.ids.intern(Peer{
			Kind: p.Kind, Namespace: p.Namespace, Labels: p.Labels, Name: p.Name, ServiceAccount: p.ServiceAccount,
			Entity: p.Entity, CIDR: p.CIDR, SelectorIncomplete: p.SelectorIncomplete, SeenAs: NoPeer,
		})
		if p.Kind == KindExternal {
			b.ids.byAddress[p.CIDR] = id
		}
		b.listeners[portKey{peer: id, port: e.Port, proto: e.Protocol}] = struct{}{}
	}
}
