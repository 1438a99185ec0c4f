package synth

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// TestNetworkPolicyKeepsTheAPIServer: with the kube-apiserver's addresses
// known, a NetworkPolicy allows exactly them (/32, /128) on the port
// used; without them the rule is left out and the warning says how to
// get them.
func TestNetworkPolicyKeepsTheAPIServer(t *testing.T) {
	g := &Graph{
		Workloads: []Workload{wl("ops", "operator", "app", "operator")},
		Edges:     []Edge{edge(WorkloadPeer("ops", "operator"), EntityPeer(EntityKubeAPIServer), observe.ProtoTCP, 443)},
	}
	out := string(renderAll(t, g, Options{Format: FormatKubernetes}))
	if strings.Contains(out, "ipBlock") || !strings.Contains(out, "learn --cluster reads them from the default/kubernetes EndpointSlice") {
		t.Errorf("without addresses: want no ipBlock and a warning naming --cluster:\n%s", out)
	}
	g.EntityIPs = map[Entity][]netip.Addr{EntityKubeAPIServer: {netip.MustParseAddr("203.0.113.50"), netip.MustParseAddr("2001:db8::50")}}
	out = string(renderAll(t, g, Options{Format: FormatKubernetes}))
	want := "  - ports:\n    - port: 443\n      protocol: TCP\n    to:\n    - ipBlock:\n        cidr: 203.0.113.50/32\n    - ipBlock:\n        cidr: 2001:db8::50/128\n"
	if !strings.Contains(out, want) || strings.Contains(out, "left out") {
		t.Errorf("with addresses: want\n%s\nin:\n%s", want, out)
	}
}
