package verify

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func wl(ns, name string, sel ...string) synth.Workload {
	w := synth.Workload{WorkloadRef: synth.WorkloadRef{Namespace: ns, Name: name}, Selector: map[string]string{}}
	for i := 0; i+1 < len(sel); i += 2 {
		w.Selector[sel[i]] = sel[i+1]
	}
	return w
}

func edge(from, to synth.Peer, proto observe.Protocol, port uint16) synth.Edge {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return synth.Edge{From: from, To: to, Protocol: proto, Port: port, Flows: 1, First: t0, Last: t0}
}

// webAndAPI is a graph of the shop's web and api workloads with edges.
func webAndAPI(edges ...synth.Edge) *synth.Graph {
	return &synth.Graph{
		Workloads: []synth.Workload{wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api")},
		Edges:     edges,
	}
}

var (
	web     = synth.WorkloadPeer("shop", "web")
	api     = synth.WorkloadPeer("shop", "api")
	db      = synth.WorkloadPeer("data", "db")
	coredns = synth.WorkloadPeer("kube-system", "coredns")
)

// mixedGraph has DNS, names, addresses, entities, ranges and namespaces.
func mixedGraph() *synth.Graph {
	return &synth.Graph{
		Workloads: []synth.Workload{
			wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api"),
			wl("data", "db", "app.kubernetes.io/name", "db"), wl("kube-system", "coredns", "k8s-app", "kube-dns"),
			wl("shop", "idle", "app", "idle"),
		},
		Edges: []synth.Edge{
			edge(synth.AddrPeer(netip.MustParseAddr("203.0.113.7")), web, observe.ProtoTCP, 8080),
			edge(web, api, observe.ProtoTCP, 9000),
			edge(web, api, observe.ProtoTCP, 9001),
			edge(web, api, observe.ProtoTCP, 9002),
			edge(web, coredns, observe.ProtoUDP, 53),
			edge(api, coredns, observe.ProtoUDP, 53),
			edge(api, db, observe.ProtoTCP, 5432),
			edge(api, synth.FQDNPeer("api.github.com"), observe.ProtoTCP, 443),
			edge(api, synth.AddrPeer(netip.MustParseAddr("198.51.100.20")), observe.ProtoTCP, 443),
			edge(api, synth.EntityPeer(synth.EntityKubeAPIServer), observe.ProtoTCP, 6443),
			edge(synth.EntityPeer(synth.EntityHost), db, observe.ProtoTCP, 8081),
			edge(synth.EntityPeer(synth.EntityRemoteNode), coredns, observe.ProtoUDP, 53),
		},
		NameIPs: map[string][]netip.Addr{"api.github.com": {netip.MustParseAddr("140.82.121.6")}},
	}
}

func policiesFor(t *testing.T, g *synth.Graph, opts synth.Options) *Policies {
	t.Helper()
	plan, err := synth.Build(g, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files, _, err := plan.Files(opts.Format)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	ps := &Policies{}
	for _, f := range files {
		if f.Path == "kustomization.yaml" || len(f.Path) > 19 && f.Path[len(f.Path)-18:] == "kustomization.yaml" {
			continue
		}
		if err := ps.Add(f.Path, f.Data); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return ps
}

func TestVerifyGeneratedPoliciesAllowAllAndNoMore(t *testing.T) {
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes, synth.FormatBoth} {
		t.Run(string(format), func(t *testing.T) {
			g := mixedGraph()
			opts := synth.Options{Format: format, ExcludeNamespaces: []string{"kube-system"}}
			res, err := Verify(g, policiesFor(t, g, opts), Options{Subjects: func(r synth.WorkloadRef) bool { return opts.Manages(r.Namespace) }})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Errorf("observed connections denied: %v", res.Denied)
			}
			if len(res.Excess) != 0 {
				t.Errorf("excess: %v", res.Excess)
			}
			if res.Candidates == 0 {
				t.Error("the excess sweep asked nothing")
			}
			wantInexpressible := 0
			if format == synth.FormatKubernetes {
				// api -> kube-apiserver cannot be named; host -> db is
				// allowed by Cilium's allow-localhost.
				wantInexpressible = 1
			}
			if len(res.Inexpressible) != wantInexpressible {
				t.Errorf("inexpressible = %v, want %d", res.Inexpressible, wantInexpressible)
			}
			t.Logf("%s: observed %d allowed %d candidates %d bydesign %d", format, res.Observed, res.Allowed, res.Candidates, len(res.ByDesign))
		})
	}
}

// TestVerifyIndexesPoliciesLikeTheAgent loads policies the way the agent
// names them (kind, namespace, name): a clusterwide policy still selects
// pods in every namespace, and two documents with the same name both count.
func TestVerifyIndexesPoliciesLikeTheAgent(t *testing.T) {
	policy := func(kind, namespace, key string, port int) string {
		return fmt.Sprintf(`apiVersion: cilium.io/v2
kind: %s
metadata:
  name: api
  namespace: %q
spec:
  endpointSelector:
    matchLabels:
      %sapp: api
  ingress:
  - fromEndpoints:
    - matchLabels:
        %sapp: web
    toPorts:
    - ports:
      - port: "%d"
        protocol: TCP
`, kind, namespace, key, key, port)
	}
	docs := strings.Join([]string{
		policy("CiliumClusterwideNetworkPolicy", "", "k8s:", 9000),
		policy("CiliumNetworkPolicy", "shop", "", 9001),
		policy("CiliumNetworkPolicy", "shop", "", 9002),
	}, "---\n")
	ps := &Policies{}
	if err := ps.Add("policies.yaml", []byte(docs)); err != nil {
		t.Fatal(err)
	}
	g := webAndAPI(
		edge(web, api, observe.ProtoTCP, 9000),
		edge(web, api, observe.ProtoTCP, 9001),
		edge(web, api, observe.ProtoTCP, 9002),
		edge(web, api, observe.ProtoTCP, 9003),
	)
	res, err := Verify(g, ps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{{From: web, To: api, Port: synth.PortKey{Protocol: observe.ProtoTCP, Port: 9003}, Side: "ingress"}}
	if res.Allowed != 3 || len(res.Denied) != 1 || res.Denied[0] != want[0] {
		t.Errorf("allowed %d, denied %v; want 9000-9002 allowed and only %v denied", res.Allowed, res.Denied, want)
	}
}
