package drift

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// BenchmarkEvaluate is one interval's work on a large cluster: classify
// the whole learned graph against the policies learned from it.
//
//	go test ./pkg/drift -run '^$' -bench Evaluate -benchtime 3x
func BenchmarkEvaluate(b *testing.B) {
	for _, size := range []struct{ namespaces, workloads int }{{5, 60}, {20, 500}} {
		b.Run(fmt.Sprintf("%dns-%dwl", size.namespaces, size.workloads), func(b *testing.B) {
			sc, err := flowgen.Large(flowgen.DefaultLargeConfig(size.namespaces, size.workloads))
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 7, Duration: 30 * time.Minute, MaxFlows: 400_000}, &buf); err != nil {
				b.Fatal(err)
			}
			g, ps := learnPolicies(b, capture.NewSource([]string{"-"}, capture.Options{Stdin: &buf}))
			var end time.Time
			for _, e := range g.Edges {
				if e.LastSeen.After(end) {
					end = e.LastSeen
				}
			}
			in := classifyInput{graph: g, policies: ps, now: end, staleAfter: DefaultStaleAfter, firstKnown: map[string]time.Time{}}
			b.ResetTimer()
			var res *classified
			for i := 0; i < b.N; i++ {
				if res, err = classify(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.checked), "connections")
			b.ReportMetric(float64(res.rules), "rules")
			b.ReportMetric(float64(len(res.findings)), "findings")
			var snapshot bytes.Buffer
			if err := g.Save(&snapshot); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(snapshot.Len()), "checkpoint-graph-bytes")
		})
	}
}

// BenchmarkFollowReplay measures how fast drift takes flows from a Hubble
// server: a local replay of the shop, read to its end through the live
// source while evaluations run every 200ms.
//
//	go test ./pkg/drift -run '^$' -bench FollowReplay -benchtime 1x
func BenchmarkFollowReplay(b *testing.B) {
	var buf bytes.Buffer
	shop := flowgen.Shop()
	shop.LostEvents = 0 // every line is a flow, so the count below is exact
	if _, err := flowgen.Generate(shop, flowgen.Options{Seed: 9, Duration: 24 * time.Hour, MaxFlows: 300_000}, &buf); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	path := dir + "/flows.json"
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := replay.LoadCapture(path)
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := replay.NewServer(c, replay.Options{}).NewGRPCServer()
	go g.Serve(lis)
	defer g.Stop()
	_, ps := learnPolicies(b, capture.NewSource([]string{path}, capture.Options{}))
	total := uint64(bytes.Count(buf.Bytes(), []byte("\n")))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := NewRunner(Options{
			Open: func(ctx context.Context, since time.Time, hooks SourceHooks) (observe.Source, error) {
				return hubble.NewSource(ctx, hubble.Options{Server: lis.Addr().String(), Follow: true, Since: flowgen.DefaultStart(), OnReconnect: hooks.OnReconnect})
			},
			Follow: true, Policies: fixedPolicies{ps}, Interval: 200 * time.Millisecond,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { r.Run(ctx); close(done) }()
		for r.flows.Load() < total {
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("read %d of %d flows in 5 minutes", r.flows.Load(), total)
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		cancel()
		<-done
		b.ReportMetric(float64(total)/elapsed.Seconds(), "flows/s")
	}
}

// learnPolicies folds a capture and synthesizes its CiliumNetworkPolicies,
// as learn does.
func learnPolicies(b *testing.B, src observe.Source) (*graph.Graph, *verify.Policies) {
	b.Helper()
	defer src.Close()
	g, err := graph.Build(context.Background(), src, graph.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := synth.Build(synth.FromGraph(g), synth.Options{Format: synth.FormatCilium})
	if err != nil {
		b.Fatal(err)
	}
	files, _, err := plan.Files(synth.FormatCilium)
	if err != nil {
		b.Fatal(err)
	}
	ps, err := verify.FromFiles(files)
	if err != nil {
		b.Fatal(err)
	}
	return g, ps
}
