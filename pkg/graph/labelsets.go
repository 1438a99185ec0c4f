package graph

import (
	"slices"
	"strings"
)

// MaxIdentities caps the identity label sets kept per workload. A
// workload's pods share most labels; the sets differ by release, rollout
// or replica, and a few of them are what verification needs.
const MaxIdentities = 8

// identityLabels is the label set an endpoint's identity carried, as
// recorded on its peer: sorted, without the address labels (cidr:, fqdn:)
// that belong to addresses rather than pods.
func identityLabels(labels []string) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if strings.HasPrefix(l, "cidr:") || strings.HasPrefix(l, "fqdn:") {
			continue
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addLabelSet inserts set into the sorted, capped list, keeping the
// smallest n sets (by slices.Compare), so what is kept does not depend on
// the order flows arrive in; it reports whether a set was left out.
func addLabelSet(sets [][]string, set []string, n int) ([][]string, bool) {
	i, found := slices.BinarySearchFunc(sets, set, slices.Compare)
	if found {
		return sets, false
	}
	if i >= n {
		return sets, true
	}
	sets = slices.Insert(sets, i, set)
	if len(sets) > n {
		return sets[:n], true
	}
	return sets, false
}

// unionLabelSets is the smallest n sets of a and b together (both sorted
// and capped), reporting whether anything was left out.
func unionLabelSets(a, b [][]string, n int) ([][]string, bool) {
	if len(b) == 0 {
		return a, false
	}
	out := slices.Clone(a)
	cut := false
	for _, s := range b {
		var c bool
		out, c = addLabelSet(out, s, n)
		cut = cut || c
	}
	return out, cut
}
