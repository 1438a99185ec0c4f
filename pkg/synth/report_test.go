package synth

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestConvergenceVerdict(t *testing.T) {
	tests := []struct {
		span, quiet time.Duration
		want        string
	}{
		{48 * time.Hour, time.Hour, "still discovering"},
		{48 * time.Hour, 20 * time.Hour, "converged"},
		{2 * time.Hour, 90 * time.Minute, "shorter than a day"},
		{2 * time.Hour, 10 * time.Minute, "still discovering"},
	}
	for _, tc := range tests {
		if got := convergenceVerdict(tc.span, tc.quiet); !strings.HasPrefix(got, tc.want) && !strings.Contains(got, tc.want) {
			t.Errorf("convergenceVerdict(%s, %s) = %q, want %q", tc.span, tc.quiet, got, tc.want)
		}
	}
}

func TestReportSaysWhatAReviewerNeeds(t *testing.T) {
	app := WorkloadPeer("default", "app")
	g := &Graph{
		Workloads: []Workload{wl("default", "app", "app", "app"), wl("kube-system", "coredns", "k8s-app", "kube-dns")},
		Edges: []Edge{
			{From: app, To: WorkloadPeer("kube-system", "coredns"), Protocol: observe.ProtoUDP, Port: 53, Flows: 1, First: t0, Last: t0},
			{From: app, To: EntityPeer(EntityKubeAPIServer), Protocol: observe.ProtoTCP, Port: 6443, Flows: 3, First: t0, Last: t0.Add(time.Hour)},
			{From: AddrPeer(netip.MustParseAddr("203.0.113.7")), To: app, Protocol: observe.ProtoTCP, Port: 8080, Services: []string{"default/app"}, Flows: 9, Dropped: 2, First: t0.Add(26 * time.Hour), Last: t0.Add(30 * time.Hour)},
		},
		Window: Window{Start: t0, End: t0.Add(30 * time.Hour), Flows: 12, LostEvents: 5, NoDirection: 4, Guessed: 1},
	}
	plan, err := Build(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	report := string(Report(ReportInput{Graph: g, Plan: plan, Format: FormatCilium, Verify: &Verification{Observed: 2, Allowed: 2, Candidates: 10}}))
	for _, want := range []string{
		"**PASS: every observed connection is allowed.**",
		"| +26h | 1 |", // the third connection appeared 26 hours in
		"still discovering: keep learning",
		"Hubble lost 5 events",
		"4 flows said nothing about their direction",
		"`default` namespace",
		"system namespace `kube-system`",
		"default/app reaches the kube-apiserver on 6443/TCP",
		"| default/app 8080/TCP | exact addresses | 1 outside address in 1 network",
		"`--public-endpoint default/app:8080/TCP`",
		"2 flows were dropped during learning",
		"```mermaid",
		"| cidr:203.0.113.7/32 | default/app | 8080/TCP | default/app | 9 |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(report)
	}
}

func TestWriteFilesPrunesOnlyItsOwnStaleFiles(t *testing.T) {
	dir := t.TempDir()
	first, _, err := mustPlan(t, goldenGraphs()["cross-namespace"]).Files(FormatCilium)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, first); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "shop", "hand-written.yaml")
	if err := os.WriteFile(foreign, []byte("kind: NetworkPolicy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The next run no longer sees the monitoring namespace.
	g := goldenGraphs()["cross-namespace"]
	g.Edges = g.Edges[:1]
	g.Workloads = g.Workloads[:2]
	second, _, err := mustPlan(t, g).Files(FormatCilium)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, second); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"monitoring/prometheus.yaml", "monitoring/default-deny.yaml", "monitoring/kustomization.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s: still there after its workload went (%v)", gone, err)
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a file netpolgen did not write was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "shop", "checkout.yaml")); err != nil {
		t.Errorf("current policy missing: %v", err)
	}
}

func mustPlan(t *testing.T, g *Graph) *Plan {
	t.Helper()
	plan, err := Build(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
