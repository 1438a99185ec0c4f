package synth

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestGroupRulesIsExactAndSmall(t *testing.T) {
	a, b, c := WorkloadPeer("ns", "a"), WorkloadPeer("ns", "b"), WorkloadPeer("ns", "c")
	tcp := func(ports ...uint16) map[PortKey]bool {
		m := map[PortKey]bool{}
		for _, p := range ports {
			m[PortKey{observe.ProtoTCP, p}] = true
		}
		return m
	}
	cidr := CIDRPeer(netip.MustParsePrefix("192.0.2.0/24"))
	tests := []struct {
		name string
		in   map[Peer]map[PortKey]bool
		want []string
	}{
		{"peers with identical ports share a rule",
			map[Peer]map[PortKey]bool{a: tcp(80, 443), b: tcp(80, 443)},
			[]string{"ns/a,ns/b -> 80/TCP,443/TCP"}},
		{"ports with identical peers share a rule",
			map[Peer]map[PortKey]bool{a: tcp(80, 443), b: tcp(80, 443, 9090), c: tcp(9090)},
			[]string{"ns/a,ns/b -> 80/TCP,443/TCP", "ns/b,ns/c -> 9090/TCP"}},
		{"the smaller grouping wins",
			map[Peer]map[PortKey]bool{a: tcp(80, 9090), b: tcp(80, 9090), c: tcp(80)},
			[]string{"ns/a,ns/b -> 80/TCP,9090/TCP", "ns/c -> 80/TCP"}},
		{"contiguous ports become a range",
			map[Peer]map[PortKey]bool{a: tcp(8080, 8081, 8082, 9000)},
			[]string{"ns/a -> 8080-8082/TCP,9000/TCP"}},
		{"kinds never share a rule",
			map[Peer]map[PortKey]bool{a: tcp(443), cidr: tcp(443)},
			[]string{"ns/a -> 443/TCP", "cidr:192.0.2.0/24 -> 443/TCP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := groupRules(tc.in)
			var got []string
			allowed := map[Peer]map[PortKey]bool{}
			for _, r := range rules {
				s := ""
				for i, p := range r.Peers {
					if i > 0 {
						s += ","
					}
					s += p.String()
				}
				s += " -> " + rangesKey(r.Ports)
				got = append(got, s[:len(s)-1])
				for _, p := range r.Peers {
					for _, pr := range r.Ports {
						for port := pr.Port; port <= max(pr.Port, pr.End); port++ {
							if allowed[p] == nil {
								allowed[p] = map[PortKey]bool{}
							}
							allowed[p][PortKey{pr.Protocol, port}] = true
						}
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.in, allowed); diff != "" {
				t.Errorf("rules allow other than observed (-observed +allowed):\n%s", diff)
			}
		})
	}
}
