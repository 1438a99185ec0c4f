package synth

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// clients are n outside addresses spread over /16 networks, each seen
// once, as internet clients of a public site are.
func clients(n int, to Peer, port uint16) []Edge {
	var out []Edge
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i%2), byte(i * 7), byte(1 + i)})
		if i%3 == 2 {
			a = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i)})
		}
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		out = append(out, Edge{From: AddrPeer(a), To: to, Protocol: observe.ProtoTCP, Port: port, Flows: 7, First: at, Last: at})
	}
	return out
}

// publicGraph: web takes 443 from internet clients and 9443 from one
// partner address seen all day; api takes 8443 from the same partner.
func publicGraph(nClients int) *Graph {
	web, api := WorkloadPeer("shop", "web"), WorkloadPeer("shop", "api")
	partner := AddrPeer(netip.MustParseAddr("192.0.2.10"))
	g := &Graph{
		Workloads: []Workload{wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api")},
		Edges: append(clients(nClients, web, 443),
			Edge{From: partner, To: web, Protocol: observe.ProtoTCP, Port: 9443, Flows: 500, First: t0, Last: t0.Add(23 * time.Hour)},
			Edge{From: partner, To: api, Protocol: observe.ProtoTCP, Port: 8443, Flows: 900, First: t0, Last: t0.Add(23 * time.Hour)},
		),
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56")},
		Window:       Window{Start: t0, End: t0.Add(24 * time.Hour)},
	}
	sortEdges(g.Edges)
	return g
}

// decisions renders each decision as "ns/name port=public|exact".
func decisions(t *testing.T, g *Graph, opts Options) (map[string]string, *Plan) {
	t.Helper()
	plan, err := Build(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range plan.Public {
		v := "exact"
		if d.Public {
			v = "public"
		}
		out[d.Endpoint.String()] = v
	}
	return out, plan
}

func TestPublicEndpointDecision(t *testing.T) {
	ref := func(s string) EndpointRef {
		r, err := ParseEndpointRef(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name    string
		clients int
		opts    Options
		graph   func(*Graph)
		want    map[string]string
	}{
		{name: "many clients from many networks", clients: 12,
			want: map[string]string{"shop/web:443/TCP": "public", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "two addresses look like a partner", clients: 2,
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "few but transient clients from several networks", clients: 5,
			want: map[string]string{"shop/web:443/TCP": "public", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "few clients seen all day stay exact", clients: 5,
			graph: func(g *Graph) {
				for i := range g.Edges {
					g.Edges[i].First, g.Edges[i].Last = t0, t0.Add(20*time.Hour)
				}
			},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "the flag closes a public port", clients: 12, opts: Options{NotPublic: []EndpointRef{ref("shop/web:443")}},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "the flag opens a partner's port", clients: 2, opts: Options{Public: []EndpointRef{ref("shop/api")}},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "public"}},
		{name: "world-ingress opens all but what a flag closes", clients: 2,
			opts: Options{Generalize: Generalize{WorldIngressEntity: true}, NotPublic: []EndpointRef{ref("shop/api")}},
			want: map[string]string{"shop/web:443/TCP": "public", "shop/web:9443/TCP": "public", "shop/api:8443/TCP": "exact"}},
		{name: "a port flag beats a workload flag", clients: 12,
			opts: Options{Public: []EndpointRef{ref("shop/web")}, NotPublic: []EndpointRef{ref("shop/web:443")}},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "public", "shop/api:8443/TCP": "exact"}},
		{name: "many private addresses are the organisation's machines, not the internet", clients: 0,
			graph: func(g *Graph) {
				web := WorkloadPeer("shop", "web")
				for i := 0; i < 12; i++ {
					a := netip.AddrFrom4([4]byte{10, byte(i), 0, 5})
					if i%3 == 1 {
						a = netip.AddrFrom4([4]byte{100, 64 + byte(i), 0, 5})
					}
					g.Edges = append(g.Edges, Edge{From: AddrPeer(a), To: web, Protocol: observe.ProtoTCP, Port: 443, Flows: 1, First: t0, Last: t0})
				}
			},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "exact"}},
		{name: "an ingress controller is the front door, however few clients it had", clients: 2,
			graph: func(g *Graph) { g.Workloads[0].Selector = map[string]string{"app.kubernetes.io/name": "ingress-nginx"} },
			want:  map[string]string{"shop/web:443/TCP": "public", "shop/web:9443/TCP": "public", "shop/api:8443/TCP": "exact"}},
		{name: "an ingress controller only the organisation's machines reach stays exact", clients: 0,
			graph: func(g *Graph) {
				g.Workloads[0].Selector = map[string]string{"app": "traefik"}
				g.Edges = []Edge{{From: AddrPeer(netip.MustParseAddr("10.1.2.3")), To: WorkloadPeer("shop", "web"), Protocol: observe.ProtoTCP, Port: 443, Flows: 9, First: t0, Last: t0}}
			},
			want: map[string]string{"shop/web:443/TCP": "exact"}},
		{name: "the flag keeps an ingress controller's port exact", clients: 2, opts: Options{NotPublic: []EndpointRef{ref("shop/web:443")}},
			graph: func(g *Graph) { g.Workloads[0].Selector = map[string]string{"app.kubernetes.io/name": "ingress-nginx"} },
			want:  map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "public", "shop/api:8443/TCP": "exact"}},
		{name: "a LoadBalancer Service in front of the partner port", clients: 2,
			graph: func(g *Graph) {
				g.Exposures = []Exposure{{Workload: WorkloadRef{"shop", "api"}, Port: PortKey{observe.ProtoTCP, 8443}, By: "Service shop/api (LoadBalancer)"}}
			},
			want: map[string]string{"shop/web:443/TCP": "exact", "shop/web:9443/TCP": "exact", "shop/api:8443/TCP": "public"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := publicGraph(tc.clients)
			if tc.graph != nil {
				tc.graph(g)
			}
			got, plan := decisions(t, g, tc.opts)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("decisions = %v, want %v", got, tc.want)
			}
			for _, d := range plan.Public {
				if !strings.HasPrefix(d.Reverse, "--") || d.Why == "" {
					t.Errorf("decision %s has no reason or reversing flag: %+v", d.Endpoint, d)
				}
			}
		})
	}
}

// TestPublicEndpointRules: a public port is open to any outside address on
// that port only; the partner keeps its address on its own port.
func TestPublicEndpointRules(t *testing.T) {
	g := publicGraph(12)
	out := string(renderAll(t, g, Options{Format: FormatBoth}))
	for _, want := range []string{
		"fromEntities:\n    - world\n    toPorts:\n    - ports:\n      - port: \"443\"",
		"ipBlock:\n        cidr: 192.0.2.10/32\n    ports:\n    - port: 9443",
		"fromCIDR:\n    - 192.0.2.10/32\n    toPorts:\n    - ports:\n      - port: \"9443\"",
		"- ipBlock:\n        cidr: 0.0.0.0/0\n        except:\n        - 10.96.0.0/12\n        - 10.244.0.0/16\n    - ipBlock:\n        cidr: ::/0\n        except:\n        - fd00:10:244::/56\n    ports:\n    - port: 443",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"198.18.", "203.0.113."} {
		if strings.Contains(out, unwanted) {
			t.Errorf("a public port's client address %s* is pinned:\n%s", unwanted, out)
		}
	}
}

func TestUnusedEndpointFlagWarns(t *testing.T) {
	ref, _ := ParseEndpointRef("shop/web:8080")
	_, plan := decisions(t, publicGraph(2), Options{Public: []EndpointRef{ref}})
	if !strings.Contains(strings.Join(plan.Warnings, "\n"), "--public-endpoint shop/web:8080/TCP: no ingress from outside") {
		t.Errorf("warnings %q do not name the unused flag", plan.Warnings)
	}
}

func TestParseEndpointRef(t *testing.T) {
	for in, want := range map[string]string{
		"shop/web": "shop/web", "shop/web:443": "shop/web:443/TCP", "kube-system/dns:53/udp": "kube-system/dns:53/UDP",
		"web": "", "shop/web:0": "", "shop/web:http": "", "shop/web:53/ICMP": "", "/web": "",
	} {
		got, err := ParseEndpointRef(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseEndpointRef(%q) = %s, want an error", in, got)
			}
			continue
		}
		if err != nil || got.String() != want {
			t.Errorf("ParseEndpointRef(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
}

func TestEgressHint(t *testing.T) {
	api := WorkloadPeer("shop", "api")
	g := &Graph{Workloads: []Workload{wl("shop", "api", "app", "api")}}
	for i := 1; i <= 3; i++ {
		g.Edges = append(g.Edges, edge(api, AddrPeer(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})), observe.ProtoTCP, 5432))
	}
	plan, err := Build(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.EgressHints) != 1 || !strings.Contains(plan.EgressHints[0], "--generalize world-prefix=24") {
		t.Errorf("hints = %q, want one suggesting world-prefix=24", plan.EgressHints)
	}
	for _, r := range plan.Policies[0].Egress {
		for _, p := range r.Peers {
			if p.Kind == PeerCIDR && p.Prefix.Bits() != 32 {
				t.Errorf("egress widened to %s without --generalize", p.Prefix)
			}
		}
	}
}
