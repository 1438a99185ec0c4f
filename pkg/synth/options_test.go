package synth

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestParseGeneralize(t *testing.T) {
	tests := []struct {
		in      []string
		want    Generalize
		wantErr bool
	}{
		{nil, Generalize{}, false},
		{[]string{"world-prefix=24"}, Generalize{WorldPrefixV4: 24}, false},
		{[]string{"world-prefix=24,world-prefix6=64", "world-ingress"}, Generalize{WorldPrefixV4: 24, WorldPrefixV6: 64, WorldIngressEntity: true}, false},
		{[]string{"world-prefix=33"}, Generalize{}, true},
		{[]string{"world-prefix=x"}, Generalize{}, true},
		{[]string{"everything"}, Generalize{}, true},
	}
	for _, tc := range tests {
		got, err := ParseGeneralize(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseGeneralize(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseGeneralize(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseDNSSelector(t *testing.T) {
	got, err := ParseDNSSelector("dns/k8s-app=coredns,tier=node")
	if err != nil {
		t.Fatal(err)
	}
	want := DNSSelector{Namespace: "dns", Labels: map[string]string{"k8s-app": "coredns", "tier": "node"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "kube-system", "kube-system/", "/a=b", "ns/novalue"} {
		if _, err := ParseDNSSelector(bad); err == nil {
			t.Errorf("ParseDNSSelector(%q): no error", bad)
		}
	}
}

// TestGeneralizeWidensOnlyWhenAsked checks the world options change the
// rules exactly as documented, and nothing without them.
func TestGeneralizeWidensOnlyWhenAsked(t *testing.T) {
	web := WorkloadPeer("shop", "web")
	g := &Graph{
		Workloads: []Workload{wl("shop", "web", "app", "web")},
		Edges: []Edge{
			edge(web, AddrPeer(netip.MustParseAddr("198.51.100.20")), observe.ProtoTCP, 443),
			edge(web, AddrPeer(netip.MustParseAddr("198.51.100.21")), observe.ProtoTCP, 443),
			edge(AddrPeer(netip.MustParseAddr("203.0.113.7")), web, observe.ProtoTCP, 8080),
		},
	}
	peersOf := func(rules []Rule) []string {
		var out []string
		for _, r := range rules {
			for _, p := range r.Peers {
				out = append(out, p.String())
			}
		}
		return out
	}
	tests := []struct {
		name        string
		gen         Generalize
		wantEgress  []string
		wantIngress []string
	}{
		{"observed only", Generalize{}, []string{"cidr:198.51.100.20/32", "cidr:198.51.100.21/32"}, []string{"cidr:203.0.113.7/32"}},
		{"prefix 24", Generalize{WorldPrefixV4: 24}, []string{"cidr:198.51.100.0/24"}, []string{"cidr:203.0.113.0/24"}},
		{"world ingress", Generalize{WorldIngressEntity: true}, []string{"cidr:198.51.100.20/32", "cidr:198.51.100.21/32"}, []string{"entity:world"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Build(g, Options{Generalize: tc.gen})
			if err != nil {
				t.Fatal(err)
			}
			wp := plan.Policies[0]
			if diff := cmp.Diff(tc.wantEgress, peersOf(wp.Egress)); diff != "" {
				t.Errorf("egress peers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantIngress, peersOf(wp.Ingress)); diff != "" {
				t.Errorf("ingress peers (-want +got):\n%s", diff)
			}
		})
	}
}
