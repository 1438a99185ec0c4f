package verify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

var l7Opts = synth.Options{Format: synth.FormatCilium, ExcludeNamespaces: []string{"kube-system"}, L7: synth.L7Options{Enabled: true}}

// l7Scenario generates the L7 scenario and learns its graph.
func l7Scenario(t *testing.T, d time.Duration) ([]byte, *synth.Graph) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.L7(), flowgen.Options{Seed: 11, Duration: d}, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), graphFromFiles(t, []string{"-"}, buf.Bytes())
}

// captureRequests lists every L7 request of a capture, each named by the
// graph's peers: the client's workload, and the server reached from it on
// the request's port.
func captureRequests(t *testing.T, data []byte, g *synth.Graph) []L7Request {
	t.Helper()
	src := capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: bytes.NewReader(data)})
	var out []L7Request
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := &rec.Flow
		if f.L7 == nil || f.L7.Type != flowpb.L7FlowType_REQUEST || (f.L7.HTTP == nil && f.L7.DNS == nil) {
			continue
		}
		from := synth.WorkloadPeer(f.Source.Namespace, f.Source.Workloads[0].Name)
		port := synth.PortKey{Protocol: f.L4.Protocol, Port: f.L4.DstPort}
		// The server by its workload name, or the only one on the port
		// (the graph may name a workload by its labels instead).
		var to *synth.Peer
		n := 0
		for _, e := range g.Edges {
			if e.From == from && e.Key().Port == port && e.To.Kind == synth.PeerWorkload && e.To.Workload.Namespace == f.Destination.Namespace {
				if e.To.Workload.Name == f.Destination.Workloads[0].Name {
					to, n = &e.To, 1
					break
				}
				to = &e.To
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%s reaches several servers on %s", from, port)
		}
		if to == nil {
			t.Fatalf("no edge for %s -> %s %s", from, f.Destination.Namespace, port)
		}
		r := L7Request{From: from, To: *to, Port: port}
		if h := f.L7.HTTP; h != nil {
			r.Method, r.Path = h.Method, routes.RequestPath(h.URL)
			r.Host = h.URL[len("http://"):]
			r.Host = r.Host[:strings.IndexByte(r.Host, '/')]
		} else {
			r.Name = strings.TrimSuffix(f.L7.DNS.Query, ".")
		}
		out = append(out, r)
	}
	return out
}

func TestL7ScenarioPoliciesAllowObservedDenyTheRest(t *testing.T) {
	data, g := l7Scenario(t, 2*time.Hour)
	plan, err := synth.Build(g, l7Opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tab := range plan.L7.Tables {
		if len(tab.Routes) > routes.DefaultMaxRoutes {
			t.Errorf("%s -> %s: %d routes, above the bound", tab.Client, tab.Server, len(tab.Routes))
		}
	}
	ps := policiesFor(t, g, l7Opts)
	observed := captureRequests(t, data, g)
	if len(observed) < 1000 {
		t.Fatalf("only %d requests in the capture", len(observed))
	}
	observed = append(observed, ObservedL7(g)...)
	never := NeverObservedL7(g)
	res, err := VerifyL7(g, ps, observed, never, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Errorf("%d of %d observed requests denied, first: %v", len(res.Denied), res.Observed, res.Denied[:min(5, len(res.Denied))])
	}
	if len(res.Excess) != 0 {
		t.Errorf("excess %d of %d: %v", len(res.Excess), res.Candidates, res.Excess)
	}
	kinds := map[string]int{}
	for _, r := range never {
		kinds[r.Why]++
	}
	for _, why := range []string{"another method on an observed route", "a sibling of an observed route", "past an observed route", "a name below an observed one", "a name beside an observed one"} {
		if kinds[why] == 0 {
			t.Errorf("no never-observed request made as %q", why)
		}
	}
	t.Logf("%d/%d observed requests allowed; excess %d of %d never-observed", res.Allowed, res.Observed, len(res.Excess), res.Candidates)
}

// The check can fail: a rule broader than the routes lets never-observed
// requests through, and a missing route denies observed ones.
func TestL7VerificationCatchesWrongRules(t *testing.T) {
	_, g := l7Scenario(t, 30*time.Minute)
	plan, err := synth.Build(g, l7Opts)
	if err != nil {
		t.Fatal(err)
	}
	var users *synth.WorkloadPolicy
	for _, wp := range plan.Policies {
		if wp.Workload.Name == "users" {
			users = wp
		}
	}
	if users == nil {
		t.Fatal("no policy for users")
	}
	render := func() *Policies {
		files, _, err := plan.Files(synth.FormatCilium)
		if err != nil {
			t.Fatal(err)
		}
		ps := &Policies{}
		for _, f := range files {
			if !strings.HasSuffix(f.Path, "kustomization.yaml") {
				if err := ps.Add(f.Path, f.Data); err != nil {
					t.Fatal(err)
				}
			}
		}
		return ps
	}
	var http *synth.Rule
	for i := range users.Ingress {
		if len(users.Ingress[i].HTTP) > 0 {
			http = &users.Ingress[i]
		}
	}
	if http == nil {
		t.Fatal("users has no HTTP rule")
	}
	saved := http.HTTP

	http.HTTP = append(append([]synth.HTTPRule(nil), saved...), synth.HTTPRule{Method: "GET", Path: "/api/v1/.*"})
	res, err := VerifyL7(g, render(), ObservedL7(g), NeverObservedL7(g), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Excess) == 0 {
		t.Error("a GET /api/v1/.* rule allowed no never-observed request")
	}

	http.HTTP = saved[1:]
	res, err = VerifyL7(g, render(), ObservedL7(g), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Denied) == 0 {
		t.Errorf("dropping the route %s %s denied no observed request", saved[0].Method, saved[0].Path)
	}

	// DNS: a name outside the list is refused, as the DNS proxy would.
	http.HTTP = saved
	ps := render()
	var resolver, server synth.Peer
	for _, e := range g.Edges {
		if e.L7 != nil && len(e.L7.Lookups) > 0 && e.From.Workload.Name == "orders" {
			resolver, server = e.From, e.To
		}
	}
	dnsPort := synth.PortKey{Protocol: observe.ProtoUDP, Port: 53}
	res, err = VerifyL7(g, ps, []L7Request{{From: resolver, To: server, Port: dnsPort, Name: "shard-5.orders-db.example.net"}},
		[]L7Request{{From: resolver, To: server, Port: dnsPort, Name: "evil.example.com"}, {From: resolver, To: server, Port: dnsPort, Name: "shard-1.orders-db.example.net.evil.io"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Excess) != 0 {
		t.Errorf("DNS: denied %v, excess %v", res.Denied, res.Excess)
	}
}

// Without L7 evidence the policy is L3/L4: any request passes, and the
// sweep says so.
func TestL7WithoutRulesAllowsEverything(t *testing.T) {
	_, g := l7Scenario(t, 20*time.Minute)
	plain := l7Opts
	plain.L7 = synth.L7Options{}
	res, err := VerifyL7(g, policiesFor(t, g, plain), ObservedL7(g), NeverObservedL7(g), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Excess) != res.Candidates || res.Candidates == 0 {
		t.Errorf("L3/L4 policies: denied %d, excess %d of %d", len(res.Denied), len(res.Excess), res.Candidates)
	}
}

// On the real bookinfo capture (HTTP through Cilium's proxy), the L7 rules
// allow what the graph kept and nothing generated next to it.
func TestL7BookinfoCapture(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(sharedflows.Dir(t), "bookinfo-kind", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bookinfo captures: %v", err)
	}
	g := graphFromFiles(t, paths, nil)
	plan, err := synth.Build(g, l7Opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.L7.Tables) < 3 {
		t.Fatalf("only %d route tables from bookinfo's HTTP records", len(plan.L7.Tables))
	}
	res, err := VerifyL7(g, policiesFor(t, g, l7Opts), ObservedL7(g), NeverObservedL7(g), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Excess) != 0 || res.Candidates == 0 {
		t.Errorf("denied %v, excess %v of %d", res.Denied, res.Excess, res.Candidates)
	}
	t.Logf("%d route tables; %d/%d observed requests allowed, excess 0 of %d", len(plan.L7.Tables), res.Allowed, res.Observed, res.Candidates)
}

// HTTP to an outside name is checked at the client's egress proxy: the
// observed routes pass, others do not, for names and addresses alike.
func TestL7EgressToOutside(t *testing.T) {
	rates := synth.FQDNPeer("rates.partner.example")
	partner := synth.AddrPeer(netip.MustParseAddr("192.0.2.44"))
	tab := func(urls ...string) *graph.L7 {
		r := routes.New(routes.Options{})
		for _, u := range urls {
			if err := r.Add(routes.Request{Method: "GET", URL: u}); err != nil {
				t.Fatal(err)
			}
		}
		return &graph.L7{Routes: r}
	}
	toRates := edge(web, rates, observe.ProtoTCP, 80)
	toRates.L7 = tab("http://rates.partner.example/v2/rates/EUR", "http://rates.partner.example/v2/rates/USD?at=1")
	toPartner := edge(web, partner, observe.ProtoTCP, 8080)
	toPartner.L7 = tab("http://192.0.2.44:8080/ledger/42")
	g := webAndAPI(toRates, toPartner)
	g.NameIPs = map[string][]netip.Addr{"rates.partner.example": {netip.MustParseAddr("198.51.100.60")}}
	plan, err := synth.Build(g, l7Opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.L7.Tables) != 2 {
		t.Fatalf("tables %+v", plan.L7.Tables)
	}
	res, err := VerifyL7(g, policiesFor(t, g, l7Opts), ObservedL7(g), NeverObservedL7(g), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Excess) != 0 || res.Candidates < 6 {
		t.Errorf("denied %v, excess %v of %d", res.Denied, res.Excess, res.Candidates)
	}
}
