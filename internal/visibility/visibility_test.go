package visibility

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// shopOptions covers every shape: an application namespace with an HTTP
// port of its own and one for every namespace, one with only the shared
// port, and the DNS servers' namespace asked for explicitly.
func shopOptions() Options {
	return Options{
		Namespaces: []string{"shop", "kube-system", "billing"},
		DNS:        synth.DefaultDNSSelector(),
		HTTP:       []HTTPPort{{Port: 8080}, {Namespace: "shop", Port: 9090}, {Namespace: "shop", Port: 8080}},
	}
}

func TestFilesGolden(t *testing.T) {
	tests := map[string]Options{
		"shop":     shopOptions(),
		"dns-only": {Namespaces: []string{"web"}, DNS: synth.DNSSelector{Namespace: "dns", Labels: map[string]string{"app": "coredns", "tier": "dns"}}},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			files, err := Files(opts)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			for _, f := range files {
				got.WriteString("=== " + f.Path + "\n")
				got.Write(f.Data)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(want), got.String()); d != "" {
				t.Errorf("%s differs (-want +got):\n%s", golden, d)
			}
		})
	}
}

func TestFilesAreDeterministic(t *testing.T) {
	first, err := Files(shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		opts := shopOptions()
		// The same set in another order gives the same bytes.
		opts.Namespaces = []string{"billing", "shop", "kube-system", "shop"}
		again, err := Files(opts)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(first, again); d != "" {
			t.Fatalf("run %d differs:\n%s", i, d)
		}
	}
}

// parsed reads every CiliumNetworkPolicy back from the files, as the
// agent would, and runs Cilium's Sanitize on it.
func parsed(t *testing.T, files []synth.File) map[string]*ciliumv2.CiliumNetworkPolicy {
	t.Helper()
	out := map[string]*ciliumv2.CiliumNetworkPolicy{}
	for _, f := range files {
		if strings.HasSuffix(f.Path, "kustomization.yaml") {
			continue
		}
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			cnp := &ciliumv2.CiliumNetworkPolicy{}
			if err := yaml.UnmarshalStrict([]byte(doc), cnp); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if err := cnp.Spec.Sanitize(); err != nil {
				t.Errorf("%s %s/%s: Sanitize: %v", f.Path, cnp.Namespace, cnp.Name, err)
			}
			out[cnp.Namespace+"/"+cnp.Name] = cnp
		}
	}
	return out
}

func TestPoliciesDenyNothingByConstructionAndPassSanitize(t *testing.T) {
	files, err := Files(shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	cnps := parsed(t, files)
	want := []string{
		"billing/netpolgen-visibility", "billing/netpolgen-visibility-http",
		"kube-system/netpolgen-visibility", "kube-system/netpolgen-visibility-http",
		"shop/netpolgen-visibility", "shop/netpolgen-visibility-http",
	}
	var got []string
	for k := range cnps {
		got = append(got, k)
	}
	if d := cmp.Diff(want, sortedStrings(got)); d != "" {
		t.Fatalf("policies (-want +got):\n%s", d)
	}
	for key, cnp := range cnps {
		dd := cnp.Spec.EnableDefaultDeny
		if dd.Ingress == nil || *dd.Ingress || dd.Egress == nil || *dd.Egress {
			t.Errorf("%s: enableDefaultDeny = %+v, want ingress and egress both false", key, dd)
		}
		if cnp.Labels[synth.ManagedByLabel] != synth.ManagedByValue || !synth.IsVisibility(cnp.Labels) {
			t.Errorf("%s: labels %v, want managed-by netpolgen and role visibility", key, cnp.Labels)
		}
	}
}

func TestDNSRuleSelectsTheDNSServersThroughTheProxy(t *testing.T) {
	dns, http, err := Policies("shop", Options{Namespaces: []string{"shop"}, DNS: synth.DefaultDNSSelector()})
	if err != nil {
		t.Fatal(err)
	}
	if http != nil {
		t.Errorf("an HTTP policy without --http: %+v", http)
	}
	if len(dns.Spec.Ingress) != 0 || len(dns.Spec.Egress) != 1 {
		t.Fatalf("rules: %d ingress, %d egress; want only the DNS egress rule", len(dns.Spec.Ingress), len(dns.Spec.Egress))
	}
	eg := dns.Spec.Egress[0]
	if len(eg.ToEndpoints) != 1 {
		t.Fatalf("toEndpoints = %v", eg.ToEndpoints)
	}
	got := eg.ToEndpoints[0].LabelSelector.MatchLabels
	want := map[string]string{"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}
	if d := cmp.Diff(want, map[string]string(got)); d != "" {
		t.Errorf("DNS selector (-want +got):\n%s", d)
	}
	if len(eg.ToPorts) != 1 || len(eg.ToPorts[0].Ports) != 2 {
		t.Fatalf("toPorts = %+v, want 53 over UDP and TCP", eg.ToPorts)
	}
	protos := map[string]bool{}
	for _, p := range eg.ToPorts[0].Ports {
		if p.Port != "53" {
			t.Errorf("port %s, want 53", p.Port)
		}
		protos[string(p.Protocol)] = true
	}
	if !protos["UDP"] || !protos["TCP"] {
		t.Errorf("protocols %v, want UDP and TCP", protos)
	}
	rules := eg.ToPorts[0].Rules
	if rules == nil || len(rules.DNS) != 1 || rules.DNS[0].MatchPattern != "*" {
		t.Errorf("L7 rules %+v, want dns matchPattern \"*\"", rules)
	}
	if sel := dns.Spec.EndpointSelector.LabelSelector; len(sel.MatchLabels) != 0 || len(sel.MatchExpressions) != 0 {
		t.Errorf("endpointSelector %+v, want every pod", sel)
	}
}

func TestDNSServersOwnTrafficIsLeftAlone(t *testing.T) {
	dns, _, err := Policies("kube-system", Options{Namespaces: []string{"kube-system"}, DNS: synth.DefaultDNSSelector()})
	if err != nil {
		t.Fatal(err)
	}
	exprs := dns.Spec.EndpointSelector.LabelSelector.MatchExpressions
	if len(exprs) != 1 || exprs[0].Key != "k8s:k8s-app" || exprs[0].Operator != "NotIn" || len(exprs[0].Values) != 1 || exprs[0].Values[0] != "kube-dns" {
		t.Errorf("kube-system selector %+v, want every pod but k8s-app=kube-dns", exprs)
	}
}

func TestHTTPOptInIsIngressOnTheChosenPortsOnly(t *testing.T) {
	opts := shopOptions()
	_, shop, err := Policies("shop", opts)
	if err != nil {
		t.Fatal(err)
	}
	if shop == nil || len(shop.Spec.Ingress) != 1 || len(shop.Spec.Egress) != 0 {
		t.Fatalf("shop HTTP policy = %+v, want one ingress rule", shop)
	}
	in := shop.Spec.Ingress[0]
	if len(in.FromEntities) != 1 || in.FromEntities[0] != "all" {
		t.Errorf("fromEntities %v, want all", in.FromEntities)
	}
	var ports []string
	for _, p := range in.ToPorts[0].Ports {
		ports = append(ports, p.Port+"/"+string(p.Protocol))
	}
	if d := cmp.Diff([]string{"8080/TCP", "9090/TCP"}, ports); d != "" {
		t.Errorf("shop ports (-want +got):\n%s", d)
	}
	if r := in.ToPorts[0].Rules; r == nil || len(r.HTTP) != 1 || len(r.DNS) != 0 {
		t.Errorf("rules %+v, want http: [{}]", r)
	}
	_, billing, err := Policies("billing", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := billing.Spec.Ingress[0].ToPorts[0].Ports; len(got) != 1 || got[0].Port != "8080" {
		t.Errorf("billing ports %v, want only the shared 8080", got)
	}
	files, err := Files(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "shop/visibility.yaml" && !bytes.Contains(f.Data, []byte("through Cilium's Envoy proxy")) {
			t.Errorf("shop/visibility.yaml does not say the ports go through Envoy:\n%s", f.Data)
		}
	}
}

func TestBadInputIsNamed(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   string
	}{
		{[]string{"http"}, `port "http" is not a number`},
		{[]string{"shop/80a"}, `port "80a" is not a number`},
		{[]string{"8080,0"}, `port "0" is not a number from 1 to 65535`},
		{[]string{"Shop_/80"}, `namespace "Shop_" is not a namespace name`},
	} {
		if _, err := ParseHTTPPorts(tt.values); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseHTTPPorts(%q) = %v, want an error saying %s", tt.values, err, tt.want)
		}
	}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{DNS: synth.DefaultDNSSelector()}, "no namespaces"},
		{Options{Namespaces: []string{"shop"}, DNS: synth.DefaultDNSSelector(), HTTP: []HTTPPort{{Namespace: "web", Port: 80}}}, `--http web/80: namespace "web" gets no learning-mode policy`},
		{Options{Namespaces: []string{"shop"}}, "no DNS selector"},
		{Options{Namespaces: []string{"Shop"}, DNS: synth.DefaultDNSSelector()}, `namespace "Shop" is not a namespace name`},
	} {
		if _, err := Files(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Files(%+v) = %v, want an error saying %s", tt.opts, err, tt.want)
		}
	}
}

// TestTheEngineAllowsEverything proves with Cilium's policy engine that
// the learning-mode policies deny nothing: pods of the namespaces they
// select, pods of other namespaces, the DNS servers, the node and outside
// addresses, named or not, reach each other on arbitrary ports in both
// directions. The same policies with default deny turned on must deny,
// so the check can tell.
func TestTheEngineAllowsEverything(t *testing.T) {
	files, err := Files(shopOptions())
	if err != nil {
		t.Fatal(err)
	}
	g := everyPairGraph()
	for _, byPolicy := range []bool{false, true} {
		ps, err := verify.FromFiles(files)
		if err != nil {
			t.Fatal(err)
		}
		res, err := verify.Verify(g, ps, verify.Options{LocalhostByPolicy: byPolicy})
		if err != nil {
			t.Fatal(err)
		}
		if res.Observed != len(g.Edges) || res.Allowed != res.Observed || len(res.Denied) > 0 {
			t.Errorf("allow-localhost by policy %v: %d of %d connections allowed; denied: %v", byPolicy, res.Allowed, res.Observed, res.Denied)
		}
	}

	// Control: the same files with default deny on must deny most of it.
	var denying []synth.File
	for _, f := range files {
		denying = append(denying, synth.File{Path: f.Path, Data: bytes.ReplaceAll(f.Data, []byte(": false"), []byte(": true"))})
	}
	ps, err := verify.FromFiles(denying)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Verify(g, ps, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Denied) == 0 {
		t.Fatal("with default deny on, nothing was denied: the check cannot tell")
	}
}

// everyPairGraph connects every peer to every other on a spread of ports.
func everyPairGraph() *synth.Graph {
	wl := func(ns, name string, kv ...string) synth.Workload {
		w := synth.Workload{WorkloadRef: synth.WorkloadRef{Namespace: ns, Name: name}, Selector: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			w.Selector[kv[i]] = kv[i+1]
		}
		return w
	}
	g := &synth.Graph{
		Workloads: []synth.Workload{
			wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api"),
			wl("billing", "worker", "app", "worker"),
			wl("kube-system", "coredns", "k8s-app", "kube-dns"), wl("kube-system", "metrics", "app", "metrics"),
			// A namespace the policies do not cover.
			wl("other", "batch", "app", "batch"),
		},
		NameIPs: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("203.0.113.10")}},
	}
	peers := []synth.Peer{
		synth.AddrPeer(netip.MustParseAddr("198.51.100.7")), synth.AddrPeer(netip.MustParseAddr("2001:db8::7")),
		synth.FQDNPeer("api.example.com"), synth.EntityPeer(synth.EntityHost), synth.EntityPeer(synth.EntityRemoteNode),
	}
	for _, w := range g.Workloads {
		peers = append(peers, synth.WorkloadPeer(w.Namespace, w.Name))
	}
	ports := []synth.PortKey{{Protocol: observe.ProtoTCP, Port: 53}, {Protocol: observe.ProtoUDP, Port: 53}, {Protocol: observe.ProtoTCP, Port: 80}, {Protocol: observe.ProtoTCP, Port: 443},
		{Protocol: observe.ProtoTCP, Port: 8080}, {Protocol: observe.ProtoTCP, Port: 9090}, {Protocol: observe.ProtoUDP, Port: 5353}, {Protocol: observe.ProtoTCP, Port: 32000}, {Protocol: observe.ProtoUDP, Port: 65535}}
	for _, from := range peers {
		for _, to := range peers {
			if from == to || (from.Kind != synth.PeerWorkload && to.Kind != synth.PeerWorkload) || to.Kind == synth.PeerFQDN && from.Kind != synth.PeerWorkload {
				continue
			}
			if from.Kind == synth.PeerFQDN {
				continue
			}
			for _, p := range ports {
				g.Edges = append(g.Edges, synth.Edge{From: from, To: to, Protocol: p.Protocol, Port: p.Port, Flows: 1})
			}
		}
	}
	return g
}

func sortedStrings(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}
