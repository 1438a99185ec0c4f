package verify

import (
	"log/slog"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestCachedVerdictsAgreeWithLookupFlow checks every observed connection
// of the scenarios against policy.LookupFlow itself, the engine's own
// one-flow entry point.
func TestCachedVerdictsAgreeWithLookupFlow(t *testing.T) {
	g := mixedGraph()
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		ps := policiesFor(t, g, synth.Options{Format: format, ExcludeNamespaces: []string{"kube-system"}})
		setLocalhostMode(false)
		ids, err := newIdentities(g, graphPeers(g))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := newEngine(slog.New(slog.DiscardHandler), ids.all, ps)
		if err != nil {
			t.Fatal(err)
		}
		cache := newVerdicts(eng)
		checked := 0
		// Every pair of peers on every observed port, observed or not.
		for _, from := range graphPeers(g) {
			for _, to := range graphPeers(g) {
				for _, e := range g.Edges {
					want, err := eng.lookup(ids.byPeer[from], ids.byPeer[to], e.Protocol, e.Port)
					if err != nil {
						t.Fatal(err)
					}
					got, err := cache.lookup(ids.byPeer[from], ids.byPeer[to], e.Protocol, e.Port)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("%s: %s -> %s %d/%s: cached %+v, LookupFlow %+v", format, from, to, e.Port, e.Protocol, got, want)
					}
					checked++
				}
			}
		}
		cache.release()
		if checked == 0 {
			t.Fatal("nothing compared")
		}
	}
}
