package graph

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// TestShopScenarioMatchesGroundTruth folds flowgen's shop capture and
// checks the policy edges against the connections the generator says it
// made: every allowed connection is an allowed edge (world peers once per
// address, named by DNS where the truth names them), every denied one an
// edge that is not allowed, and nothing else.
func TestShopScenarioMatchesGroundTruth(t *testing.T) {
	checkAgainstTruth(t, flowgen.Shop(), 2*time.Hour, Options{})
}

// TestShopDaysMatchGroundTruth: both days of the two-day shop fold into
// exactly the connections the generator made, Job runs, new replicas and
// every internet client included.
func TestShopDaysMatchGroundTruth(t *testing.T) {
	day1, day2 := flowgen.ShopDays()
	for _, s := range []*flowgen.Scenario{day1, day2} {
		t.Run(s.Name, func(t *testing.T) {
			checkAgainstTruth(t, s, 2*time.Hour, Options{})
		})
	}
}

// TestGroundTruthHoldsWithASmallPendingCap: a long capture fills the cap on
// undirected aggregates and has them resolved early, many times over; the
// evidence kept across those flushes must still orient every connection.
func TestGroundTruthHoldsWithASmallPendingCap(t *testing.T) {
	large, err := flowgen.Large(flowgen.DefaultLargeConfig(6, 60))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*flowgen.Scenario{flowgen.Shop(), large} {
		t.Run(s.Name, func(t *testing.T) {
			checkAgainstTruth(t, s, time.Hour, Options{MaxPending: 16})
		})
	}
}

// TestLargeScenarioMatchesGroundTruth does the same on a generated
// cluster of 60 workloads with rollouts, replicas, probes, drops and
// flows without is_reply.
func TestLargeScenarioMatchesGroundTruth(t *testing.T) {
	s, err := flowgen.Large(flowgen.DefaultLargeConfig(6, 60))
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstTruth(t, s, time.Hour, Options{})
}

func checkAgainstTruth(t *testing.T, s *flowgen.Scenario, d time.Duration, opts Options) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := flowgen.Generate(s, flowgen.Options{Seed: 1, Duration: d}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	src := capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: &buf})
	g, err := Build(t.Context(), src, opts)
	if err != nil {
		t.Fatal(err)
	}

	var refs []flowgen.PeerRef
	var want, wantDenied []string
	for _, c := range truth.Connections {
		refs = append(refs, c.From, c.To)
		froms, tos := expandRef(c.From), expandRef(c.To)
		for _, from := range froms {
			for _, to := range tos {
				line := fmt.Sprintf("%s -> %s %d/%s", from, to, c.Port, c.Protocol)
				if c.Denied {
					wantDenied = append(wantDenied, line)
				} else {
					want = append(want, line)
				}
			}
		}
	}
	noIsReply := 0
	for _, c := range truth.Connections {
		if c.NoIsReply {
			noIsReply++
		}
	}
	t.Logf("%s: %d flows, %d connections (%d without is_reply, %d denied)", s.Name, truth.Flows, len(want)+len(wantDenied), noIsReply, len(wantDenied))
	var got, gotDenied []string
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.Mirror {
			continue
		}
		line := fmt.Sprintf("%s -> %s %s", refOf(&g.Peers[e.From], refs), refOf(&g.Peers[e.To], refs), PortString(e))
		if e.Allowed() {
			got = append(got, line)
		} else {
			gotDenied = append(gotDenied, line)
		}
		if e.Uncertain {
			t.Errorf("uncertain edge %s", line)
		}
	}
	for _, s := range [][]string{want, wantDenied, got, gotDenied} {
		slices.Sort(s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allowed edges (-truth +graph):\n%s", diff)
	}
	if diff := cmp.Diff(wantDenied, gotDenied); diff != "" {
		t.Errorf("denied edges (-truth +graph):\n%s", diff)
	}

	for _, c := range truth.Connections {
		if c.To.Kind != "world" || c.To.DNSName == "" {
			continue
		}
		for _, ip := range c.To.IPs {
			id := g.PeerByKey("external:" + ip.String() + "/32")
			if p := g.Peer(id); p == nil || !slices.Contains(p.DNSNames, c.To.DNSName) {
				t.Errorf("world peer %s: want DNS name %q, got peer %+v", ip, c.To.DNSName, p)
			}
		}
	}
}

// expandRef names a truth peer the way refOf names a graph peer; a world
// peer with several addresses is one graph peer per address.
func expandRef(r flowgen.PeerRef) []string {
	switch r.Kind {
	case "workload":
		return []string{"workload:" + r.Namespace + "/" + r.Name}
	case "world":
		var out []string
		for _, ip := range r.IPs {
			out = append(out, "world:"+ip.String())
		}
		return out
	}
	return []string{r.Kind}
}

// refOf names a graph peer as the truth does: a workload by the one truth
// workload in its namespace whose labels its selector matches (the truth
// lists every stable label, a selector a subset).
func refOf(p *Peer, refs []flowgen.PeerRef) string {
	switch p.Kind {
	case KindWorkload:
		var names []string
		for _, r := range refs {
			if r.Kind == "workload" && r.Namespace == p.Namespace && selects(p.Labels, r.Labels) && !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
		}
		if len(names) != 1 {
			return fmt.Sprintf("%s matching %v", p.Key(), names)
		}
		return "workload:" + p.Namespace + "/" + names[0]
	case KindExternal:
		return "world:" + p.CIDR.Addr().String()
	}
	return p.Entity
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
