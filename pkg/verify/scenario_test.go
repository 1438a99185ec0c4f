package verify

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func graphFromFiles(t *testing.T, paths []string, stdin []byte) *synth.Graph {
	t.Helper()
	src := capture.NewSource(paths, capture.Options{Stdin: bytes.NewReader(stdin)})
	defer src.Close()
	g, err := graph.Build(context.Background(), src, graph.Options{})
	if err != nil {
		t.Fatalf("graph.Build: %v", err)
	}
	return synth.FromGraph(g)
}

// checkLearned synthesizes policies from g in every format and proves
// them: all observed connections allowed, no excess, no ephemeral port.
func checkLearned(t *testing.T, g *synth.Graph, exclude []string, portOK func(synth.PortKey) bool) {
	t.Helper()
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			opts := synth.Options{Format: format, ExcludeNamespaces: exclude}
			plan, err := synth.Build(g, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, wp := range plan.Policies {
				for _, r := range append(append([]synth.Rule(nil), wp.Ingress...), wp.Egress...) {
					for _, p := range r.Ports {
						for port := p.Port; port <= max(p.Port, p.End) && port != 0; port++ {
							if !portOK(synth.PortKey{Protocol: p.Protocol, Port: port}) {
								t.Errorf("%s: a rule names port %d/%s, which no client connected to", wp.Workload.WorkloadRef, port, p.Protocol)
							}
						}
					}
				}
			}
			res := verifyBothWays(t, g, policiesFor(t, g, opts), Options{Subjects: func(r synth.WorkloadRef) bool { return opts.Manages(r.Namespace) }})
			if res.Observed == 0 {
				t.Fatal("no observed connection was checked")
			}
			if !res.OK() {
				t.Errorf("%d of %d observed connections denied: %v", len(res.Denied), res.Observed, res.Denied)
			}
			if len(res.Excess) != 0 {
				t.Errorf("excess %d: %v", len(res.Excess), res.Excess)
			}
			if format == synth.FormatCilium && len(res.Inexpressible) != 0 {
				t.Errorf("CiliumNetworkPolicy left connections unexpressed: %v", res.Inexpressible)
			}
			t.Logf("%s: %d policies, %d/%d observed allowed, %d not expressible, excess 0 of %d candidates",
				format, len(plan.Policies), res.Allowed, res.Observed, len(res.Inexpressible), res.Candidates)
		})
	}
}

func TestBookinfoCapture(t *testing.T) {
	dir := filepath.Join(sharedflows.Dir(t), "bookinfo-kind")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bookinfo captures in %s: %v", dir, err)
	}
	// Bookinfo's services listen below the ephemeral range; replies
	// come from ports above it.
	checkLearned(t, graphFromFiles(t, paths, nil), nil, func(p synth.PortKey) bool { return p.Port < 32768 })
}

func TestGeneratedScenarios(t *testing.T) {
	large, err := flowgen.Large(flowgen.DefaultLargeConfig(5, 60))
	if err != nil {
		t.Fatal(err)
	}
	for name, sc := range map[string]*flowgen.Scenario{"shop": flowgen.Shop(), "large-5x60": large} {
		t.Run(name, func(t *testing.T) {
			var capture bytes.Buffer
			truth, err := flowgen.Generate(sc, flowgen.Options{Seed: 7, Duration: 30 * time.Minute}, &capture)
			if err != nil {
				t.Fatal(err)
			}
			g := graphFromFiles(t, []string{"-"}, capture.Bytes())
			// Every allowed ground-truth connection between workloads must
			// be in the graph policy is learned from.
			// A learned workload stands for a truth workload when it is in
			// the same namespace and its selector picks the truth labels.
			selectors := map[synth.WorkloadRef]map[string]string{}
			for _, w := range g.Workloads {
				selectors[w.WorkloadRef] = w.Selector
			}
			learned := func(c flowgen.Connection) bool {
				for _, e := range g.Edges {
					if e.From.Kind == synth.PeerWorkload && e.To.Kind == synth.PeerWorkload &&
						e.Key().Port == (synth.PortKey{Protocol: protoOf(c.Protocol), Port: c.Port}) &&
						picks(e.From.Workload, selectors, c.From) && picks(e.To.Workload, selectors, c.To) {
						return true
					}
				}
				return false
			}
			truthPorts := map[synth.PortKey]bool{}
			for _, c := range truth.Connections {
				port := synth.PortKey{Protocol: protoOf(c.Protocol), Port: c.Port}
				truthPorts[port] = true
				if c.Denied || c.From.Kind != "workload" || c.To.Kind != "workload" {
					continue
				}
				if !learned(c) {
					t.Errorf("ground-truth connection %s -> %s %s missing from the learned graph", c.From, c.To, port)
				}
			}
			// DNS rules allow 53 over TCP as well as UDP on purpose.
			truthPorts[synth.PortKey{Protocol: observe.ProtoTCP, Port: 53}] = true
			checkLearned(t, g, nil, func(p synth.PortKey) bool { return truthPorts[p] })
		})
	}
}

func protoOf(s string) observe.Protocol {
	p, _ := observe.ParseProtocol(s)
	return p
}

func picks(ref synth.WorkloadRef, selectors map[synth.WorkloadRef]map[string]string, p flowgen.PeerRef) bool {
	if ref.Namespace != p.Namespace || len(selectors[ref]) == 0 {
		return false
	}
	for k, v := range selectors[ref] {
		if p.Labels[k] != v {
			return false
		}
	}
	return true
}

// verifyBothWays runs Verify with the entry-driven excess sweep and with
// the exhaustive one, and wants the same answer from both.
func verifyBothWays(t *testing.T, g *synth.Graph, ps *Policies, opts Options) *Result {
	t.Helper()
	fast, err := Verify(g, ps, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.exhaustive = true
	slow, err := Verify(g, ps, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slow, fast, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("the entry-driven sweep disagrees with the exhaustive one (-exhaustive +fast):\n%s", diff)
	}
	return fast
}
