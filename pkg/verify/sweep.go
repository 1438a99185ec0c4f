package verify

import (
	"fmt"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/policy/trafficdirection"
	"github.com/cilium/cilium/pkg/u8proto"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// excessSweep finds, for each subject, the never-observed connections
// its policy allows.
//
// Asking the engine about every (peer, port) costs subjects × peers ×
// ports lookups. Instead the sweep walks the subject's distilled policy
// map: a (peer, port) no allow entry covers is denied in an enforced
// direction, so only the combinations some allow entry covers are looked
// up (Lookup still decides, so deny entries keep their precedence). The
// count of candidates is still every never-observed combination, since
// each was decided, most of them by no entry covering it.
type excessSweep struct {
	hostAlways bool
	exhaustive bool
	verdicts   *verdicts
	ids        *identities
	peers      []synth.Peer
	byID       map[identity.NumericIdentity][]synth.Peer
	// observedOut and observedIn count each peer's distinct observed
	// connections on the swept ports, to count candidates without
	// visiting them.
	observedOut, observedIn map[synth.Peer]int
	ports                   []synth.PortKey
	observed                map[synth.ConnKey]bool
	dnsServers              map[synth.Peer]bool
	resolvers               map[synth.Peer]bool
	res                     *Result
}

func newExcessSweep(v *verdicts, ids *identities, peers []synth.Peer, ports []synth.PortKey, observed map[synth.ConnKey]bool, res *Result) *excessSweep {
	s := &excessSweep{verdicts: v, ids: ids, peers: peers, ports: ports, observed: observed, res: res, byID: map[identity.NumericIdentity][]synth.Peer{}}
	for _, p := range peers {
		id := ids.byPeer[p].ID
		s.byID[id] = append(s.byID[id], p)
	}
	s.observedOut, s.observedIn = map[synth.Peer]int{}, map[synth.Peer]int{}
	for k := range observed {
		s.observedOut[k.From]++
		s.observedIn[k.To]++
	}
	return s
}

// conn is the connection a candidate stands for: out of the subject on
// egress, into it on ingress.
func conn(subj, peer synth.Peer, port synth.PortKey, ingress bool) synth.ConnKey {
	if ingress {
		return synth.ConnKey{From: peer, To: subj, Port: port}
	}
	return synth.ConnKey{From: subj, To: peer, Port: port}
}

func (s *excessSweep) subject(subj synth.Peer) error {
	pol, err := s.verdicts.of(s.ids.byPeer[subj])
	if err != nil {
		return fmt.Errorf("verify %s: %w", subj, err)
	}
	enforced := map[bool]bool{true: pol.epp.SelectorPolicy.IngressPolicyEnabled, false: pol.epp.SelectorPolicy.EgressPolicyEnabled}
	all := len(s.peers) * len(s.ports)
	if enforced[false] {
		s.res.Candidates += all - s.observedOut[subj]
	}
	if enforced[true] {
		s.res.Candidates += all - s.observedIn[subj]
	}
	check := func(peer synth.Peer, port synth.PortKey, ingress bool) {
		k := conn(subj, peer, port, ingress)
		if s.observed[k] || !pol.allows(ingress, s.ids.byPeer[peer].ID, port.Protocol, port.Port) {
			return
		}
		if ingress {
			s.classify(k, "ingress", s.dnsServers[subj] && s.resolvers[peer])
		} else {
			s.classify(k, "egress", s.resolvers[subj] && s.dnsServers[peer])
		}
	}
	if s.exhaustive {
		for _, ingress := range []bool{false, true} {
			if enforced[ingress] {
				for _, peer := range s.peers {
					for _, port := range s.ports {
						check(peer, port, ingress)
					}
				}
			}
		}
		return nil
	}
	type candidate struct {
		peer    synth.Peer
		port    synth.PortKey
		ingress bool
	}
	covered := map[candidate]bool{}
	for key, entry := range pol.epp.Entries() {
		if entry.IsDeny() {
			continue
		}
		ingress := key.TrafficDirection() == trafficdirection.Ingress
		if !enforced[ingress] {
			continue
		}
		peers := s.peers
		if key.Identity != 0 {
			peers = s.byID[key.Identity]
		}
		for _, port := range s.ports {
			if !entryCovers(key.Nexthdr, key.DestPort, key.EndPort(), port) {
				continue
			}
			for _, peer := range peers {
				covered[candidate{peer, port, ingress}] = true
			}
		}
	}
	for c := range covered {
		check(c.peer, c.port, c.ingress)
	}
	return nil
}

// entryCovers says whether a policy map entry's protocol and port range
// (0 for any) include a port.
func entryCovers(proto u8proto.U8proto, from, to uint16, port synth.PortKey) bool {
	p, err := u8Proto(port.Protocol)
	if err != nil || (proto != 0 && proto != p) {
		return false
	}
	return from == 0 || (from <= port.Port && port.Port <= to)
}

// classify files an allowed, never-observed connection: DNS on the other
// protocol between a resolver and its server is allowed by design, and
// the node reaching its own pods is the agent's allow-localhost.
func (s *excessSweep) classify(k synth.ConnKey, side string, dnsPair bool) {
	f := Finding{From: k.From, To: k.To, Port: k.Port, Side: side}
	if s.hostAlways && side == "ingress" && k.From == synth.EntityPeer(synth.EntityHost) {
		s.res.HostAllowed++
		return
	}
	if isDNS(k.Port) && dnsPair {
		s.res.ByDesign = append(s.res.ByDesign, f)
		return
	}
	s.res.Excess = append(s.res.Excess, f)
}
