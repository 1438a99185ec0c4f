package verify

import (
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// icmpGraph has pings in both IP families beside TCP between the same
// pods, so one rule has to be split in two, and an ICMP error, which no
// rule names.
func icmpGraph() *synth.Graph {
	return webAndAPI(
		edge(web, api, observe.ProtoTCP, 9000),
		edge(web, api, observe.ProtoICMPv4, 8),
		edge(web, api, observe.ProtoICMPv6, 128),
		edge(api, web, observe.ProtoICMPv4, 3),
	)
}

func TestVerifyICMP(t *testing.T) {
	for _, tt := range []struct {
		format            synth.Format
		wantInexpressible int
	}{
		{synth.FormatCilium, 0},
		{synth.FormatBoth, 0},
		// NetworkPolicy has no ICMP: both pings would be cut, and are
		// reported as what the format cannot express.
		{synth.FormatKubernetes, 2},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			g := icmpGraph()
			res, err := Verify(g, policiesFor(t, g, synth.Options{Format: tt.format}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() || len(res.Excess) != 0 {
				t.Errorf("denied %v, excess %v", res.Denied, res.Excess)
			}
			if res.Observed != 3 || res.Unchecked != 1 || len(res.Inexpressible) != tt.wantInexpressible {
				t.Errorf("observed %d unchecked %d inexpressible %v; want 3, 1 (the ICMP error) and %d", res.Observed, res.Unchecked, res.Inexpressible, tt.wantInexpressible)
			}
			for _, f := range res.Inexpressible {
				if !f.Port.Protocol.IsICMP() {
					t.Errorf("inexpressible %s is not ICMP", f)
				}
			}
		})
	}
}

// TestICMPRulesAsWritten checks the CiliumNetworkPolicy text: ICMP types
// by family in a rule of their own, the TCP port in another.
func TestICMPRulesAsWritten(t *testing.T) {
	g := icmpGraph()
	plan, err := synth.Build(g, synth.Options{Format: synth.FormatBoth})
	if err != nil {
		t.Fatal(err)
	}
	files, warnings, err := plan.Files(synth.FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	var cnp, knp string
	for _, f := range files {
		if f.Path != "shop/web.yaml" {
			continue
		}
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			switch {
			case strings.Contains(doc, "kind: CiliumNetworkPolicy"):
				cnp = doc
			case strings.Contains(doc, "kind: NetworkPolicy"):
				knp = doc
			}
		}
	}
	if cnp == "" || knp == "" {
		t.Fatalf("shop/web.yaml does not hold both of web's policies")
	}
	for _, want := range []string{"icmps:", "family: IPv4", "type: 8", "family: IPv6", "type: 128", `port: "9000"`} {
		if !strings.Contains(cnp, want) {
			t.Errorf("CiliumNetworkPolicy lacks %q:\n%s", want, cnp)
		}
	}
	if strings.Contains(knp, "ICMP") || !strings.Contains(knp, "port: 9000") {
		t.Errorf("NetworkPolicy must keep the TCP port and leave ICMP out:\n%s", knp)
	}
	found := false
	for _, w := range warnings {
		found = found || strings.Contains(w, "cannot express ICMP")
	}
	if !found {
		t.Errorf("no warning that NetworkPolicy leaves ICMP out: %v", warnings)
	}
}
