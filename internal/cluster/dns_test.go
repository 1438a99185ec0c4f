package cluster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/testenv"
)

// The cluster DNS Service is found by the names distributions give it or
// by kube-dns's label, and its selector is what learning mode selects; a
// missing or selector-less one is an error saying what to pass instead.
func TestFindDNSService(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, `
apiVersion: v1
kind: Namespace
metadata: {name: dns-by-name}
---
apiVersion: v1
kind: Namespace
metadata: {name: dns-by-label}
---
apiVersion: v1
kind: Namespace
metadata: {name: dns-no-selector}
---
apiVersion: v1
kind: Namespace
metadata: {name: dns-none}
---
apiVersion: v1
kind: Service
metadata: {name: coredns, namespace: dns-by-name}
spec:
  selector: {app.kubernetes.io/name: coredns}
  ports: [{port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: cluster-dns, namespace: dns-by-label, labels: {k8s-app: kube-dns}}
spec:
  selector: {k8s-app: dns, tier: node}
  ports: [{port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: dns-no-selector}
spec:
  ports: [{port: 53, protocol: UDP}]
`)
	c, err := cluster.NewClient(env.Config, "envtest admin")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		namespace string
		want      *cluster.DNSService
		err       string
	}{
		{"dns-by-name", &cluster.DNSService{Namespace: "dns-by-name", Name: "coredns", Selector: map[string]string{"app.kubernetes.io/name": "coredns"}}, ""},
		{"dns-by-label", &cluster.DNSService{Namespace: "dns-by-label", Name: "cluster-dns", Selector: map[string]string{"k8s-app": "dns", "tier": "node"}}, ""},
		{"dns-no-selector", nil, "DNS Service dns-no-selector/kube-dns selects no pods by label"},
		{"dns-none", nil, "no DNS Service in namespace dns-none: looked for Services named kube-dns, coredns"},
	} {
		got, err := c.FindDNSService(ctx, tt.namespace)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "--dns-selector") {
				t.Errorf("%s: err = %v, want one saying %q and naming --dns-selector", tt.namespace, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.namespace, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.namespace, d)
		}
	}

	env.CreatePod(t, testenv.Pod{Namespace: "dns-by-label", Name: "dns-0", Labels: map[string]string{"k8s-app": "dns", "tier": "node"}})
	for sel, want := range map[string]int{"k8s-app=dns,tier=node": 1, "k8s-app=dns,tier=cluster": 0} {
		labels := map[string]string{}
		for _, kv := range strings.Split(sel, ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
		if n, err := c.CountPods(ctx, "dns-by-label", labels); err != nil || n != want {
			t.Errorf("CountPods(%s) = %d, %v; want %d", sel, n, err, want)
		}
	}
	names, err := c.ListNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, ns := range names {
		if strings.HasPrefix(ns, "dns-") {
			found++
		}
	}
	if found != 4 {
		t.Errorf("ListNamespaces = %v, want the four dns-* namespaces among them", names)
	}
}
