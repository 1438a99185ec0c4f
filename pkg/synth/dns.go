package synth

import "github.com/netpolgen/netpolgen/pkg/observe"

// dnsRules allow a resolver to reach its DNS servers on 53/UDP and TCP:
// the labelled servers it queried, or the cluster DNS selector when it
// queried none; and, in rules of their own kind, the servers no label
// selects.
func (b *builder) dnsRules(ref WorkloadRef) []Rule {
	ports := []PortRange{{Protocol: observe.ProtoTCP, Port: dnsPort}, {Protocol: observe.ProtoUDP, Port: dnsPort}}
	main := Rule{DNS: true, Ports: ports}
	for p := range b.dnsServers[ref] {
		main.Peers = append(main.Peers, p)
	}
	if len(main.Peers) == 0 {
		sel := b.opts.DNS
		main.DNSSelector = &sel
	}
	sortPeers(main.Peers)
	rules := []Rule{main}
	byKind := map[PeerKind][]Peer{}
	for p := range b.otherDNS[ref] {
		byKind[p.Kind] = append(byKind[p.Kind], p)
	}
	for _, kind := range []PeerKind{PeerEntity, PeerCIDR, PeerFQDN} {
		if peers := byKind[kind]; len(peers) > 0 {
			sortPeers(peers)
			rules = append(rules, Rule{DNS: true, Ports: ports, Peers: peers})
		}
	}
	return rules
}

func addPeer(m map[WorkloadRef]map[Peer]bool, ref WorkloadRef, p Peer) {
	if m[ref] == nil {
		m[ref] = map[Peer]bool{}
	}
	m[ref][p] = true
}
