package verify

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// benchGraph is n workloads in namespaces of 50, each calling three
// others on one of three ports and resolving names through kube-dns.
func benchGraph(n int) *synth.Graph {
	rng := rand.New(rand.NewPCG(uint64(n), 2))
	g := &synth.Graph{Workloads: []synth.Workload{wl("kube-system", "coredns", "k8s-app", "kube-dns")}}
	peer := func(i int) synth.Peer {
		return synth.WorkloadPeer(fmt.Sprintf("ns-%d", i/50), fmt.Sprintf("svc-%d", i))
	}
	for i := 0; i < n; i++ {
		p := peer(i)
		g.Workloads = append(g.Workloads, wl(p.Workload.Namespace, p.Workload.Name, "app", p.Workload.Name))
		g.Edges = append(g.Edges, edge(p, coredns, observe.ProtoUDP, 53))
		for k := 0; k < 3; k++ {
			if j := (i/50)*50 + rng.IntN(50); j < n && j != i {
				g.Edges = append(g.Edges, edge(p, peer(j), observe.ProtoTCP, uint16(8080+rng.IntN(3))))
			}
		}
	}
	return g
}

// BenchmarkVerify measures the whole proof: parsing, every observed
// connection through LookupFlow, and the excess sweep, whose work grows
// with subjects × peers × ports.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		g := benchGraph(n)
		opts := synth.Options{Format: synth.FormatCilium, ExcludeNamespaces: []string{"kube-system"}}
		plan, err := synth.Build(g, opts)
		if err != nil {
			b.Fatal(err)
		}
		files, _, err := plan.Files(opts.Format)
		if err != nil {
			b.Fatal(err)
		}
		ps, err := FromFiles(files)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("workloads=%d", n), func(b *testing.B) {
			var res *Result
			for b.Loop() {
				if res, err = Verify(g, ps, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			if !res.OK() || len(res.Excess) != 0 {
				b.Fatalf("denied %d, excess %d", len(res.Denied), len(res.Excess))
			}
			b.ReportMetric(float64(res.Candidates), "candidates")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(res.Candidates), "ns/candidate")
		})
	}
}

// BenchmarkVerifyObservedIdentities is BenchmarkVerify with every
// workload seen with two identity label sets (two rollouts), as graphs
// learned from flows are: each observed connection is looked up for all
// four pairs and the sweep walks both identities' policies.
func BenchmarkVerifyObservedIdentities(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		g := withIdentities(benchGraph(n), true)
		opts := synth.Options{Format: synth.FormatCilium, ExcludeNamespaces: []string{"kube-system"}}
		plan, err := synth.Build(g, opts)
		if err != nil {
			b.Fatal(err)
		}
		files, _, err := plan.Files(opts.Format)
		if err != nil {
			b.Fatal(err)
		}
		ps, err := FromFiles(files)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("workloads=%d", n), func(b *testing.B) {
			var res *Result
			for b.Loop() {
				if res, err = Verify(g, ps, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			if !res.OK() || len(res.Excess) != 0 || res.IdentityNote != "" {
				b.Fatalf("denied %d, excess %d, note %q", len(res.Denied), len(res.Excess), res.IdentityNote)
			}
			b.ReportMetric(float64(res.Candidates), "candidates")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(res.Candidates), "ns/candidate")
		})
	}
}
