package synth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// readRecords decodes a generated capture into records the test can
// reorder.
func readRecords(t *testing.T, data []byte) []observe.Record {
	t.Helper()
	src := capture.NewSource([]string{"-"}, capture.Options{Stdin: bytes.NewReader(data)})
	defer src.Close()
	var recs []observe.Record
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, *rec)
	}
}

func synthesizeRecords(t *testing.T, recs []observe.Record, format Format) []byte {
	t.Helper()
	b := graph.NewBuilder(graph.Options{})
	for i := range recs {
		switch recs[i].Kind {
		case observe.KindFlow:
			b.Add(&recs[i].Flow)
		case observe.KindLostEvents:
			b.AddLost(&recs[i].Lost)
		}
	}
	return renderAll(t, FromGraph(b.Finish()), Options{Format: format})
}

// TestShuffledFlowsGiveTheSameBytes learns the same capture in several
// flow orders and wants byte-identical files every time.
func TestShuffledFlowsGiveTheSameBytes(t *testing.T) {
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.Shop(), flowgen.Options{Seed: 3, Duration: 20 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, buf.Bytes())
	for _, format := range []Format{FormatCilium, FormatKubernetes, FormatBoth} {
		want := synthesizeRecords(t, recs, format)
		if len(want) == 0 {
			t.Fatal("nothing rendered")
		}
		for seed := uint64(1); seed <= 3; seed++ {
			shuffled := append([]observe.Record(nil), recs...)
			rand.New(rand.NewPCG(seed, seed)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if got := synthesizeRecords(t, shuffled, format); !bytes.Equal(got, want) {
				t.Errorf("%s, shuffle %d: output differs from the capture order's", format, seed)
			}
		}
	}
}

// TestMoreTrafficChangesOnlyAffectedFiles adds one connection and wants
// only the two workloads' files to change.
func TestMoreTrafficChangesOnlyAffectedFiles(t *testing.T) {
	g := goldenGraphs()["cross-namespace"]
	before := filesByPath(t, g)
	more := *g
	more.Edges = append(append([]Edge(nil), g.Edges...), edge(WorkloadPeer("shop", "checkout"), WorkloadPeer("monitoring", "prometheus"), observe.ProtoTCP, 9091))
	after := filesByPath(t, &more)
	var changed []string
	for p, data := range after {
		if !bytes.Equal(before[p], data) {
			changed = append(changed, p)
		}
	}
	want := map[string]bool{"shop/checkout.yaml": true, "monitoring/prometheus.yaml": true}
	if len(changed) != len(want) {
		t.Fatalf("changed files %v, want %v", changed, want)
	}
	for _, p := range changed {
		if !want[p] {
			t.Errorf("%s changed, want only %v", p, want)
		}
	}
}

func filesByPath(t *testing.T, g *Graph) map[string][]byte {
	t.Helper()
	plan, err := Build(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := plan.Files(FormatCilium)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Path] = f.Data
	}
	return out
}
