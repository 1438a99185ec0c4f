package synth

import (
	"fmt"
	"sort"
	"strings"
)

// groupRules folds the observed (peer, port) pairs into as few rules as
// stay exact. Within each kind of peer it tries two groupings and keeps
// the smaller: peers with identical port sets sharing a rule, or ports
// with identical peer sets sharing a rule. Either way every (peer, port)
// a rule allows was observed; contiguous ports become ranges afterwards.
func groupRules(peerPorts map[Peer]map[PortKey]bool) []Rule {
	byClass := map[string]map[Peer]map[PortKey]bool{}
	for peer, ports := range peerPorts {
		c := ruleClass(peer)
		if byClass[c] == nil {
			byClass[c] = map[Peer]map[PortKey]bool{}
		}
		byClass[c][peer] = ports
	}
	var rules []Rule
	for _, class := range byClass {
		byPeer, byPort := groupByPortSet(class), groupByPeerSet(class)
		if size(byPort) < size(byPeer) {
			rules = append(rules, byPort...)
		} else {
			rules = append(rules, byPeer...)
		}
	}
	sort.Slice(rules, func(i, j int) bool { return ruleLess(rules[i], rules[j]) })
	return rules
}

// size ranks groupings: fewer rules first, then fewer listed peers and
// port ranges, which is what a reviewer reads.
func size(rules []Rule) int {
	n := 0
	for _, r := range rules {
		n += len(r.Peers) + len(r.Ports)
	}
	return len(rules)<<32 | n
}

// groupByPortSet gives peers with identical port sets one rule.
func groupByPortSet(peerPorts map[Peer]map[PortKey]bool) []Rule {
	groups := map[string]*Rule{}
	var keys []string
	for peer, set := range peerPorts {
		ports := sortedPorts(set)
		key := portsKey(ports)
		r := groups[key]
		if r == nil {
			r = &Rule{Ports: portRanges(ports)}
			groups[key] = r
			keys = append(keys, key)
		}
		r.Peers = append(r.Peers, peer)
	}
	return collect(groups, keys)
}

// groupByPeerSet gives ports with identical peer sets one rule.
func groupByPeerSet(peerPorts map[Peer]map[PortKey]bool) []Rule {
	portPeers := map[PortKey][]Peer{}
	for peer, set := range peerPorts {
		for port := range set {
			portPeers[port] = append(portPeers[port], peer)
		}
	}
	groups := map[string]*Rule{}
	members := map[string]map[PortKey]bool{}
	var keys []string
	for port, peers := range portPeers {
		sortPeers(peers)
		key := peersKey(peers)
		if groups[key] == nil {
			groups[key] = &Rule{Peers: peers}
			members[key] = map[PortKey]bool{}
			keys = append(keys, key)
		}
		members[key][port] = true
	}
	for key, r := range groups {
		r.Ports = portRanges(sortedPorts(members[key]))
	}
	return collect(groups, keys)
}

func collect(groups map[string]*Rule, keys []string) []Rule {
	sort.Strings(keys)
	out := make([]Rule, 0, len(keys))
	for _, k := range keys {
		r := groups[k]
		sortPeers(r.Peers)
		out = append(out, *r)
	}
	return out
}

func peersKey(peers []Peer) string {
	var sb strings.Builder
	for _, p := range peers {
		sb.WriteString(peerSortKey(p))
		sb.WriteByte(',')
	}
	return sb.String()
}

// ruleClass keeps peers that one CiliumNetworkPolicy rule cannot combine
// (endpoints, entities, CIDRs, names) in separate rules.
func ruleClass(p Peer) string {
	return string(rune('0' + p.Kind))
}

func sortedPorts(set map[PortKey]bool) []PortKey {
	ports := make([]PortKey, 0, len(set))
	for p := range set {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Protocol != ports[j].Protocol {
			return ports[i].Protocol < ports[j].Protocol
		}
		return ports[i].Port < ports[j].Port
	})
	return ports
}

func portsKey(ports []PortKey) string {
	var sb strings.Builder
	for _, p := range ports {
		sb.WriteString(p.String())
		sb.WriteByte(',')
	}
	return sb.String()
}

// portRanges merges sorted ports into ranges of consecutive numbers.
func portRanges(ports []PortKey) []PortRange {
	var out []PortRange
	for _, p := range ports {
		if n := len(out); n > 0 {
			last := &out[n-1]
			end := last.Port
			if last.End != 0 {
				end = last.End
			}
			// ICMP types are allowed one by one: a rule cannot name a range.
			if last.Protocol == p.Protocol && !p.Protocol.IsICMP() && end+1 == p.Port && end != 0xffff {
				last.End = p.Port
				continue
			}
		}
		out = append(out, PortRange{Protocol: p.Protocol, Port: p.Port})
	}
	return out
}

func ruleLess(a, b Rule) bool {
	if x, y := peerSortKey(a.Peers[0]), peerSortKey(b.Peers[0]); x != y {
		return x < y
	}
	return rangesKey(a.Ports) < rangesKey(b.Ports)
}

func rangesKey(rs []PortRange) string {
	var sb strings.Builder
	for _, r := range rs {
		sb.WriteString(r.String())
		sb.WriteByte(',')
	}
	return sb.String()
}

// String writes "80/TCP", "8080-8090/TCP" or "ICMPv4 type 8".
func (r PortRange) String() string {
	if r.End == 0 {
		return PortKey{r.Protocol, r.Port}.String()
	}
	return fmt.Sprintf("%d-%d/%s", r.Port, r.End, r.Protocol)
}
