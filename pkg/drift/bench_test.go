package drift

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
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
			var capture bytes.Buffer
			if _, err := flowgen.Generate(sc, flowgen.Options{Seed: 7, Duration: 30 * time.Minute, MaxFlows: 400_000}, &capture); err != nil {
				b.Fatal(err)
			}
			src := observe.NewFileSource([]string{"-"}, observe.FileOptions{Stdin: &capture})
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
		})
	}
}
