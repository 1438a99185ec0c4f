package verify

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestVerifyPublicEndpointIsNotExcess: an outside peer never seen on a
// port the policy opens to any outside address is that decision, filed
// apart from excess in both formats; a port opened only to a widened
// prefix is not a public endpoint, and what the prefix lets in stays
// excess.
func TestVerifyPublicEndpointIsNotExcess(t *testing.T) {
	client := synth.AddrPeer(netip.MustParseAddr("203.0.113.7"))
	neighbour := synth.AddrPeer(netip.MustParseAddr("203.0.113.50"))
	g := webAndAPI(
		edge(client, web, observe.ProtoTCP, 8080),
		edge(api, neighbour, observe.ProtoTCP, 443),
	)
	g.ClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(fmt.Sprint(format)+"/public", func(t *testing.T) {
			opts := synth.Options{Format: format, Generalize: synth.Generalize{WorldIngressEntity: true}}
			res, err := Verify(g, policiesFor(t, g, opts), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Excess) != 0 || len(res.Public) != 1 || !strings.HasPrefix(res.Public[0].String(), "cidr:203.0.113.50/32 -> shop/web 8080/TCP") {
				t.Errorf("excess %v, public %v; want the neighbour on web's public port filed as public", res.Excess, res.Public)
			}
		})
		t.Run(fmt.Sprint(format)+"/prefix", func(t *testing.T) {
			opts := synth.Options{Format: format, Generalize: synth.Generalize{WorldPrefixV4: 24}}
			res, err := Verify(g, policiesFor(t, g, opts), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Public) != 0 || !strings.Contains(fmt.Sprint(res.Excess), "cidr:203.0.113.50/32 -> shop/web 8080/TCP") {
				t.Errorf("excess %v, public %v; want the /24 neighbour counted as excess", res.Excess, res.Public)
			}
		})
	}
}
