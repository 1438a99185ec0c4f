package synth

// egressPeer maps an edge's destination to the peer a rule names.
func (b *builder) egressPeer(e Edge) (Peer, bool) {
	switch e.To.Kind {
	case PeerWorkload:
		if b.labelledWorkload(e.To) == nil {
			b.skip(e, "the destination workload has no stable labels to select it by")
			return Peer{}, false
		}
	case PeerCIDR:
		return b.widen(e.To), true
	}
	return e.To, true
}

// ingressPeer maps an edge's source to the peer a rule names.
func (b *builder) ingressPeer(e Edge) (Peer, bool) {
	p := e.From
	switch p.Kind {
	case PeerWorkload:
		if b.labelledWorkload(p) == nil {
			b.skip(e, "the source workload has no stable labels to select it by")
			return Peer{}, false
		}
		return p, true
	case PeerFQDN:
		// Ingress cannot match names; fall back to what the name resolved to.
		ips := b.g.NameIPs[p.FQDN]
		if len(ips) == 0 || b.publicPort(e) {
			return EntityPeer(EntityWorld), true
		}
		return b.widen(AddrPeer(ips[0])), true
	case PeerCIDR:
		if b.publicPort(e) {
			return EntityPeer(EntityWorld), true
		}
		return b.widen(p), true
	}
	return p, true
}

// publicPort says whether the edge's destination port was decided a
// public endpoint, open to any outside address.
func (b *builder) publicPort(e Edge) bool {
	d := b.public[EndpointRef{Workload: e.To.Workload, Port: PortKey{e.Protocol, e.Port}}]
	return d != nil && d.Public
}

// widen applies the user's --generalize world prefix to an address.
func (b *builder) widen(p Peer) Peer {
	bits := b.opts.Generalize.WorldPrefixV4
	if p.Prefix.Addr().Is6() {
		bits = b.opts.Generalize.WorldPrefixV6
	}
	if bits == 0 || bits >= p.Prefix.Bits() {
		return p
	}
	wide, err := p.Prefix.Addr().Prefix(bits)
	if err != nil {
		return p
	}
	return CIDRPeer(wide)
}
