package synth

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func wl(ns, name string, sel ...string) Workload {
	w := Workload{WorkloadRef: WorkloadRef{ns, name}, Selector: map[string]string{}}
	// As Cilium labels a pod on Kubernetes 1.21 and later.
	labels := []string{"k8s:io.kubernetes.pod.namespace=" + ns, "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=" + ns}
	for i := 0; i+1 < len(sel); i += 2 {
		w.Selector[sel[i]] = sel[i+1]
		labels = append(labels, "k8s:"+sel[i]+"="+sel[i+1])
	}
	sort.Strings(labels)
	w.Identities = [][]string{labels}
	return w
}

func edge(from, to Peer, proto observe.Protocol, port uint16) Edge {
	return Edge{From: from, To: to, Protocol: proto, Port: port, Flows: 10, First: t0, Last: t0.Add(time.Hour)}
}

// goldenGraphs are representative graphs, each showing one concern.
func goldenGraphs() map[string]*Graph {
	shop := func(ns string) Peer { return WorkloadPeer("shop", ns) }
	return map[string]*Graph{
		"dns-managed": {
			Workloads: []Workload{wl("shop", "web", "app", "web"), wl("kube-system", "coredns", "k8s-app", "kube-dns")},
			Edges: []Edge{
				edge(shop("web"), WorkloadPeer("kube-system", "coredns"), observe.ProtoUDP, 53),
			},
		},
		"dns-unmanaged": {
			// The DNS server is seen only as a node address, so the
			// cluster DNS selector stands in for it.
			Workloads: []Workload{wl("shop", "web", "app", "web")},
			Edges: []Edge{
				edge(shop("web"), AddrPeer(netip.MustParseAddr("169.254.20.10")), observe.ProtoUDP, 53),
				edge(shop("web"), FQDNPeer("api.stripe.com"), observe.ProtoTCP, 443),
			},
			NameIPs: map[string][]netip.Addr{"api.stripe.com": {netip.MustParseAddr("54.187.174.169"), netip.MustParseAddr("54.187.205.235")}},
		},
		"world": {
			Workloads: []Workload{wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api")},
			Edges: []Edge{
				edge(AddrPeer(netip.MustParseAddr("203.0.113.7")), shop("web"), observe.ProtoTCP, 8080),
				edge(shop("api"), FQDNPeer("api.github.com"), observe.ProtoTCP, 443),
				edge(shop("api"), AddrPeer(netip.MustParseAddr("198.51.100.20")), observe.ProtoTCP, 5432),
				edge(shop("api"), AddrPeer(netip.MustParseAddr("2001:db8::5")), observe.ProtoTCP, 5432),
			},
			NameIPs: map[string][]netip.Addr{"api.github.com": {netip.MustParseAddr("140.82.121.6")}},
		},
		"entities": {
			Workloads: []Workload{wl("ops", "operator", "app.kubernetes.io/name", "operator")},
			Edges: []Edge{
				edge(WorkloadPeer("ops", "operator"), EntityPeer(EntityKubeAPIServer), observe.ProtoTCP, 6443),
				edge(EntityPeer(EntityHost), WorkloadPeer("ops", "operator"), observe.ProtoTCP, 8081),
				edge(EntityPeer(EntityRemoteNode), WorkloadPeer("ops", "operator"), observe.ProtoTCP, 8081),
				edge(WorkloadPeer("ops", "operator"), EntityPeer(EntityHost), observe.ProtoTCP, 10250),
			},
			EntityIPs: map[Entity][]netip.Addr{EntityKubeAPIServer: {netip.MustParseAddr("172.18.0.2")}},
		},
		"port-ranges": {
			Workloads: []Workload{wl("media", "streamer", "app", "streamer"), wl("media", "client", "app", "client"), wl("media", "probe", "app", "probe")},
			Edges: []Edge{
				edge(WorkloadPeer("media", "client"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10000),
				edge(WorkloadPeer("media", "client"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10001),
				edge(WorkloadPeer("media", "client"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10002),
				edge(WorkloadPeer("media", "client"), WorkloadPeer("media", "streamer"), observe.ProtoTCP, 8080),
				edge(WorkloadPeer("media", "probe"), WorkloadPeer("media", "streamer"), observe.ProtoTCP, 8080),
				edge(WorkloadPeer("media", "probe"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10000),
				edge(WorkloadPeer("media", "probe"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10001),
				edge(WorkloadPeer("media", "probe"), WorkloadPeer("media", "streamer"), observe.ProtoUDP, 10002),
				edge(WorkloadPeer("media", "probe"), WorkloadPeer("media", "streamer"), observe.ProtoTCP, 9090),
			},
		},
		"idle": {
			// A workload seen only in dropped traffic still gets a policy
			// that allows nothing.
			Workloads: []Workload{wl("shop", "debug-shell", "app", "debug-shell"), wl("shop", "unlabelled")},
		},
		"public-endpoint": {
			// 443 takes clients from many networks: any outside address on
			// 443, with the cluster's ranges excepted; the partner keeps its
			// address on 8443.
			Workloads: []Workload{wl("shop", "web", "app", "web")},
			Edges: append(publicClients(shop("web"), 443, 10),
				edge(AddrPeer(netip.MustParseAddr("192.0.2.10")), shop("web"), observe.ProtoTCP, 8443)),
			ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("fd00:10:96::/108")},
			Window:       Window{Start: t0, End: t0.Add(time.Hour)},
		},
		"cross-namespace": {
			Workloads: []Workload{wl("shop", "checkout", "app", "checkout"), wl("payments", "gateway", "app", "gateway"), wl("monitoring", "prometheus", "app", "prometheus")},
			Edges: []Edge{
				edge(WorkloadPeer("shop", "checkout"), WorkloadPeer("payments", "gateway"), observe.ProtoTCP, 8443),
				edge(WorkloadPeer("monitoring", "prometheus"), WorkloadPeer("shop", "checkout"), observe.ProtoTCP, 9090),
				edge(WorkloadPeer("monitoring", "prometheus"), WorkloadPeer("payments", "gateway"), observe.ProtoTCP, 9090),
			},
		},
	}
}

// publicClients are n internet clients of one port, each seen once, from
// addresses in three /16 networks.
func publicClients(to Peer, port uint16, n int) []Edge {
	var out []Edge
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i%2), byte(i), 7})
		if i%3 == 0 {
			a = netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		out = append(out, Edge{From: AddrPeer(a), To: to, Protocol: observe.ProtoTCP, Port: port, Flows: 6, First: at, Last: at})
	}
	return out
}

func renderAll(t *testing.T, g *Graph, opts Options) []byte {
	t.Helper()
	plan, err := Build(g, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files, warnings, err := plan.Files(opts.withDefaults().Format)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	var b bytes.Buffer
	for _, f := range files {
		b.WriteString("# ==> " + f.Path + " <==\n")
		b.Write(f.Data)
	}
	for _, w := range append(plan.Warnings, warnings...) {
		b.WriteString("# warning: " + w + "\n")
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for name, g := range goldenGraphs() {
		for _, format := range []Format{FormatCilium, FormatKubernetes} {
			t.Run(name+"/"+string(format), func(t *testing.T) {
				opts := Options{Format: format, ExcludeNamespaces: []string{"kube-system"}}
				got := renderAll(t, g, opts)
				path := filepath.Join("testdata", name+"."+string(format)+".golden")
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
}
