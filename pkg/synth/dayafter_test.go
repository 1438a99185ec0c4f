package synth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// learnDay generates one day of flowgen.ShopDays and learns its graph.
func learnDay(t *testing.T, s *flowgen.Scenario, seed uint64, start time.Time) *synth.Graph {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(s, flowgen.Options{Seed: seed, Start: start, Duration: 2 * time.Hour}, &buf); err != nil {
		t.Fatal(err)
	}
	src := capture.NewSource([]string{"-"}, capture.Options{Stdin: &buf, Strict: true})
	defer src.Close()
	b := graph.NewBuilder(graph.Options{})
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Kind {
		case observe.KindFlow:
			b.Add(&rec.Flow)
		case observe.KindLostEvents:
			b.AddLost(&rec.Lost)
		}
	}
	return synth.FromGraph(b.Finish())
}

// probe is a connection no day showed, and whether the documented
// decisions allow it.
type probe struct {
	from, to synth.Peer
	port     uint16
	allowed  bool
}

// TestPolicyLearnedOnDayOneHoldsOnDayTwo is the rollout test: policies
// learned from day 1 of flowgen.ShopDays, in both formats, allow every
// request of day 2, judged with the identities day 2's flows carried (new
// pod-template-hash, release labels, replica, Job run, pod addresses,
// internet clients), and allow nothing beyond the documented decisions:
// the public ingress takes any outside address on 443 only, the partner's
// port takes the partner only, and egress by address is not widened.
func TestPolicyLearnedOnDayOneHoldsOnDayTwo(t *testing.T) {
	s1, s2 := flowgen.ShopDays()
	start := flowgen.DefaultStart()
	day1 := learnDay(t, s1, 1, start)
	day2 := learnDay(t, s2, 2, start.Add(24*time.Hour))

	ip := netip.MustParseAddr
	stranger := synth.AddrPeer(ip("198.18.250.7")) // in no day's pool
	partner := synth.AddrPeer(flowgen.ShopDayPartner())
	ingress := synth.WorkloadPeer("ingress-nginx", "ingress-nginx")
	orders := synth.WorkloadPeer("shop", "orders-api")
	frontend := synth.WorkloadPeer("shop", "frontend")
	payment := synth.WorkloadPeer("shop", "payment")
	probes := []probe{
		{stranger, ingress, 443, true},
		{stranger, ingress, 8443, false},
		{stranger, orders, 8443, false},
		{stranger, frontend, 8080, false},
		{partner, orders, 8443, true},
		{partner, ingress, 443, true},
		{payment, synth.AddrPeer(ip("192.0.2.50")), 8443, true},
		{payment, synth.AddrPeer(ip("192.0.2.51")), 8443, false},
		{orders, synth.AddrPeer(ip("192.0.2.50")), 8443, false},
	}

	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			opts := synth.Options{Format: format}
			plan, err := synth.Build(day1, opts)
			if err != nil {
				t.Fatal(err)
			}
			files, _, err := plan.Files(format)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := verify.FromFiles(files)
			if err != nil {
				t.Fatal(err)
			}
			for day, g := range []*synth.Graph{day1, day2} {
				res, err := verify.Verify(g, ps, verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK() || len(res.Inexpressible) > 0 || res.Allowed != res.Observed {
					t.Errorf("day %d: %d of %d requests allowed; denied %v; inexpressible %v", day+1, res.Allowed, res.Observed, res.Denied, res.Inexpressible)
				}
				if res.Candidates == 0 {
					t.Errorf("day %d: the excess sweep checked nothing", day+1)
				}
				// The only never-observed combinations allowed are outside
				// peers of the public port: that decision, nothing else.
				for _, f := range res.Excess {
					if f.To != ingress || f.Port != (synth.PortKey{Protocol: observe.ProtoTCP, Port: 443}) || f.From.Kind == synth.PeerWorkload {
						t.Errorf("day %d: excess %s is beyond the documented decisions", day+1, f)
					}
				}
				if res.IdentityNote != "" {
					t.Errorf("day %d was judged with identities made from selectors, not the flows': %s", day+1, res.IdentityNote)
				}
			}

			probeGraph := &synth.Graph{Workloads: day2.Workloads, EntityIPs: day2.EntityIPs, NameIPs: day2.NameIPs}
			var wantDenied []string
			for _, p := range probes {
				probeGraph.Edges = append(probeGraph.Edges, synth.Edge{From: p.from, To: p.to, Protocol: observe.ProtoTCP, Port: p.port, Flows: 1})
				if !p.allowed {
					wantDenied = append(wantDenied, p.from.String()+" -> "+p.to.String())
				}
			}
			res, err := verify.Verify(probeGraph, ps, verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var denied []string
			for _, f := range append(res.Denied, res.Inexpressible...) {
				denied = append(denied, f.From.String()+" -> "+f.To.String())
			}
			sort.Strings(denied)
			sort.Strings(wantDenied)
			if strings.Join(denied, "\n") != strings.Join(wantDenied, "\n") {
				t.Errorf("never-observed connections denied:\n%s\nwant denied:\n%s", strings.Join(denied, "\n"), strings.Join(wantDenied, "\n"))
			}
		})
	}

	plan, err := synth.Build(day1, synth.Options{Format: synth.FormatKubernetes})
	if err != nil {
		t.Fatal(err)
	}
	report := string(synth.Report(synth.ReportInput{Graph: day1, Plan: plan, Format: synth.FormatKubernetes}))
	for _, want := range []string{
		"| ingress-nginx/ingress-nginx 443/TCP | **public**: any outside address |",
		"`--no-public-endpoint ingress-nginx/ingress-nginx:443/TCP`",
		"| shop/orders-api 8443/TCP | exact addresses | 1 outside address in 1 network",
		"`--public-endpoint shop/orders-api:8443/TCP`",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	if strings.Contains(report, "kube-apiserver on 6443/TCP: NetworkPolicy cannot select") {
		t.Error("REPORT.md says the kube-apiserver cannot be expressed though the flows showed its address")
	}
}
