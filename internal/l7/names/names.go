// Package names finds families of DNS names (one per shard, one per
// namespace) among the names a workload resolved, so a DNS rule can say
// "shard-*.db.example.net" instead of listing every shard, and only where
// the names share a stem.
package names

import (
	"slices"
	"strings"
)

// MinFamily is how many names it takes to make a family.
const MinFamily = 4

// Family is a set of names that differ in one label only, which shares a
// stem (a common prefix or suffix) across them.
type Family struct {
	// Pattern is Cilium's matchPattern for the family: the differing
	// label as prefix "*" suffix; "*" matches within one label.
	Pattern string
	// Names are the family's observed names, sorted.
	Names []string
}

// Families groups names (lower case, without the trailing dot) into
// families of at least min (MinFamily when min <= 0) and returns them
// with the names that belong to none. Both are sorted; the result does not
// depend on the order of names.
func Families(names []string, min int) ([]Family, []string) {
	if min <= 0 {
		min = MinFamily
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	taken := map[string]bool{}
	var fams []Family
	// Try each label position, leftmost first: the first label is where
	// shards and replicas usually differ.
	for pos := 0; ; pos++ {
		groups := map[string][]string{}
		any := false
		for _, n := range names {
			labels := strings.Split(n, ".")
			if taken[n] || pos >= len(labels) || len(labels) < 2 {
				continue
			}
			any = true
			key := strings.Join(labels[:pos], ".") + "\x00" + strings.Join(labels[pos+1:], ".") + "\x00" + string(rune('0'+len(labels)))
			groups[key] = append(groups[key], n)
		}
		if !any {
			break
		}
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			g := groups[k]
			if len(g) < min {
				continue
			}
			p, ok := pattern(g, pos)
			if !ok {
				continue
			}
			for _, n := range g {
				taken[n] = true
			}
			fams = append(fams, Family{Pattern: p, Names: g})
		}
	}
	var rest []string
	for _, n := range names {
		if !taken[n] {
			rest = append(rest, n)
		}
	}
	slices.SortFunc(fams, func(a, b Family) int { return strings.Compare(a.Pattern, b.Pattern) })
	return fams, rest
}

// pattern writes the family's matchPattern, or reports that the differing
// labels share no stem (then they are unrelated names, such as Services
// of one namespace, and stay listed one by one).
func pattern(group []string, pos int) (string, bool) {
	labels := strings.Split(group[0], ".")
	prefix, suffix := labels[pos], labels[pos]
	for _, n := range group[1:] {
		v := strings.Split(n, ".")[pos]
		for !strings.HasPrefix(v, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
		for !strings.HasSuffix(v, suffix) {
			suffix = suffix[1:]
		}
	}
	if prefix == "" && suffix == "" {
		return "", false
	}
	labels[pos] = prefix + "*" + suffix
	return strings.Join(labels, "."), true
}
