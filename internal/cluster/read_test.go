package cluster_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/testenv"
)

const seededPolicies = `
apiVersion: v1
kind: Namespace
metadata: {name: read-shop, labels: {team: shop}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: read-shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 8080}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: read-shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: read-host}
spec:
  nodeSelector: {}
  ingress: [{fromEntities: [cluster]}]
`

func TestReadSeesPoliciesPodsNamespacesAndAPIServer(t *testing.T) {
	env := apiserver.Start(t)
	t.Logf("control plane started in %v", env.StartTime)
	env.Apply(t, seededPolicies)
	env.CreatePod(t, testenv.Pod{Namespace: "read-shop", Name: "web-1", Labels: map[string]string{"app": "web"}, IPs: []string{"10.244.1.7"}})
	env.CreatePod(t, testenv.Pod{Namespace: "read-shop", Name: "agent-1", Labels: map[string]string{"app": "agent"}, HostNetwork: true, IPs: []string{"172.18.0.3"}})

	c, err := cluster.NewClient(env.Config, "test admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, p := range snap.Policies {
		if p.GetNamespace() == "read-shop" || p.GetName() == "read-host" {
			names = append(names, p.GetKind()+" "+p.GetNamespace()+"/"+p.GetName())
		}
	}
	want := []string{"NetworkPolicy read-shop/web", "CiliumNetworkPolicy read-shop/api", "CiliumClusterwideNetworkPolicy /read-host"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if len(snap.Absent) != 0 {
		t.Errorf("Absent = %v, want none: the CRDs are installed", snap.Absent)
	}
	if got := snap.NamespaceLabels("read-shop")["team"]; got != "shop" {
		t.Errorf("namespace label team = %q, want shop", got)
	}

	pod, ok := snap.Pods.Lookup(netip.MustParseAddr("10.244.1.7"))
	if !ok || pod.Name != "web-1" || pod.Labels["app"] != "web" {
		t.Errorf("Lookup(10.244.1.7) = %+v, %v; want read-shop/web-1", pod, ok)
	}
	if _, ok := snap.Pods.Lookup(netip.MustParseAddr("172.18.0.3")); ok {
		t.Error("a host-network pod's address (its node's) was indexed as the pod")
	}
	var host []string
	for _, p := range snap.Pods.HostNetworkPods() {
		host = append(host, p.Namespace+"/"+p.Name)
	}
	if diff := cmp.Diff([]string{"read-shop/agent-1"}, host); diff != "" {
		t.Errorf("host-network pods (-want +got):\n%s", diff)
	}

	// The apiserver publishes itself in default/kubernetes.
	if len(snap.APIServer) == 0 {
		t.Fatal("no kube-apiserver endpoints read from default/kubernetes")
	}
	if u := env.Config.Host; snap.APIServer[0].Port() == 0 {
		t.Errorf("endpoint %v has no port (server %s)", snap.APIServer[0], u)
	}
}
