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
	for _, g := range []*synth.Graph{mixedGraph(), withIdentities(mixedGraph(), true)} {
		lookupAgrees(t, g)
	}
}

func lookupAgrees(t *testing.T, g *synth.Graph) {
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
					for _, fromID := range ids.byPeer[from] {
						for _, toID := range ids.byPeer[to] {
							want, err := eng.lookup(fromID, toID, e.Protocol, e.Port)
							if err != nil {
								t.Fatal(err)
							}
							got, err := cache.lookup(fromID, toID, e.Protocol, e.Port)
							if err != nil {
								t.Fatal(err)
							}
							if got != want {
								t.Errorf("%s: %s (%d) -> %s (%d) %d/%s: cached %+v, LookupFlow %+v", format, from, fromID.ID, to, toID.ID, e.Port, e.Protocol, got, want)
							}
							checked++
						}
					}
				}
			}
		}
		cache.release()
		if checked == 0 {
			t.Fatal("nothing compared")
		}
	}
}
