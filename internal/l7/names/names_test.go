package names

import (
	"fmt"
	"slices"
	"testing"
)

func TestFamilies(t *testing.T) {
	shards := []string{"shard-0.db.example.net", "shard-1.db.example.net", "shard-2.db.example.net", "shard-10.db.example.net"}
	tests := []struct {
		name      string
		in        []string
		patterns  []string
		remaining []string
	}{
		{"shards", append([]string{"api.stripe.com"}, shards...), []string{"shard-*.db.example.net"}, []string{"api.stripe.com"}},
		{"too few", shards[:3], nil, shards[:3]},
		{"services share no stem", []string{"users.market.svc.cluster.local", "orders.market.svc.cluster.local", "cart.market.svc.cluster.local", "kafka.market.svc.cluster.local"},
			nil, []string{"cart.market.svc.cluster.local", "kafka.market.svc.cluster.local", "orders.market.svc.cluster.local", "users.market.svc.cluster.local"}},
		{"one per namespace", []string{"web.team-a.svc.cluster.local", "web.team-b.svc.cluster.local", "web.team-c.svc.cluster.local", "web.team-d.svc.cluster.local"},
			[]string{"web.team-*.svc.cluster.local"}, nil},
		{"a suffix stem", []string{"a-cache.x.io", "b-cache.x.io", "c-cache.x.io", "d-cache.x.io"}, []string{"*-cache.x.io"}, nil},
		{"different depths stay apart", []string{"a1.x.io", "a2.x.io", "a3.y.x.io", "a4.x.io"}, nil, []string{"a1.x.io", "a2.x.io", "a3.y.x.io", "a4.x.io"}},
		{"single labels", []string{"localhost", "a", "b", "c"}, nil, []string{"a", "b", "c", "localhost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fams, rest := Families(tc.in, 0)
			var pats []string
			for _, f := range fams {
				pats = append(pats, f.Pattern)
			}
			if fmt.Sprint(pats) != fmt.Sprint(tc.patterns) || fmt.Sprint(rest) != fmt.Sprint(tc.remaining) {
				t.Errorf("got %v %v, want %v %v", pats, rest, tc.patterns, tc.remaining)
			}
			// Every name is either in a family or remaining, once.
			all := slices.Clone(rest)
			for _, f := range fams {
				all = append(all, f.Names...)
			}
			slices.Sort(all)
			want := slices.Compact(slices.Sorted(slices.Values(tc.in)))
			if !slices.Equal(all, want) {
				t.Errorf("names %v, want %v", all, want)
			}
		})
	}
}
