package synth

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestFromGraph(t *testing.T) {
	g := &graph.Graph{
		Peers: []graph.Peer{
			0: {Kind: graph.KindExternal, CIDR: netip.MustParsePrefix("10.244.1.7/32"), InClusterIP: true, SeenAs: 3},
			1: {Kind: graph.KindExternal, CIDR: netip.MustParsePrefix("10.244.1.9/32"), InClusterIP: true, SeenAs: graph.NoPeer},
			2: {Kind: graph.KindExternal, CIDR: netip.MustParsePrefix("140.82.121.6/32"), DNSNames: []string{"api.github.com", "github.com"}, SeenAs: graph.NoPeer},
			3: {Kind: graph.KindWorkload, Namespace: "shop", Name: "api", Labels: map[string]string{"app": "api"}, SeenAs: graph.NoPeer},
			4: {Kind: graph.KindWorkload, Namespace: "shop", Name: "api", Labels: map[string]string{"app.kubernetes.io/name": "api"}, SeenAs: graph.NoPeer},
			5: {Kind: graph.KindReserved, Entity: "host", SeenAs: graph.NoPeer},
		},
		Edges: []graph.Edge{
			{From: 3, To: 2, Protocol: observe.ProtoTCP, Port: 443, Count: 4, Verdicts: graph.VerdictForwarded},
			{From: 0, To: 4, Protocol: observe.ProtoTCP, Port: 8080, Count: 2, Verdicts: graph.VerdictForwarded},
			{From: 1, To: 4, Protocol: observe.ProtoTCP, Port: 8080, Count: 1, Verdicts: graph.VerdictForwarded},
			{From: 5, To: 3, Protocol: observe.ProtoTCP, Port: 8081, Count: 6, Verdicts: graph.VerdictForwarded},
			{From: 5, To: 3, Protocol: observe.ProtoICMPv4, ICMPType: 8, Count: 3, Verdicts: graph.VerdictForwarded},
			{From: 4, To: 3, Protocol: observe.ProtoTCP, Port: 9000, Dropped: 5, Verdicts: graph.VerdictDropped},
		},
		DNS: []graph.DNSRecord{{Name: "api.github.com", IPs: []string{"140.82.121.6", "140.82.121.5"}}},
	}
	sg := FromGraph(g)

	var workloads []string
	for _, w := range sg.Workloads {
		workloads = append(workloads, w.WorkloadRef.String())
	}
	if diff := cmp.Diff([]string{"shop/api", "shop/api-2"}, workloads); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	var edges []string
	for _, e := range sg.Edges {
		edges = append(edges, e.From.String()+" -> "+e.To.String()+" "+e.Key().Port.String())
	}
	want := []string{
		"shop/api -> shop/api-2 8080/TCP",         // the pod seen as world, named by the graph
		"shop/api -> fqdn:api.github.com 443/TCP", // one edge per DNS name
		"shop/api -> fqdn:github.com 443/TCP",
		"entity:host -> shop/api 8081/TCP",
		"entity:host -> shop/api ICMPv4 type 8", // a ping: its type stands where a port would
	}
	if diff := cmp.Diff(want, edges); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{netip.MustParseAddr("140.82.121.5"), netip.MustParseAddr("140.82.121.6")}, sg.NameIPs["api.github.com"], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("NameIPs (-want +got):\n%s", diff)
	}
	notes := strings.Join(sg.Window.Notes, "\n")
	for _, want := range []string{"10.244.1.9/32 -> shop/api", "seen only as world", "dropped during learning (5 flows)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestDNSLabel(t *testing.T) {
	tests := map[string]string{
		"reviews":                      "reviews",
		"Jaeger_Default":               "jaeger-default",
		"-odd-":                        "odd",
		"":                             "workload",
		strings.Repeat("a", 62) + "-b": strings.Repeat("a", 62),
	}
	for in, want := range tests {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
