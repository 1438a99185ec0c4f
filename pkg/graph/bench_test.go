package graph

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// benchSide is the size of the synthetic service mesh: 100 clients times
// 100 servers, one service port each, so 10k edges.
const benchSide = 100

// benchFlows returns a pool of flows over benchSide^2 edges with random
// ephemeral client ports: 45% requests, 45% replies (is_reply), 10%
// without direction, as a modern capture looks.
func benchFlows(n int) []observe.Flow {
	r := rand.New(rand.NewPCG(1, 2))
	clients := make([]observe.Endpoint, benchSide)
	servers := make([]observe.Endpoint, benchSide)
	for i := range benchSide {
		clients[i] = pod("load", fmt.Sprintf("client-%d-7d9f8c6b5-aaaaa", i), fmt.Sprintf("app=client-%d", i), "version=v1", "pod-template-hash=7d9f8c6b5")
		servers[i] = pod("svc", fmt.Sprintf("server-%d-5c9f7d6b8-bbbbb", i), fmt.Sprintf("app=server-%d", i), "version=v1", "pod-template-hash=5c9f7d6b8")
	}
	out := make([]observe.Flow, n)
	for k := range out {
		c, s := r.IntN(benchSide), r.IntN(benchSide)
		f := observe.Flow{
			Time:        time.Unix(1_700_000_000+int64(k), 0),
			Verdict:     flowpb.Verdict_FORWARDED,
			Source:      clients[c],
			Destination: servers[s],
			SrcIP:       netip.AddrFrom4([4]byte{10, 1, 0, byte(c)}),
			DstIP:       netip.AddrFrom4([4]byte{10, 2, 0, byte(s)}),
			L4:          observe.L4{Protocol: observe.ProtoTCP, SrcPort: uint16(32768 + r.IntN(28000)), DstPort: uint16(8000 + s), Flags: observe.FlagACK},
			IsReply:     observe.ReplyFalse,
		}
		switch x := r.IntN(20); {
		case x < 9:
			f.Source, f.Destination = f.Destination, f.Source
			f.SrcIP, f.DstIP = f.DstIP, f.SrcIP
			f.L4.SrcPort, f.L4.DstPort = f.L4.DstPort, f.L4.SrcPort
			f.IsReply = observe.ReplyTrue
		case x < 11:
			f.IsReply = observe.ReplyUnknown
		}
		out[k] = f
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// nextFlow returns flow i of the run: a pool flow with a fresh client
// port, so connections keep coming as in a long capture.
func nextFlow(pool []observe.Flow, i int) *observe.Flow {
	f := &pool[i&(len(pool)-1)]
	port := uint16(32768 + (i*7919)%28000)
	if f.IsReply == observe.ReplyTrue {
		f.L4.DstPort = port
	} else {
		f.L4.SrcPort = port
	}
	return f
}

// BenchmarkFold folds b.N flows (run with -benchtime 10000000x for 10M)
// over 10k edges, and, in the same run, the naive baseline: a
// map[string]int keyed by fmt.Sprintf of the 5-tuple. held-MB is the
// heap each keeps at the end; bytes/edge divides it by the entries of its
// own map (graph edges; 5-tuples for the baseline).
func BenchmarkFold(b *testing.B) {
	pool := benchFlows(1 << 16)

	b.Run("graph", func(b *testing.B) {
		before := heapInUse()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		gb := NewBuilder(Options{})
		for i := range b.N {
			gb.Add(nextFlow(pool, i))
		}
		elapsed := time.Since(start)
		b.StopTimer()
		held := heapInUse() - before
		g := gb.Finish()
		runtime.KeepAlive(gb)
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
		b.ReportMetric(float64(held)/float64(max(1, len(g.Edges))), "bytes/edge")
		b.ReportMetric(float64(held)/1e6, "held-MB")
		b.ReportMetric(float64(len(g.Edges)), "edges")
	})

	b.Run("naive-5tuple", func(b *testing.B) {
		before := heapInUse()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		counts := map[string]int{}
		for i := range b.N {
			f := nextFlow(pool, i)
			counts[fmt.Sprintf("%s|%s|%d|%d|%d", f.SrcIP, f.DstIP, f.L4.SrcPort, f.L4.DstPort, f.L4.Protocol)]++
		}
		elapsed := time.Since(start)
		b.StopTimer()
		held := heapInUse() - before
		runtime.KeepAlive(counts)
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
		b.ReportMetric(float64(held)/float64(max(1, len(counts))), "bytes/edge")
		b.ReportMetric(float64(held)/1e6, "held-MB")
		b.ReportMetric(float64(len(counts)), "edges")
	})
}
