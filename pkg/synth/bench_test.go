package synth

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// syntheticGraph is a cluster of n workloads in namespaces of 50, each
// calling three others (a fifth across namespaces), resolving names, and
// every tenth reaching an outside name and an address.
func syntheticGraph(n int) *Graph {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	g := &Graph{NameIPs: map[string][]netip.Addr{}}
	g.Workloads = append(g.Workloads, wl("kube-system", "coredns", "k8s-app", "kube-dns"))
	dns := WorkloadPeer("kube-system", "coredns")
	peer := func(i int) Peer { return WorkloadPeer(fmt.Sprintf("ns-%d", i/50), fmt.Sprintf("svc-%d", i)) }
	for i := 0; i < n; i++ {
		p := peer(i)
		g.Workloads = append(g.Workloads, wl(p.Workload.Namespace, p.Workload.Name, "app", p.Workload.Name))
	}
	t := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	add := func(from, to Peer, proto observe.Protocol, port uint16) {
		g.Edges = append(g.Edges, Edge{From: from, To: to, Protocol: proto, Port: port, Flows: 5, First: t, Last: t.Add(time.Hour)})
	}
	for i := 0; i < n; i++ {
		from := peer(i)
		add(from, dns, observe.ProtoUDP, 53)
		for k := 0; k < 3; k++ {
			j := (i/50)*50 + rng.IntN(50)
			if rng.IntN(5) == 0 {
				j = rng.IntN(n)
			}
			if j >= n || j == i {
				continue
			}
			add(from, peer(j), observe.ProtoTCP, uint16(8080+rng.IntN(3)))
		}
		if i%10 == 0 {
			name := fmt.Sprintf("api-%d.example.com", i)
			g.NameIPs[name] = []netip.Addr{netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})}
			add(from, FQDNPeer(name), observe.ProtoTCP, 443)
			add(from, AddrPeer(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})), observe.ProtoTCP, 5432)
		}
	}
	return g
}

// BenchmarkSynthesis measures plan building and rendering of both
// formats; B/output is the size of all files written.
func BenchmarkSynthesis(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		g := syntheticGraph(n)
		b.Run(fmt.Sprintf("workloads=%d", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				plan, err := Build(g, Options{ExcludeNamespaces: []string{"kube-system"}})
				if err != nil {
					b.Fatal(err)
				}
				files, _, err := plan.Files(FormatBoth)
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, f := range files {
					size += len(f.Data)
				}
			}
			b.ReportMetric(float64(size), "B/output")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/workload")
		})
	}
}
