package verify

import (
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestVerifyCatchesDeniedAndExcess feeds hand-written policies that are
// wrong both ways, so a verifier that always says "fine" fails here.
func TestVerifyCatchesDeniedAndExcess(t *testing.T) {
	g := &synth.Graph{
		Workloads: []synth.Workload{wl("shop", "web", "app", "web"), wl("shop", "api", "app", "api")},
		Edges: []synth.Edge{
			edge(web, api, observe.ProtoTCP, 9000),
			edge(web, api, observe.ProtoTCP, 8080),
		},
	}
	tests := []struct {
		name       string
		yaml       string
		wantDenied int
		wantExcess int
	}{
		{
			name: "ingress misses a port",
			yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 9000, protocol: TCP}]
`,
			wantDenied: 1,
		},
		{
			name: "ingress peer too wide",
			yaml: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: "8080", endPort: 9000, protocol: TCP}]}]
  egress: [{}]
`,
			// Any pod of the namespace may connect, so api -> api on the
			// two observed ports is allowed and was never seen.
			wantExcess: 2,
		},
		{
			name: "port-only rule and every entity",
			yaml: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - fromEntities: [all]
    toPorts: [{ports: [{port: "9000", endPort: 9001, protocol: TCP}]}]
  egress: [{}]
`,
			// Any peer on 8080 and 9000: api -> api on both ports.
			wantExcess: 2,
		},
		{
			name: "clusterwide policy",
			yaml: `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: api}
spec:
  endpointSelector: {matchLabels: {app: api, k8s:io.kubernetes.pod.namespace: shop}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web, k8s:io.kubernetes.pod.namespace: shop}}]
    toPorts: [{ports: [{port: "9000", protocol: TCP}]}]
  egress: [{}]
`,
			// 8080 is not allowed.
			wantDenied: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := &Policies{}
			if err := ps.Add(tc.name, []byte(tc.yaml)); err != nil {
				t.Fatal(err)
			}
			res := verifyBothWays(t, g, ps, Options{Subjects: func(r synth.WorkloadRef) bool { return r.Name == "api" }})
			if len(res.Denied) != tc.wantDenied {
				t.Errorf("denied = %v, want %d", res.Denied, tc.wantDenied)
			}
			if len(res.Excess) != tc.wantExcess {
				t.Errorf("excess = %v, want %d", res.Excess, tc.wantExcess)
			}
		})
	}
}
