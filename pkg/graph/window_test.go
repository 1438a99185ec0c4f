package graph

import (
	"bytes"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// The learning window is the span of the flows read, which a quiet end of
// capture makes longer than the span of the edges; merging widens it.
func TestCoverageWindow(t *testing.T) {
	at := func(d time.Duration) func(*flowSpec) { return func(s *flowSpec) { s.at = d } }
	a := NewBuilder(Options{})
	a.Add(with(toServerSYN(40001), at(time.Minute)).flow())
	// A flow with no port says nothing a policy can use, but it was read.
	a.Add(with(toServerSYN(40002), func(s *flowSpec) { s.at, s.proto = time.Hour, observe.ProtoUnknown }).flow())
	ga := a.Finish()
	start := ga.Edges[0].FirstSeen.Add(-time.Minute)
	if got := ga.Coverage.LastFlow.Sub(ga.Coverage.FirstFlow); got != 59*time.Minute {
		t.Errorf("window %v, want 59m (the unusable flow counts)", got)
	}
	b := NewBuilder(Options{})
	b.Add(with(toServerSYN(40003), at(0)).flow())
	m, err := Merge(ga, b.Finish())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Coverage.FirstFlow.Equal(start) || !m.Coverage.LastFlow.Equal(start.Add(time.Hour)) {
		t.Errorf("merged window %v .. %v, want %v .. %v", m.Coverage.FirstFlow, m.Coverage.LastFlow, start, start.Add(time.Hour))
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(bytes.NewReader(buf.Bytes()), "window.json")
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Coverage.FirstFlow.Equal(m.Coverage.FirstFlow) || !loaded.Coverage.LastFlow.Equal(m.Coverage.LastFlow) {
		t.Errorf("snapshot lost the window: %v .. %v", loaded.Coverage.FirstFlow, loaded.Coverage.LastFlow)
	}
}
