package synth

import (
	"fmt"
	"sort"
	"strings"
)

// groupRules folds per-peer port sets into as few rules as stay exact:
// peers of one kind with identical port sets share a rule, so each rule
// lists all ports those peers share, and contiguous ports become ranges.
// Every (peer, port) a rule allows was observed.
func groupRules(peerPorts map[Peer]map[PortKey]bool) []Rule {
	type group struct {
		ports []PortKey
		peers []Peer
	}
	groups := map[string]*group{}
	for peer, set := range peerPorts {
		ports := sortedPorts(set)
		key := ruleClass(peer) + "|" + portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		g.peers = append(g.peers, peer)
	}
	rules := make([]Rule, 0, len(groups))
	for _, g := range groups {
		sortPeers(g.peers)
		rules = append(rules, Rule{Peers: g.peers, Ports: portRanges(g.ports)})
	}
	sort.Slice(rules, func(i, j int) bool { return ruleLess(rules[i], rules[j]) })
	return rules
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
			if last.Protocol == p.Protocol && end+1 == p.Port && end != 0xffff {
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

// String writes "80/TCP" or "8080-8090/TCP".
func (r PortRange) String() string {
	if r.End == 0 {
		return PortKey{r.Protocol, r.Port}.String()
	}
	return fmt.Sprintf("%d-%d/%s", r.Port, r.End, r.Protocol)
}
