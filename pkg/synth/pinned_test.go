package synth

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// outsideGraph reaches one service by name, one by address only, and a
// node-local DNS cache by address.
func outsideGraph() *Graph {
	web := WorkloadPeer("shop", "web")
	return &Graph{
		Workloads: []Workload{wl("shop", "web", "app", "web")},
		Edges: []Edge{
			edge(web, AddrPeer(netip.MustParseAddr("169.254.20.10")), observe.ProtoUDP, 53),
			edge(web, FQDNPeer("api.example.com"), observe.ProtoTCP, 443),
			edge(web, AddrPeer(netip.MustParseAddr("198.51.100.20")), observe.ProtoTCP, 5432),
		},
		NameIPs: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("203.0.113.10")}},
	}
}

func TestOutsideDestinationsPinnedAndNamed(t *testing.T) {
	pl, err := Build(outsideGraph(), Options{Format: FormatBoth})
	if err != nil {
		t.Fatal(err)
	}
	got := OutsideDestinations(pl)
	want := Outside{
		Named: []string{"api.example.com"},
		Pinned: []PinnedDestination{{
			Workload: WorkloadRef{"shop", "web"}, Prefix: netip.MustParsePrefix("198.51.100.20/32"),
			Ports: []PortRange{{Protocol: observe.ProtoTCP, Port: 5432}},
		}},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("outside destinations (-want +got):\n%s", d)
	}
	if line := got.Line(FormatCilium); !strings.Contains(line, "1 pinned to addresses, no DNS name seen") || !strings.Contains(line, "1 by name") || !strings.Contains(line, LearningModeCommand) {
		t.Errorf("line %q", line)
	}
	if line := (Outside{Named: []string{"a.example"}}).Line(FormatBoth); line != "outside destinations: 1 by name (toFQDNs), none pinned to addresses" {
		t.Errorf("names only: %q", line)
	}
	if line := (Outside{Pinned: got.Pinned}).Line(FormatCilium); !strings.Contains(line, "turn learning mode on and learn again: "+LearningModeCommand) {
		t.Errorf("pinned only: %q", line)
	}
	if line := got.Line(FormatKubernetes); !strings.HasPrefix(line, "outside destinations: 2, all pinned to addresses in NetworkPolicy, which cannot match names (1 seen with a name") {
		t.Errorf("kubernetes format: %q", line)
	}
	if line := (Outside{}).Line(FormatCilium); line != "" {
		t.Errorf("nothing outside: %q", line)
	}
}

func TestNamesAreToFQDNsAndNetworkPolicySaysItKeepsAddresses(t *testing.T) {
	pl, err := Build(outsideGraph(), Options{Format: FormatBoth})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := pl.Files(FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	var web string
	for _, f := range files {
		if f.Path == "shop/web.yaml" {
			web = string(f.Data)
		}
	}
	for _, want := range []string{
		"# NetworkPolicy cannot match DNS names: egress to api.example.com is kept as",
		"# Seen without a DNS name, pinned to addresses: 198.51.100.20/32;",
		"cidr: 203.0.113.10/32", // the name's address, in the NetworkPolicy
		"matchName: api.example.com",
		"- 198.51.100.20/32", // toCIDR, in the CiliumNetworkPolicy
	} {
		if !strings.Contains(web, want) {
			t.Errorf("shop/web.yaml lacks %q:\n%s", want, web)
		}
	}
	if strings.Contains(web, "169.254.20.10/32;") {
		t.Error("the DNS cache's address is listed as a pinned destination")
	}
	cilium, _, err := pl.Files(FormatCilium)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cilium {
		if strings.Contains(string(f.Data), "NetworkPolicy cannot match") {
			t.Errorf("%s: the NetworkPolicy note in a CiliumNetworkPolicy-only file", f.Path)
		}
	}
}

func TestReportSaysWhetherLearningModeWasInForce(t *testing.T) {
	g := outsideGraph()
	pl, err := Build(g, Options{Format: FormatCilium})
	if err != nil {
		t.Fatal(err)
	}
	unnamed := outsideGraph()
	unnamed.NameIPs = nil
	tests := []struct {
		name    string
		g       *Graph
		lm      *LearningMode
		want    string
		visible bool
	}{
		{"read, in force", g, &LearningMode{Namespaces: []string{"shop"}}, "Learning mode: **in force** in shop (learning-mode policies, netpolgen.io/role=visibility, read from the cluster)", true},
		{"read, not in force", g, &LearningMode{}, "Learning mode: **not in force** (no learning-mode policy in the cluster", false},
		{"inferred on", g, nil, "Learning mode: probably **in force** (inferred, the cluster was not read): Hubble reported DNS answers for 1 names", true},
		{"inferred off", unnamed, nil, "Learning mode: probably **not in force** (inferred, the cluster was not read): Hubble reported no DNS answers", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := string(Report(ReportInput{Graph: tt.g, Plan: pl, Format: FormatCilium, LearningMode: tt.lm}))
			for _, want := range []string{tt.want, "| shop/web | 198.51.100.20/32 | 5432/TCP |", "**each breaks when the address changes**", LearningModeCommand, "By name (1): api.example.com."} {
				if !strings.Contains(report, want) {
					t.Errorf("REPORT.md lacks %q:\n%s", want, report)
				}
			}
			if got := strings.Contains(report, "DNS was visible while learning"); got != tt.visible {
				t.Errorf("says DNS was visible: %v, want %v", got, tt.visible)
			}
		})
	}
}
