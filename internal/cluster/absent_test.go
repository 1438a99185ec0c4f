package cluster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/cluster"
)

func TestClusterWithoutCiliumReportsAbsentCRDs(t *testing.T) {
	env := bare.Start(t)
	env.Apply(t, `
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: plain}
spec: {podSelector: {}, policyTypes: [Ingress]}
`)
	c, err := cluster.NewClient(env.Config, "test admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Read(context.Background())
	if err != nil {
		t.Fatalf("read a cluster without Cilium: %v", err)
	}
	if len(snap.Policies) != 1 || snap.Policies[0].GetName() != "web" {
		t.Errorf("policies %v, want the one NetworkPolicy", snap.Policies)
	}
	want := []string{"CiliumNetworkPolicy (ciliumnetworkpolicies.cilium.io)", "CiliumClusterwideNetworkPolicy (ciliumclusterwidenetworkpolicies.cilium.io)"}
	if len(snap.Absent) != len(want) {
		t.Fatalf("Absent = %q, want the two Cilium kinds", snap.Absent)
	}
	for i, w := range want {
		if !strings.HasPrefix(snap.Absent[i], w) || !strings.Contains(snap.Absent[i], "is Cilium installed?") {
			t.Errorf("Absent[%d] = %q, want it to name %s and ask about Cilium", i, snap.Absent[i], w)
		}
	}
}
