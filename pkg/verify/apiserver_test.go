package verify

import (
	"net/netip"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestAPIServerAddressesMakeItExpressible: with the kube-apiserver's
// address known, the NetworkPolicy ipBlock allows api's access to it, as
// the CiliumNetworkPolicy entity does, and another outside address on the
// same port stays denied. Without the address, NetworkPolicy cannot name
// it: the connection is inexpressible, not silently passed.
func TestAPIServerAddressesMakeItExpressible(t *testing.T) {
	toAPI := edge(api, synth.EntityPeer(synth.EntityKubeAPIServer), observe.ProtoTCP, 6443)
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			g := webAndAPI(toAPI)
			g.EntityIPs = map[synth.Entity][]netip.Addr{synth.EntityKubeAPIServer: {netip.MustParseAddr("203.0.113.50")}}
			ps := policiesFor(t, g, synth.Options{Format: format})
			res, err := Verify(g, ps, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() || len(res.Inexpressible) != 0 || res.Allowed != 1 {
				t.Errorf("allowed %d, denied %v, inexpressible %v; want the one connection allowed", res.Allowed, res.Denied, res.Inexpressible)
			}
			probe := webAndAPI(edge(api, synth.AddrPeer(netip.MustParseAddr("203.0.113.51")), observe.ProtoTCP, 6443))
			res, err = Verify(probe, ps, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Denied) != 1 {
				t.Errorf("another outside address on 6443: denied %v, want it denied", res.Denied)
			}
		})
	}
	g := webAndAPI(toAPI)
	res, err := Verify(g, policiesFor(t, g, synth.Options{Format: synth.FormatKubernetes}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inexpressible) != 1 || len(res.Denied) != 0 {
		t.Errorf("without the address: inexpressible %v, denied %v; want the connection inexpressible", res.Inexpressible, res.Denied)
	}
}
