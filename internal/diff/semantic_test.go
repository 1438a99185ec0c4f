package diff

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func workload(ns, app string) synth.Workload {
	return synth.Workload{
		WorkloadRef: synth.WorkloadRef{Namespace: ns, Name: app},
		Selector:    map[string]string{"app": app},
		Identities:  [][]string{{"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=" + ns}},
	}
}

func shopGraph() *synth.Graph {
	web, api, db := synth.WorkloadPeer("shop", "web"), synth.WorkloadPeer("shop", "api"), synth.WorkloadPeer("shop", "db")
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	edge := func(from, to synth.Peer, port uint16) synth.Edge {
		return synth.Edge{From: from, To: to, Protocol: observe.ProtoTCP, Port: port, Flows: 1, First: t0, Last: t0}
	}
	return &synth.Graph{
		Workloads: []synth.Workload{workload("shop", "web"), workload("shop", "api"), workload("shop", "db")},
		Edges:     []synth.Edge{edge(web, api, 9000), edge(api, db, 5432), edge(web, db, 5432)},
	}
}

const dbFromAPI = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop, uid: 1, resourceVersion: "7", managedFields: [{manager: kubectl}]}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432, protocol: TCP}]}]
`

func TestSemanticNewlyDeniedAllowedAndUnchanged(t *testing.T) {
	current := mustParse(t, dbFromAPI)
	proposed := mustParse(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}, {podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432, protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
`)
	res, err := Semantic(shopGraph(), current, proposed)
	if err != nil {
		t.Fatal(err)
	}
	web, api, db := synth.WorkloadPeer("shop", "web").String(), synth.WorkloadPeer("shop", "api").String(), synth.WorkloadPeer("shop", "db").String()
	want := &SemanticResult{
		Observed:         3,
		NewlyDenied:      []Connection{{From: web, To: api, Port: "9000/TCP", Side: "ingress"}},
		NewlyAllowed:     []Connection{{From: web, To: db, Port: "5432/TCP", Side: "ingress"}},
		UnchangedAllowed: 1,
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("semantic diff (-want +got):\n%s", diff)
	}
}

func TestSemanticKeepsLivePoliciesThatAreNotProposed(t *testing.T) {
	// Proposing only an unrelated policy leaves the live db policy in
	// force, so web -> db stays denied rather than turning allowed.
	current := mustParse(t, dbFromAPI)
	proposed := mustParse(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
`)
	res, err := Semantic(shopGraph(), current, proposed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() || res.UnchangedDenied != 1 || res.UnchangedAllowed != 2 {
		t.Errorf("got %+v, want no change: 2 allowed, 1 denied", res)
	}
}

func TestSemanticLeavesOutLivePoliciesTheEngineCannotRead(t *testing.T) {
	// A live CiliumNetworkPolicy with a field this Cilium does not know
	// (from a newer Cilium, say) must not stop the diff.
	current := mustParse(t, dbFromAPI+`---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: future, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: "not a list"}]
`)
	res, err := Semantic(shopGraph(), current, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "CiliumNetworkPolicy shop/future is in force but left out") {
		t.Errorf("notes %q, want one naming the unreadable policy", res.Notes)
	}
	if res.Observed != 3 || res.Changed() {
		t.Errorf("got %+v, want 3 observed and no change", res)
	}
}

func TestSemanticCountsClusterwidePolicies(t *testing.T) {
	// A proposed clusterwide policy that selects db and admits nothing
	// denies what reaches db, in every namespace.
	proposed := mustParse(t, `
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: lock-db}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{}]
`)
	res, err := Semantic(shopGraph(), nil, proposed)
	if err != nil {
		t.Fatal(err)
	}
	var denied []string
	for _, c := range res.NewlyDenied {
		denied = append(denied, c.String())
	}
	want := []string{
		synth.WorkloadPeer("shop", "api").String() + " -> " + synth.WorkloadPeer("shop", "db").String() + " 5432/TCP",
		synth.WorkloadPeer("shop", "web").String() + " -> " + synth.WorkloadPeer("shop", "db").String() + " 5432/TCP",
	}
	if diff := cmp.Diff(want, denied); diff != "" {
		t.Errorf("newly denied (-want +got):\n%s", diff)
	}
}
