package synth

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidateNetworkPolicy(t *testing.T) {
	port := func(p int32, end int32) networkingv1.NetworkPolicyPort {
		proto := corev1.ProtocolTCP
		v := intstr.FromInt32(p)
		np := networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &v}
		if end != 0 {
			np.EndPort = &end
		}
		return np
	}
	valid := func() *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
					Ports: []networkingv1.NetworkPolicyPort{port(8080, 8090)},
				}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			},
		}
	}
	tests := []struct {
		name    string
		mutate  func(*networkingv1.NetworkPolicy)
		wantErr string
	}{
		{"valid", func(*networkingv1.NetworkPolicy) {}, ""},
		{"name not DNS-1123", func(np *networkingv1.NetworkPolicy) { np.Name = "Web_1" }, "metadata.name"},
		{"endPort below port", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports = []networkingv1.NetworkPolicyPort{port(8080, 80)}
		}, "endPort"},
		{"port zero", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports = []networkingv1.NetworkPolicyPort{port(0, 0)}
		}, "port"},
		{"bad label key", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PodSelector.MatchLabels = map[string]string{"bad key": "x"}
		}, "podSelector"},
		{"host bits in ipBlock", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].From[0].IPBlock.CIDR = "10.0.0.1/8"
		}, "host bits"},
		{"ipBlock with a selector", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].From[0].PodSelector = &metav1.LabelSelector{}
		}, "may not combine"},
		{"empty peer", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].From[0] = networkingv1.NetworkPolicyPeer{}
		}, "must specify a peer"},
		{"unknown policy type", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{"Both"}
		}, "policyTypes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			np := valid()
			tc.mutate(np)
			err := ValidateNetworkPolicy(np)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want one mentioning %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}
