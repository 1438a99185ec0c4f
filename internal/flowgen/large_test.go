package flowgen

import (
	"bytes"
	"io"
	"sort"
	"testing"
	"time"
)

func TestLargeScenarioShape(t *testing.T) {
	s, err := Large(DefaultLargeConfig(20, 2000))
	if err != nil {
		t.Fatal(err)
	}
	fanOut := map[int]int{}
	namespaces := map[string]bool{}
	var cross, denied, udp, world, calls int
	for _, c := range s.Calls {
		if c.From.Kind != PeerWorkload {
			continue
		}
		calls++
		fanOut[c.From.Workload]++
		switch {
		case c.Denied:
			denied++
		case c.To.Kind == PeerWorld:
			world++
		case c.To.Kind == PeerWorkload && s.Workloads[c.From.Workload].Namespace != s.Workloads[c.To.Workload].Namespace:
			cross++
		}
		if c.Protocol.String() == "UDP" {
			udp++
		}
	}
	for _, w := range s.Workloads {
		namespaces[w.Namespace] = true
	}
	if len(namespaces) != 21 || len(s.Workloads) != 2001 {
		t.Errorf("%d namespaces and %d workloads, want 21 (with kube-system) and 2001 (with coredns)", len(namespaces), len(s.Workloads))
	}
	counts := make([]int, 0, len(fanOut))
	for _, n := range fanOut {
		counts = append(counts, n)
	}
	sort.Ints(counts)
	median, top := counts[len(counts)/2], counts[len(counts)-1]
	if top < 5*median {
		t.Errorf("fan-out is not heavy-tailed: median %d, max %d", median, top)
	}
	for name, n := range map[string]int{"cross-namespace": cross, "denied": denied, "UDP": udp, "world": world} {
		if n == 0 {
			t.Errorf("no %s calls among %d", name, calls)
		}
	}
}

func TestLargeIsDeterministicAndStreams(t *testing.T) {
	gen := func() ([]byte, *Truth) {
		s, err := Large(DefaultLargeConfig(5, 200))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		truth, err := Generate(s, Options{Seed: 9, Duration: 10 * time.Minute}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), truth
	}
	a, truth := gen()
	b, _ := gen()
	if !bytes.Equal(a, b) {
		t.Error("the same config gave different captures")
	}
	if truth.Flows == 0 || len(truth.Connections) < 200 {
		t.Errorf("%d flows and %d connections from 200 workloads", truth.Flows, len(truth.Connections))
	}
}

// More pods than one agent has endpoint IDs for (4095) must still
// generate: IDs are unique per node, as in Cilium.
func TestLargeClusterBeyondOneAgentsEndpointIDs(t *testing.T) {
	s, err := Large(DefaultLargeConfig(50, 5000))
	if err != nil {
		t.Fatal(err)
	}
	pods := 0
	for _, w := range s.Workloads {
		pods += w.Replicas
	}
	if pods <= 4095 {
		t.Fatalf("only %d pods: the test needs more than 4095", pods)
	}
	truth, err := Generate(s, Options{Seed: 1, MaxFlows: 1000}, io.Discard)
	if err != nil || truth.Flows < 1000 {
		t.Fatalf("generate: %v (%+v)", err, truth)
	}
}

func TestLargeRejectsBadSizes(t *testing.T) {
	for _, cfg := range []LargeConfig{
		{Namespaces: 0, Workloads: 10, Nodes: 1, MeanFanOut: 1},
		{Namespaces: 10, Workloads: 5, Nodes: 1, MeanFanOut: 1},
		{Namespaces: 1, Workloads: 10, Nodes: 0, MeanFanOut: 1},
		{Namespaces: 1, Workloads: 1000, Nodes: 1, MeanFanOut: 1}, // pods do not fit one node
	} {
		if _, err := Large(cfg); err == nil {
			t.Errorf("Large(%+v) accepted", cfg)
		}
	}
}

// BenchmarkGenerate reports generator throughput (flows/s) with memory
// per flow, for a 1k-workload cluster: the generator must never be the
// bottleneck of the ingest benchmarks it feeds.
func BenchmarkGenerate(b *testing.B) {
	s, err := Large(DefaultLargeConfig(10, 1000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	truth, err := Generate(s, Options{Seed: 1, MaxFlows: uint64(b.N)}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(truth.Flows)/b.Elapsed().Seconds(), "flows/s")
}
