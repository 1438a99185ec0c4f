package verify

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// observedLabels is a pod's identity label set as Hubble reports it: its
// own labels, the rollout's pod-template-hash, Cilium's bookkeeping and,
// when withNamespaceLabels, the namespace's kubernetes.io/metadata.name
// label (Kubernetes 1.21 and later).
func observedLabels(ns string, sel map[string]string, hash string, withNamespaceLabels bool) []string {
	out := []string{
		"k8s:io.cilium.k8s.policy.cluster=default",
		"k8s:io.cilium.k8s.policy.serviceaccount=default",
		"k8s:io.kubernetes.pod.namespace=" + ns,
		"k8s:pod-template-hash=" + hash,
	}
	if withNamespaceLabels {
		out = append(out, "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name="+ns)
	}
	for k, v := range sel {
		out = append(out, "k8s:"+k+"="+v)
	}
	sort.Strings(out)
	return out
}

// withIdentities gives every workload of g two observed label sets (two
// rollouts), with or without namespace labels.
func withIdentities(g *synth.Graph, withNamespaceLabels bool) *synth.Graph {
	out := *g
	out.Workloads = nil
	for _, w := range g.Workloads {
		w.Identities = [][]string{
			observedLabels(w.Namespace, w.Selector, "5c9f7d6b8", withNamespaceLabels),
			observedLabels(w.Namespace, w.Selector, "7d9f8c6b5", withNamespaceLabels),
		}
		out.Workloads = append(out.Workloads, w)
	}
	return &out
}

// With the identities the flows carried, every pair of the workloads'
// label sets goes through the same verdict as LookupFlow, and learned
// policies pass in both formats with the same excess either way.
func TestObservedIdentitiesPassLearnedPolicies(t *testing.T) {
	g := withIdentities(mixedGraph(), true)
	checkLearned(t, g, []string{"kube-system"}, func(synth.PortKey) bool { return true })
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		ps := policiesFor(t, g, synth.Options{Format: format, ExcludeNamespaces: []string{"kube-system"}})
		res, err := Verify(g, ps, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.IdentityNote != "" {
			t.Errorf("%s: identities were observed, yet: %s", format, res.IdentityNote)
		}
	}
}

// An observed connection is judged for every identity it was seen with: a
// policy that allows only one rollout's pods denies it.
func TestObservedIdentitiesAllMustBeAllowed(t *testing.T) {
	g := withIdentities(webAndAPI(edge(web, api, observe.ProtoTCP, 9000)), true)
	onlyOneRollout := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web, pod-template-hash: 5c9f7d6b8}}}]
    ports: [{port: 9000, protocol: TCP}]
`
	ps := &Policies{}
	if err := ps.Add("api.yaml", []byte(onlyOneRollout)); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(g, ps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || len(res.Denied) != 1 || res.Denied[0].Side != "ingress" {
		t.Fatalf("denied = %v, want web -> api denied at ingress (the 7d9f8c6b5 rollout is not allowed)", res.Denied)
	}
	checked, err := Check(g, ps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(checked.Connections) != 1 || checked.Connections[0].Allowed {
		t.Fatalf("Check: %+v, want the one connection denied", checked.Connections)
	}
	// The selector-made identity (no observed labels) has no
	// pod-template-hash, so the same policy denies it too, and the result
	// says the identities were made up.
	res, err = Verify(webAndAPI(edge(web, api, observe.ProtoTCP, 9000)), ps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.IdentityNote, "2 workloads had no observed identity labels") || !strings.Contains(res.IdentityNote, "shop/api, shop/web") {
		t.Errorf("IdentityNote = %q, want it to name both workloads", res.IdentityNote)
	}
	if s := res.Summary(); s.IdentityNote != res.IdentityNote {
		t.Errorf("Summary drops the identity note: %q", s.IdentityNote)
	}
}

// Without namespace labels on the identities (Kubernetes before 1.21), a
// NetworkPolicy cannot select another namespace: synthesis leaves the
// peer out and says why, and verification fails the connection with the
// reason; CiliumNetworkPolicy selects by io.kubernetes.pod.namespace and
// allows it.
func TestNetworkPolicyCannotSelectUnlabelledNamespace(t *testing.T) {
	base := &synth.Graph{
		Workloads: []synth.Workload{wl("shop", "web", "app", "web"), wl("data", "db", "app", "db")},
		Edges:     []synth.Edge{edge(web, db, observe.ProtoTCP, 5432)},
	}
	for _, labelled := range []bool{false, true} {
		g := withIdentities(base, labelled)
		for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
			t.Run(fmt.Sprintf("%s/namespace-labels=%v", format, labelled), func(t *testing.T) {
				opts := synth.Options{Format: format}
				plan, err := synth.Build(g, opts)
				if err != nil {
					t.Fatal(err)
				}
				files, warnings, err := plan.Files(format)
				if err != nil {
					t.Fatal(err)
				}
				ps, err := FromFiles(files)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Verify(g, ps, Options{})
				if err != nil {
					t.Fatal(err)
				}
				checked, err := Check(g, ps, Options{})
				if err != nil {
					t.Fatal(err)
				}
				warned := strings.Contains(strings.Join(warnings, "\n"), "NetworkPolicy cannot select namespace")
				if format == synth.FormatKubernetes && !labelled {
					if res.OK() || len(res.Denied) != 1 || !strings.Contains(res.Denied[0].Reason, "cannot select namespace") {
						t.Errorf("denied = %v, want shop/web -> data/db denied with the namespace reason", res.Denied)
					}
					if len(res.Inexpressible) != 0 {
						t.Errorf("inexpressible = %v, want the connection denied, not excused", res.Inexpressible)
					}
					if c := checked.Connections[0]; c.Allowed || !strings.Contains(c.Reason, "cannot select namespace") || c.Inexpressible {
						t.Errorf("Check: %+v, want denied with the namespace reason", c)
					}
					if !warned {
						t.Errorf("no warning says why; warnings:\n%s", strings.Join(warnings, "\n"))
					}
					report := string(synth.Report(synth.ReportInput{Graph: g, Plan: plan, Format: format, Warnings: warnings, Verify: res.Summary()}))
					if !strings.Contains(report, "NetworkPolicy cannot select namespace data") || !strings.Contains(report, "FAIL") {
						t.Errorf("REPORT.md does not fail and say why:\n%s", report)
					}
					return
				}
				if !res.OK() || len(res.Inexpressible) != 0 {
					t.Errorf("denied %v, inexpressible %v; want all allowed", res.Denied, res.Inexpressible)
				}
				if !checked.Connections[0].Allowed {
					t.Errorf("Check denies %+v", checked.Connections[0])
				}
				if warned {
					t.Errorf("warned though the namespace can be selected:\n%s", strings.Join(warnings, "\n"))
				}
			})
		}
	}
}

// A namespace whose identities show another label that singles it out is
// selected by that label, with a note.
func TestNetworkPolicySelectsNamespaceByOtherLabel(t *testing.T) {
	base := &synth.Graph{
		Workloads: []synth.Workload{wl("shop", "web", "app", "web"), wl("data", "db", "app", "db")},
		Edges:     []synth.Edge{edge(web, db, observe.ProtoTCP, 5432)},
	}
	g := withIdentities(base, false)
	for i := range g.Workloads {
		for j := range g.Workloads[i].Identities {
			set := append([]string{"k8s:io.cilium.k8s.namespace.labels.team=" + g.Workloads[i].Namespace}, g.Workloads[i].Identities[j]...)
			sort.Strings(set)
			g.Workloads[i].Identities[j] = set
		}
	}
	opts := synth.Options{Format: synth.FormatKubernetes}
	plan, err := synth.Build(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	files, warnings, err := plan.Files(opts.Format)
	if err != nil {
		t.Fatal(err)
	}
	var webPolicy string
	for _, f := range files {
		if strings.HasSuffix(f.Path, "web.yaml") {
			webPolicy = string(f.Data)
		}
	}
	if !strings.Contains(webPolicy, "team: data") {
		t.Errorf("web's policy does not select data by its team label:\n%s", webPolicy)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "selected by its label team=data") {
		t.Errorf("no note about the label chosen:\n%s", strings.Join(warnings, "\n"))
	}
	ps, err := FromFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	res := verifyBothWays(t, g, ps, Options{})
	if !res.OK() {
		t.Errorf("denied %v", res.Denied)
	}
}

// A workload seen with more label sets than the graph keeps is checked
// with the kept ones, and the result says so.
func TestTruncatedIdentitiesAreNoted(t *testing.T) {
	g := withIdentities(webAndAPI(edge(web, api, observe.ProtoTCP, 9000)), true)
	g.Workloads[0].IdentitiesTruncated = true
	ps := policiesFor(t, g, synth.Options{Format: synth.FormatCilium})
	res, err := Verify(g, ps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || !strings.Contains(res.IdentityNote, "1 workloads were seen with more than 8 identity label sets") || !strings.Contains(res.IdentityNote, "shop/web") {
		t.Errorf("denied %v, note %q; want allowed and a note naming shop/web", res.Denied, res.IdentityNote)
	}
}
