package graph

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Merge combines two graphs, such as a checkpoint and the run that
// resumed it, learners sharded by node, or learners on several clusters.
// Counts add up, times widen, evidence unites (capped); the result does
// not depend on the order or grouping of merges. Both graphs must have
// been built with the same identity rules (selector, ignore and keep
// labels, CIDR prefixes), or peers would not line up.
func Merge(a, b *Graph) (*Graph, error) {
	if !a.Options.sameIdentityRules(b.Options) {
		return nil, fmt.Errorf("merge graphs: built with different identity rules (selector, ignore or keep labels, or CIDR prefixes): %s vs %s", a.Options.identityString(), b.Options.identityString())
	}
	opts := mergeOptions(a.Options.normalized(), b.Options.normalized())
	peers := make([]Peer, 0, len(a.Peers)+len(b.Peers))
	peers = append(append(peers, a.Peers...), b.Peers...)
	edges := make([]Edge, 0, len(a.Edges)+len(b.Edges))
	edges = append(edges, a.Edges...)
	offset := PeerID(len(a.Peers))
	for _, e := range b.Edges {
		e.From += offset
		e.To += offset
		edges = append(edges, e)
	}
	dns := append(slices.Clone(a.DNS), b.DNS...)
	ips := append(slices.Clone(a.workloadIPs), b.workloadIPs...)
	return assemble(opts, peers, edges, dns, ips, addCoverage(a.Coverage, b.Coverage)), nil
}

// mergeOptions combines the options of two learners whose identity rules
// agree: node filters unite (no filter means every node), cluster ranges
// unite, and the evidence cap is the smaller one.
func mergeOptions(a, b Options) Options {
	out := a
	if len(a.NodeNames) == 0 || len(b.NodeNames) == 0 {
		out.NodeNames = nil
	} else {
		out.NodeNames = append(slices.Clone(a.NodeNames), b.NodeNames...)
	}
	out.ClusterCIDRs = append(slices.Clone(a.ClusterCIDRs), b.ClusterCIDRs...)
	out.MaxL7 = min(a.MaxL7, b.MaxL7)
	out.MaxRoutes = min(a.MaxRoutes, b.MaxRoutes)
	out.MaxPending = max(a.MaxPending, b.MaxPending)
	return out.normalized()
}

func (o Options) identityString() string {
	n := o.normalized()
	return fmt.Sprintf("selector=%v ignore=%v keep=%v cidr-prefix=%d/%d", n.SelectorLabels, n.IgnoreLabels, n.KeepLabels, n.CIDRPrefixV4, n.CIDRPrefixV6)
}

// addCoverage adds the counters that are state; derive recomputes the
// ones that count edges.
func addCoverage(a, b Coverage) Coverage {
	out := Coverage{
		Flows:           a.Flows + b.Flows,
		FirstFlow:       a.FirstFlow,
		LastFlow:        a.LastFlow,
		LostEvents:      addCounts(a.LostEvents, b.LostEvents),
		LostNotices:     a.LostNotices + b.LostNotices,
		ReplyFlows:      a.ReplyFlows + b.ReplyFlows,
		UndirectedFlows: a.UndirectedFlows + b.UndirectedFlows,
		InferredFlows:   a.InferredFlows + b.InferredFlows,
		GuessedFlows:    a.GuessedFlows + b.GuessedFlows,
		Skipped:         addCounts(a.Skipped, b.Skipped),
		MalformedL7:     a.MalformedL7 + b.MalformedL7,
	}
	out.MalformedL7Notes, _ = unionCapped(a.MalformedL7Notes, b.MalformedL7Notes, maxMalformedNotes)
	out.widen(b.FirstFlow, b.LastFlow)
	return out
}

// widen stretches the flow window to cover first..last; zero times are
// "not known" and change nothing, so the merge stays associative.
func (c *Coverage) widen(first, last time.Time) {
	if !first.IsZero() && (c.FirstFlow.IsZero() || first.Before(c.FirstFlow)) {
		c.FirstFlow = first
	}
	if !last.IsZero() && last.After(c.LastFlow) {
		c.LastFlow = last
	}
}

func addCounts(a, b map[string]uint64) map[string]uint64 {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]uint64{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}
