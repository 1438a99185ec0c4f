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
	ports      []synth.PortKey
	// The sweep names peers by their index in peers: hashing a Peer
	// (strings and all) for every candidate cost most of the sweep.
	index map[synth.Peer]int32
	// idsOf are each peer's identities (a workload has one per label set
	// its pods were seen with).
	idsOf   [][]identity.NumericIdentity
	byID    map[identity.NumericIdentity][]int32
	covered map[uint64]struct{}
	// observed holds the observed connections by index; observedOut and
	// observedIn count each peer's, to count candidates without visiting
	// them.
	observed                map[indexedConn]struct{}
	observedOut, observedIn []int
	dnsServers              map[synth.Peer]bool
	resolvers               map[synth.Peer]bool
	res                     *Result
}

// indexedConn is a connection between peers named by index.
type indexedConn struct {
	from, to int32
	port     synth.PortKey
}

func newExcessSweep(v *verdicts, ids *identities, peers []synth.Peer, ports []synth.PortKey, observed map[synth.ConnKey]bool, res *Result) *excessSweep {
	s := &excessSweep{verdicts: v, ids: ids, peers: peers, ports: ports, res: res,
		index: make(map[synth.Peer]int32, len(peers)), idsOf: make([][]identity.NumericIdentity, len(peers)),
		byID: map[identity.NumericIdentity][]int32{}, covered: map[uint64]struct{}{},
		observed: make(map[indexedConn]struct{}, len(observed)), observedOut: make([]int, len(peers)), observedIn: make([]int, len(peers))}
	for i, p := range peers {
		s.index[p] = int32(i)
		for _, id := range ids.byPeer[p] {
			s.idsOf[i] = append(s.idsOf[i], id.ID)
			s.byID[id.ID] = append(s.byID[id.ID], int32(i))
		}
	}
	for k := range observed {
		from, to := s.index[k.From], s.index[k.To]
		s.observed[indexedConn{from, to, k.Port}] = struct{}{}
		s.observedOut[from]++
		s.observedIn[to]++
	}
	return s
}

// conn is the connection a candidate stands for: out of the subject on
// egress, into it on ingress.
func conn(subj, peer int32, port synth.PortKey, ingress bool) indexedConn {
	if ingress {
		return indexedConn{from: peer, to: subj, port: port}
	}
	return indexedConn{from: subj, to: peer, port: port}
}

// subject sweeps one workload. A workload seen with several identities
// allows a candidate when any of them allows it to any of the peer's.
func (s *excessSweep) subject(subjPeer synth.Peer) error {
	subj := s.index[subjPeer]
	var pols []*subjectPolicy
	enforced := map[bool]bool{}
	for _, id := range s.ids.byPeer[subjPeer] {
		pol, err := s.verdicts.of(id)
		if err != nil {
			return fmt.Errorf("verify %s: %w", subjPeer, err)
		}
		pols = append(pols, pol)
		enforced[true] = enforced[true] || pol.epp.SelectorPolicy.IngressPolicyEnabled
		enforced[false] = enforced[false] || pol.epp.SelectorPolicy.EgressPolicyEnabled
	}
	// openToWorld: the subject's policy takes this port from any outside
	// address (a public endpoint), so every outside peer is allowed on it.
	openToWorld := func(port synth.PortKey) bool {
		for _, probe := range s.ids.worldProbes {
			allowed := false
			for _, pol := range pols {
				allowed = allowed || pol.allows(true, probe, port.Protocol, port.Port)
			}
			if !allowed {
				return false
			}
		}
		return len(s.ids.worldProbes) > 0
	}
	allows := func(ingress bool, peer int32, port synth.PortKey) bool {
		for _, pol := range pols {
			for _, id := range s.idsOf[peer] {
				if pol.allows(ingress, id, port.Protocol, port.Port) {
					return true
				}
			}
		}
		return false
	}
	all := len(s.peers) * len(s.ports)
	if enforced[false] {
		s.res.Candidates += all - s.observedOut[subj]
	}
	if enforced[true] {
		s.res.Candidates += all - s.observedIn[subj]
	}
	check := func(peer int32, port synth.PortKey, ingress bool) {
		k := conn(subj, peer, port, ingress)
		if _, seen := s.observed[k]; seen || !allows(ingress, peer, port) {
			return
		}
		from, to := s.peers[k.from], s.peers[k.to]
		if ingress && outside(from) && openToWorld(port) {
			s.res.Public = append(s.res.Public, Finding{From: from, To: to, Port: port, Side: "ingress"})
			return
		}
		if ingress {
			s.classify(from, to, port, "ingress", s.dnsServers[to] && s.resolvers[from])
		} else {
			s.classify(from, to, port, "egress", s.resolvers[from] && s.dnsServers[to])
		}
	}
	if s.exhaustive {
		for _, ingress := range []bool{false, true} {
			if enforced[ingress] {
				for peer := range s.peers {
					for _, port := range s.ports {
						check(int32(peer), port, ingress)
					}
				}
			}
		}
		return nil
	}
	// A candidate is (peer, port, direction), packed into one word so
	// that several entries covering it are looked up once.
	clear(s.covered)
	cover := func(peer int32, port int, ingress bool) {
		k := uint64(peer)<<32 | uint64(port)<<1
		if ingress {
			k |= 1
		}
		s.covered[k] = struct{}{}
	}
	for _, pol := range pols {
		s.coverEntries(pol, enforced, cover)
	}
	for k := range s.covered {
		check(int32(k>>32), s.ports[(k&0xffffffff)>>1], k&1 == 1)
	}
	return nil
}

// coverEntries marks the candidates one policy's allow entries cover.
func (s *excessSweep) coverEntries(pol *subjectPolicy, enforced map[bool]bool, cover func(peer int32, port int, ingress bool)) {
	for key, entry := range pol.epp.Entries() {
		if entry.IsDeny() {
			continue
		}
		ingress := key.TrafficDirection() == trafficdirection.Ingress
		if !enforced[ingress] {
			continue
		}
		for pi, port := range s.ports {
			if !entryCovers(key.Nexthdr, key.DestPort, key.EndPort(), port) {
				continue
			}
			if key.Identity != 0 {
				for _, peer := range s.byID[key.Identity] {
					cover(peer, pi, ingress)
				}
				continue
			}
			for peer := range s.peers {
				cover(int32(peer), pi, ingress)
			}
		}
	}
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
func (s *excessSweep) classify(from, to synth.Peer, port synth.PortKey, side string, dnsPair bool) {
	f := Finding{From: from, To: to, Port: port, Side: side}
	if s.hostAlways && side == "ingress" && from == synth.EntityPeer(synth.EntityHost) {
		s.res.HostAllowed++
		return
	}
	if isDNS(port) && dnsPair {
		s.res.ByDesign = append(s.res.ByDesign, f)
		return
	}
	s.res.Excess = append(s.res.Excess, f)
}

// outside says whether a peer is an address outside the cluster as Cilium
// identifies it: a CIDR, a name's addresses, world, or an API server with
// outside addresses (which Cilium gives CIDR labels).
func outside(p synth.Peer) bool {
	switch p.Kind {
	case synth.PeerCIDR, synth.PeerFQDN:
		return true
	case synth.PeerEntity:
		return p.Entity == synth.EntityWorld || p.Entity == synth.EntityKubeAPIServer
	}
	return false
}
