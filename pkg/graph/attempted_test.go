package graph

import "testing"

func TestWithAttemptedCountsDroppedEdgesAndLeavesTheGraph(t *testing.T) {
	g := &Graph{Edges: []Edge{
		{Count: 2, Dropped: 2, Verdicts: VerdictDropped},
		{Count: 1, Verdicts: VerdictForwarded},
		{Count: 1, Dropped: 1, Verdicts: VerdictDropped, Mirror: true},
	}}
	got := g.WithAttempted()
	if n := len(got.PolicyEdges()); n != 2 {
		t.Errorf("attempted graph has %d policy edges, want 2 (dropped and forwarded, not the mirror)", n)
	}
	if got.Edges[0].Dropped != 2 {
		t.Errorf("dropped count %d, want 2 kept", got.Edges[0].Dropped)
	}
	if n := len(g.PolicyEdges()); n != 1 || g.Edges[0].Allowed() {
		t.Errorf("the original graph changed: %d policy edges", n)
	}
}
