package drift

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/visibility"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

const learnedDefaultDeny = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: default-deny, namespace: shop, labels: {app.kubernetes.io/managed-by: netpolgen}}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
`

func learningModeFiles(t *testing.T) map[string]string {
	t.Helper()
	vis, err := visibility.Files(visibility.Options{Namespaces: []string{"shop"}, DNS: synth.DefaultDNSSelector(), HTTP: []visibility.HTTPPort{{Port: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"shop/default-deny.yaml": learnedDefaultDeny}
	for _, f := range vis {
		files["learning-mode/"+f.Path] = string(f.Data)
	}
	return files
}

// Learning-mode policies in a policy directory are not checked against.
func TestDirSourceLeavesOutLearningMode(t *testing.T) {
	ps, err := NewDirSource(filetree.Write(t, learningModeFiles(t))).Policies()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Cilium) != 1 || ps.Cilium[0].Name != "default-deny" || len(ps.Kubernetes) != 0 {
		var names []string
		for _, c := range ps.Cilium {
			names = append(names, c.Namespace+"/"+c.Name)
		}
		t.Errorf("policies checked against: %v, want only shop/default-deny", names)
	}
}

// Nor are those the cluster holds.
func TestClusterSourceLeavesOutLearningMode(t *testing.T) {
	var objs []runtime.Object
	for name, data := range learningModeFiles(t) {
		if strings.HasSuffix(name, "kustomization.yaml") {
			continue
		}
		for _, u := range objectsOf(t, []byte(data)) {
			objs = append(objs, u)
		}
	}
	np := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	cnp := schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}
	ccnp := schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumclusterwidenetworkpolicies"}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{np: "NetworkPolicyList", cnp: "CiliumNetworkPolicyList", ccnp: "CiliumClusterwideNetworkPolicyList"}, objs...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := NewClusterSource(ctx, client, "fake cluster", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("fixture: %d objects, want the default deny and two learning-mode policies", len(objs))
	}
	ps, err := src.Policies()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Cilium) != 1 || ps.Cilium[0].Name != "default-deny" {
		t.Errorf("policies checked against: %d Cilium policies, want only shop/default-deny", len(ps.Cilium))
	}
}
