package synth

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// table learns a route table from "METHOD url" lines (HTTP/2 when the
// line ends with " h2").
func table(t *testing.T, opts routes.Options, reqs ...string) *routes.Table {
	t.Helper()
	tab := routes.New(opts)
	for i, r := range reqs {
		method, url, _ := strings.Cut(r, " ")
		proto := "HTTP/1.1"
		if u, ok := strings.CutSuffix(url, " h2"); ok {
			url, proto = u, "HTTP/2"
		}
		if err := tab.Add(routes.Request{Method: method, URL: url, Protocol: proto, Time: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	return tab
}

func withL7(e Edge, l *graph.L7) Edge { e.L7 = l; return e }

// l7Graphs are graphs with L7 tables, one per kind of L7 rule.
func l7Graphs(t *testing.T) map[string]*Graph {
	shop := func(n string) Peer { return WorkloadPeer("shop", n) }
	dns := WorkloadPeer("kube-system", "coredns")
	var reviews []string
	for i := range 40 {
		reviews = append(reviews, fmt.Sprintf("GET http://reviews:9080/reviews/%d", 1000+i*37))
	}
	reviews = append(reviews, "GET http://reviews:9080/reviews/7?verbose=1", "POST http://reviews:9080/reviews", "DELETE http://reviews:9080/reviews/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"PUT http://reviews:9080/reviews/12/stars.v2", "GET http://reviews:9080/health")
	webToReviews := withL7(edge(shop("web"), shop("reviews"), observe.ProtoTCP, 9080), &graph.L7{Routes: table(t, routes.Options{}, reviews...)})
	webToReviews.Services = []string{"shop/reviews"}
	return map[string]*Graph{
		"l7-http": {
			Workloads: []Workload{wl("shop", "web", "app", "web"), wl("shop", "reviews", "app", "reviews"), wl("shop", "admin", "app", "admin")},
			Edges: []Edge{
				webToReviews,
				// Another client with other routes gets a rule of its own.
				withL7(edge(shop("admin"), shop("reviews"), observe.ProtoTCP, 9080), &graph.L7{Routes: table(t, routes.Options{}, "GET http://10.0.0.9:9080/admin/stats", "GET http://reviews.shop:9080/health")}),
				// No L7 records: stays L3/L4.
				edge(shop("web"), shop("reviews"), observe.ProtoTCP, 9090),
				// Plain HTTP to an outside API: only the client's egress
				// proxy can check it.
				withL7(edge(shop("web"), FQDNPeer("rates.partner.example"), observe.ProtoTCP, 80), &graph.L7{Routes: table(t, routes.Options{},
					"GET http://rates.partner.example/v2/rates/EUR", "GET http://rates.partner.example/v2/rates/USD?at=2026-01-01")}),
			},
			NameIPs: map[string][]netip.Addr{"rates.partner.example": {netip.MustParseAddr("198.51.100.60")}},
		},
		"l7-grpc": {
			Workloads: []Workload{wl("shop", "checkout", "app", "checkout"), wl("shop", "cart", "app", "cart")},
			Edges: []Edge{
				withL7(edge(shop("checkout"), shop("cart"), observe.ProtoTCP, 7070), &graph.L7{Routes: table(t, routes.Options{},
					"POST http://cart:7070/hipstershop.CartService/GetCart h2", "POST http://cart:7070/hipstershop.CartService/AddItem h2", "POST http://cart:7070/grpc.health.v1.Health/Check h2")}),
			},
		},
		"l7-kafka": {
			Workloads: []Workload{wl("shop", "orders", "app", "orders"), wl("data", "kafka", "app", "kafka")},
			Edges: []Edge{
				withL7(edge(shop("orders"), WorkloadPeer("data", "kafka"), observe.ProtoTCP, 9092), &graph.L7{Kafka: []graph.KafkaUse{{Role: "consume", Topic: "payments"}, {Role: "produce", Topic: "orders"}}}),
			},
		},
		"l7-dns": {
			Workloads: []Workload{wl("shop", "orders", "app", "orders"), wl("shop", "web", "app", "web"), wl("kube-system", "coredns", "k8s-app", "kube-dns")},
			Edges: []Edge{
				withL7(edge(shop("orders"), dns, observe.ProtoUDP, 53), &graph.L7{Lookups: []string{
					"api.stripe.com", "orders-db.shop.svc.cluster.local",
					"shard-0.orders.example.net", "shard-1.orders.example.net", "shard-2.orders.example.net", "shard-3.orders.example.net"}}),
				edge(shop("orders"), FQDNPeer("api.stripe.com"), observe.ProtoTCP, 443),
				// No DNS visibility for web: any name, said in the report.
				edge(shop("web"), dns, observe.ProtoUDP, 53),
			},
		},
	}
}

func TestL7Golden(t *testing.T) {
	for name, g := range l7Graphs(t) {
		t.Run(name, func(t *testing.T) {
			opts := Options{Format: FormatBoth, ExcludeNamespaces: []string{"kube-system"}, L7: L7Options{Enabled: true}}
			got := renderAll(t, g, opts)
			plan, err := Build(g, opts)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, "# ==> REPORT.md (L7 section) <==\n"...)
			got = append(got, l7Section(plan, opts.Format)...)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from the golden file (-want +got):\n%s", path, diff)
			}
		})
	}
}

func l7Section(pl *Plan, format Format) string {
	var b strings.Builder
	full := string(Report(ReportInput{Graph: &Graph{}, Plan: pl, Format: format}))
	if i := strings.Index(full, "\n## L7 rules"); i >= 0 {
		rest := full[i+1:]
		if j := strings.Index(rest, "\n## "); j >= 0 {
			rest = rest[:j+1]
		}
		b.WriteString(rest)
	}
	return b.String()
}

// Without --l7 nothing changes: no HTTP rules, DNS allows any name.
func TestL7IsOptIn(t *testing.T) {
	for name, g := range l7Graphs(t) {
		plain := renderAll(t, g, Options{Format: FormatCilium, ExcludeNamespaces: []string{"kube-system"}})
		if strings.Contains(string(plain), "http:") || strings.Contains(string(plain), "orders-db") || strings.Contains(string(plain), "shard-") {
			t.Errorf("%s: L7 rules without --l7:\n%s", name, plain)
		}
	}
}

// Two clients of one port with different routes never share a rule:
// Cilium would give each the other's routes.
func TestL7RulesArePerClient(t *testing.T) {
	g := l7Graphs(t)["l7-http"]
	plan, err := Build(g, Options{L7: L7Options{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, wp := range plan.Policies {
		if wp.Workload.Name != "reviews" {
			continue
		}
		l7Peers := map[Peer]int{}
		for _, r := range wp.Ingress {
			for _, p := range r.Peers {
				for _, pr := range r.Ports {
					if pr.Port == 9080 {
						l7Peers[p]++
						if len(r.HTTP) == 0 {
							t.Errorf("%s reaches 9080 by an L3/L4 rule, which would allow any request", p)
						}
					}
				}
			}
			if len(r.HTTP) > 0 && len(r.Peers) != 1 {
				t.Errorf("an HTTP rule names %d peers with different routes", len(r.Peers))
			}
		}
		if len(l7Peers) != 2 || l7Peers[WorkloadPeer("shop", "web")] != 1 {
			t.Errorf("9080 peers %v", l7Peers)
		}
	}
}

func TestL7RouteBoundWarns(t *testing.T) {
	var reqs []string
	for a := range 10 {
		for b := range 10 {
			reqs = append(reqs, fmt.Sprintf("GET http://x/v%d/r%d/item", a, b))
		}
	}
	g := &Graph{
		Workloads: []Workload{wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api")},
		Edges:     []Edge{withL7(edge(WorkloadPeer("shop", "web"), WorkloadPeer("shop", "api"), observe.ProtoTCP, 80), &graph.L7{Routes: table(t, routes.Options{MaxRoutes: 8, MaxDistinct: 100}, reqs...)})},
	}
	plan, err := Build(g, Options{L7: L7Options{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.L7.Collapsed) != 1 || !strings.Contains(strings.Join(plan.Warnings, "\n"), "--l7-max-routes") {
		t.Errorf("no warning about the route bound: %v", plan.Warnings)
	}
	for _, tab := range plan.L7.Tables {
		if len(tab.Routes) > 8 {
			t.Errorf("%d routes above the bound", len(tab.Routes))
		}
	}
}

// Rendering runs Cilium's Sanitize on each policy: a rule Cilium would
// reject (here a path that is no regular expression) fails synthesis
// instead of reaching a cluster.
func TestL7RulesPassSanitize(t *testing.T) {
	g := l7Graphs(t)["l7-http"]
	plan, err := Build(g, Options{L7: L7Options{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, wp := range plan.Policies {
		if _, err := plan.CiliumPolicy(wp); err != nil {
			t.Fatalf("%s: %v", wp.Workload.WorkloadRef, err)
		}
		for i := range wp.Ingress {
			if len(wp.Ingress[i].HTTP) > 0 {
				wp.Ingress[i].HTTP = append(wp.Ingress[i].HTTP, HTTPRule{Method: "GET", Path: "/broken("})
				if _, err := plan.CiliumPolicy(wp); err == nil || !strings.Contains(err.Error(), "Cilium rejects") {
					t.Errorf("%s: a broken path passed: %v", wp.Workload.WorkloadRef, err)
				}
				return
			}
		}
	}
	t.Fatal("no HTTP rule in the l7-http graph")
}
