package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// randomFlows draws flows from a small world so that graphs overlap:
// five workloads, host, remote-node and three world addresses; TCP and
// UDP on three service ports; directed and (optionally) undirected
// flows; HTTP and DNS evidence; some drops.
func randomFlows(r *rand.Rand, n int, directedOnly bool) []flowSpec {
	workloads := []observe.Endpoint{
		pod("shop", "frontend-7d9f8c6b5-aaaaa", "app=frontend"),
		pod("shop", "cart-5c9f7d6b8-bbbbb", "app=cart"),
		pod("shop", "cart-5c9f7d6b8-ccccc", "app=cart", "version=v2"),
		pod("pay", "ledger-0", "app.kubernetes.io/name=ledger", "app.kubernetes.io/instance=ledger-a"),
		pod("kube-system", "coredns-558bd4d5db-w2m67", "k8s-app=kube-dns"),
	}
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}
	others := []observe.Endpoint{reserved("host"), reserved("remote-node"), reserved("world"), reserved("world"), reserved("world")}
	otherIPs := []string{"10.0.9.1", "10.0.9.2", "203.0.113.7", "203.0.113.8", "10.0.0.3"}
	ports := []uint16{53, 8080, 9090}
	var out []flowSpec
	for range n {
		var s flowSpec
		i := r.IntN(len(workloads))
		s.src, s.srcIP = workloads[i], ips[i]
		if i == 1 {
			// One workload rolls out often: more identity label sets
			// than a peer keeps, to exercise the cap.
			s.src = pod("shop", "cart-5c9f7d6b8-bbbbb", "app=cart", fmt.Sprintf("pod-template-hash=h%02d", r.IntN(3*MaxIdentities)))
		}
		if r.IntN(4) == 0 {
			j := r.IntN(len(others))
			s.dst, s.dstIP = others[j], otherIPs[j]
		} else {
			j := r.IntN(len(workloads))
			s.dst, s.dstIP = workloads[j], ips[j]
		}
		s.proto = []observe.Protocol{observe.ProtoTCP, observe.ProtoUDP}[r.IntN(2)]
		s.srcPort, s.dstPort = uint16(32768+r.IntN(200)), ports[r.IntN(len(ports))]
		s.at = time.Duration(r.IntN(3600)) * time.Second
		s.node = []string{"node-a", "node-b"}[r.IntN(2)]
		if r.IntN(10) == 0 {
			s.verdict = flowpb.Verdict_DROPPED
		}
		switch k := r.IntN(6); {
		case k == 0 && !directedOnly:
			// undirected
		case k == 1:
			s.l7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, HTTP: &observe.HTTP{Method: "GET", URL: fmt.Sprintf("http://x/items/%d/part%d", r.IntN(100), r.IntN(5))}}
		case k == 2:
			s.l7 = &observe.L7{Type: flowpb.L7FlowType_RESPONSE, DNS: &observe.DNS{
				Query: fmt.Sprintf("svc%d.example.com.", r.IntN(4)), TTL: uint32(r.IntN(600)),
				IPs: []netip.Addr{netip.MustParseAddr(otherIPs[2+r.IntN(2)])},
			}}
		case k == 3:
			s.reply = observe.ReplyTrue
			s.src, s.dst, s.srcIP, s.dstIP = s.dst, s.src, s.dstIP, s.srcIP
			s.srcPort, s.dstPort = s.dstPort, s.srcPort
		default:
			s.reply = observe.ReplyFalse
			if r.IntN(3) == 0 {
				s.dstNames = []string{fmt.Sprintf("name%d.example.org", r.IntN(3))}
			}
		}
		out = append(out, s)
	}
	return out
}

func TestMergeIsAssociativeAndCommutative(t *testing.T) {
	opts := Options{MaxL7: 3}
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		a := buildFrom(t, opts, randomFlows(r, 1+r.IntN(60), false)...)
		b := buildFrom(t, opts, randomFlows(r, 1+r.IntN(60), false)...)
		c := buildFrom(t, opts, randomFlows(r, 1+r.IntN(60), false)...)
		ab, ba := mustMerge(t, a, b), mustMerge(t, b, a)
		if x, y := snapshotBytes(t, ab), snapshotBytes(t, ba); !bytes.Equal(x, y) {
			t.Fatalf("seed %d: Merge(a,b) != Merge(b,a):\n%s", seed, cmp.Diff(string(x), string(y)))
		}
		left, right := mustMerge(t, ab, c), mustMerge(t, a, mustMerge(t, b, c))
		if x, y := snapshotBytes(t, left), snapshotBytes(t, right); !bytes.Equal(x, y) {
			t.Fatalf("seed %d: (a+b)+c != a+(b+c):\n%s", seed, cmp.Diff(string(x), string(y)))
		}
		loaded, err := Load(bytes.NewReader(snapshotBytes(t, left)), "merged")
		if err != nil {
			t.Fatal(err)
		}
		if x, y := snapshotBytes(t, left), snapshotBytes(t, loaded); !bytes.Equal(x, y) {
			t.Fatalf("seed %d: merged snapshot does not round-trip:\n%s", seed, cmp.Diff(string(x), string(y)))
		}
	}
}

// When every flow states its direction, learning in shards and merging
// gives exactly what one learner over all flows gives.
func TestShardedLearnersMergeToTheWholeGraph(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		flows := randomFlows(r, 200, true)
		whole := buildFrom(t, Options{}, flows...)
		var byNode [2][]flowSpec
		for _, f := range flows {
			if f.node == "node-a" {
				byNode[0] = append(byNode[0], f)
			} else {
				byNode[1] = append(byNode[1], f)
			}
		}
		a := buildFrom(t, Options{NodeNames: []string{"node-a"}}, byNode[0]...)
		b := buildFrom(t, Options{NodeNames: []string{"node-b"}}, byNode[1]...)
		merged := mustMerge(t, a, b)
		merged.Options.NodeNames = nil // the union of both shards is every node
		if x, y := snapshotBytes(t, whole), snapshotBytes(t, merged); !bytes.Equal(x, y) {
			t.Fatalf("seed %d: sharded merge differs from the whole:\n%s", seed, cmp.Diff(string(x), string(y)))
		}
	}
}

func mustMerge(t *testing.T, a, b *Graph) *Graph {
	t.Helper()
	g, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMergeRefusesDifferentIdentityRules(t *testing.T) {
	a := buildFrom(t, Options{}, toServerSYN(40001))
	b := buildFrom(t, Options{KeepLabels: []string{"version"}}, toServerSYN(40001))
	_, err := Merge(a, b)
	if err == nil || !strings.Contains(err.Error(), "different identity rules") {
		t.Errorf("err = %v, want a different identity rules error", err)
	}
}

func TestNodeFilterAndLostEvents(t *testing.T) {
	b := NewBuilder(Options{NodeNames: []string{"node-a"}})
	b.Add(with(toServerSYN(40001), func(s *flowSpec) { s.node = "node-a" }).flow())
	b.Add(with(toServerSYN(40002), func(s *flowSpec) { s.node = "node-b" }).flow())
	b.AddLost(&observe.LostEvent{Source: flowpb.LostEventSource_PERF_EVENT_RING_BUFFER, NumLost: 12, NodeName: "node-a"})
	b.AddLost(&observe.LostEvent{Source: flowpb.LostEventSource_PERF_EVENT_RING_BUFFER, NumLost: 5, NodeName: "node-b"})
	g := b.Finish()
	if len(g.Edges) != 1 || g.Edges[0].Count != 1 {
		t.Fatalf("edges = %v, want one edge of one flow", edgeLines(g, g.Edges))
	}
	// The window covers every flow read, filtered or not, as Flows does.
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	want := Coverage{Flows: 2, FirstFlow: at, LastFlow: at, Skipped: map[string]uint64{"node-filter": 1}, LostNotices: 1, LostEvents: map[string]uint64{"PERF_EVENT_RING_BUFFER": 12}}
	if diff := cmp.Diff(want, g.Coverage); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}
}

func TestMemoryDoesNotGrowWithFlows(t *testing.T) {
	b := NewBuilder(Options{MaxPending: 64})
	for i := range 20000 {
		// Directed flows from ever new client ports: one edge.
		b.Add(toServerSYN(uint16(32768 + i%28000)).flow())
		// Undirected flows from ever new client ports: pending is capped.
		b.Add(with(toServer(uint16(32768+i%28000), observe.ProtoTCP), func(s *flowSpec) { s.flags = observe.FlagACK }).flow())
	}
	if len(b.edges) != 1 || len(b.pending) > 64 || len(b.ids.peers) != 2 || len(b.listeners) != 1 {
		t.Errorf("state grew: %d edges, %d pending, %d peers, %d listeners", len(b.edges), len(b.pending), len(b.ids.peers), len(b.listeners))
	}
	g := b.Finish()
	if len(g.Edges) != 1 || g.Edges[0].Count != 40000 || len(g.Edges[0].sample) > sampleSize {
		t.Errorf("edges = %v (count %d), want one edge with all 40000 flows", edgeLines(g, g.Edges), g.Edges[0].Count)
	}
}

func TestExternalPeersGetDNSNamesWhileTheTTLHolds(t *testing.T) {
	answer := func(at time.Duration, name string, ttl uint32, ip string) flowSpec {
		return flowSpec{
			src: pod("kube-system", "coredns-558bd4d5db-w2m67", "k8s-app=kube-dns"), dst: client,
			srcIP: "10.0.0.53", dstIP: clientIP, proto: observe.ProtoUDP, srcPort: 53, dstPort: 40000, at: at,
			l7: &observe.L7{Type: flowpb.L7FlowType_RESPONSE, DNS: &observe.DNS{Query: name + ".", TTL: ttl, IPs: []netip.Addr{netip.MustParseAddr(ip)}}},
		}
	}
	toWorld := func(at time.Duration, ip string, names ...string) flowSpec {
		return flowSpec{src: client, dst: reserved("world"), srcIP: clientIP, dstIP: ip, srcPort: 40001, dstPort: 443, flags: observe.FlagSYN, at: at, dstNames: names}
	}
	g := buildFrom(t, Options{},
		answer(0, "api.example.com", 30, "203.0.113.7"),
		toWorld(10*time.Second, "203.0.113.7"),
		answer(0, "stale.example.com", 5, "203.0.113.8"),
		toWorld(time.Hour, "203.0.113.8"),
		toWorld(0, "198.51.100.1", "cdn.example.net"),
	)
	got := map[string][]string{}
	for _, p := range g.Peers {
		if p.Kind == KindExternal {
			got[p.CIDR.String()] = p.DNSNames
		}
	}
	want := map[string][]string{
		"203.0.113.7/32":  {"api.example.com"},
		"203.0.113.8/32":  nil,
		"198.51.100.1/32": {"cdn.example.net"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("external names (-want +got):\n%s", diff)
	}
	// Queries to a DNS server out in the world are what was asked, not
	// names of the server.
	resolver := buildFrom(t, Options{}, flowSpec{
		src: client, dst: reserved("world"), srcIP: clientIP, dstIP: "8.8.8.8", proto: observe.ProtoUDP, srcPort: 40000, dstPort: 53,
		l7: &observe.L7{Type: flowpb.L7FlowType_REQUEST, DNS: &observe.DNS{Query: "api.example.com."}},
	})
	if e, p := resolver.Edges[0], resolver.Peers[resolver.Edges[0].To]; len(e.DNSNames) != 0 || len(p.DNSNames) != 0 ||
		!cmp.Equal(e.DNSQueries, []string{"api.example.com"}) {
		t.Errorf("resolver edge names %v, queries %v, peer names %v; want only the query", e.DNSNames, e.DNSQueries, p.DNSNames)
	}
	if len(g.DNS) != 2 || g.DNS[0].Name != "api.example.com" || g.DNS[0].TTL != 30 {
		t.Errorf("DNS records = %+v", g.DNS)
	}
}

func TestCIDRAggregationAndClusterRanges(t *testing.T) {
	toWorld := func(ip string) flowSpec {
		return flowSpec{src: client, dst: reserved("world"), srcIP: clientIP, dstIP: ip, srcPort: 40001, dstPort: 443, flags: observe.FlagSYN}
	}
	g := buildFrom(t, Options{CIDRPrefixV4: 24, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}},
		toWorld("203.0.113.7"), toWorld("203.0.113.8"), toWorld("10.96.0.10"))
	want := []string{"shop/frontend -> 10.96.0.0/24 443/TCP", "shop/frontend -> 203.0.113.0/24 443/TCP"}
	if diff := cmp.Diff(want, edgeLines(g, g.Edges)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if !g.Peers[g.Edges[0].To].InClusterIP || g.Peers[g.Edges[1].To].InClusterIP {
		t.Errorf("InClusterIP: 10.96.0.0/24 should be flagged, 203.0.113.0/24 not")
	}

	// Without aggregation: an address next to a pod is a guess, one in a
	// cluster range is not.
	g = buildFrom(t, Options{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}},
		toWorld("10.0.1.77"), toWorld("10.96.0.10"), toWorld("203.0.113.7"))
	reasons := map[string]string{}
	for _, p := range g.Peers {
		if p.Kind == KindExternal {
			reasons[p.CIDR.String()] = p.InClusterReason.String()
		}
	}
	want2 := map[string]string{"10.0.1.77/32": "near-pods", "10.96.0.10/32": "cluster-cidr", "203.0.113.7/32": ""}
	if diff := cmp.Diff(want2, reasons); diff != "" {
		t.Errorf("in-cluster reasons (-want +got):\n%s", diff)
	}
}
