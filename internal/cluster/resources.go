package cluster

import "k8s.io/apimachinery/pkg/runtime/schema"

// The policy kinds netpolgen reads and diffs.
func NetworkPolicyKind() PolicyKind {
	return PolicyKind{
		Kind: "NetworkPolicy", Namespaced: true,
		GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	}
}

func CiliumNetworkPolicyKind() PolicyKind {
	return PolicyKind{
		Kind: "CiliumNetworkPolicy", Namespaced: true,
		GVR: schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"},
	}
}

func CiliumClusterwideNetworkPolicyKind() PolicyKind {
	return PolicyKind{
		Kind: "CiliumClusterwideNetworkPolicy",
		GVR:  schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumclusterwidenetworkpolicies"},
	}
}

// PolicyKind is one kind of network policy object.
type PolicyKind struct {
	Kind       string
	GVR        schema.GroupVersionResource
	Namespaced bool
}

// PolicyKinds lists the kinds in the order reports show them.
func PolicyKinds() []PolicyKind {
	return []PolicyKind{NetworkPolicyKind(), CiliumNetworkPolicyKind(), CiliumClusterwideNetworkPolicyKind()}
}

// PolicyKindOf finds the kind of an apiVersion and kind, as a manifest
// states them.
func PolicyKindOf(apiVersion, kind string) (PolicyKind, bool) {
	for _, k := range PolicyKinds() {
		if k.Kind == kind && k.GVR.GroupVersion().String() == apiVersion {
			return k, true
		}
	}
	return PolicyKind{}, false
}

// APIVersion is the kind's group/version as manifests write it.
func (k PolicyKind) APIVersion() string { return k.GVR.GroupVersion().String() }
