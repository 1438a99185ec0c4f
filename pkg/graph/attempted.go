package graph

import "slices"

// WithAttempted returns a copy of g in which every edge that is not a
// mirror counts as allowed, including edges seen only dropped: their
// PolicyEdges (and synth.FromGraph) then name every connection that was
// tried, let through or not. Drift uses it to ask the policy engine about
// traffic the datapath dropped. Dropped counts are kept.
func (g *Graph) WithAttempted() *Graph {
	c := *g
	c.Edges = slices.Clone(g.Edges)
	for i := range c.Edges {
		e := &c.Edges[i]
		if !e.Allowed() && !e.Mirror {
			e.Verdicts |= VerdictForwarded
			e.Answered = max(e.Answered, 1)
		}
	}
	return &c
}
