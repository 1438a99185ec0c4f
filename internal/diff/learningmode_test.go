package diff

import (
	"context"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/visibility"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// A learning-mode policy in force is neither diffed nor counted: under a
// default deny, its DNS rule would allow web's queries, and the diff must
// judge the learned policies without it, since it is removed with their
// apply.
func TestLearningModePoliciesAreLeftOutAndNamed(t *testing.T) {
	vis, err := visibility.Files(visibility.Options{Namespaces: []string{"shop"}, DNS: synth.DefaultDNSSelector()})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"shop/default-deny.yaml": cnpDefaultDeny}
	for _, f := range vis {
		files["learning-mode/"+f.Path] = string(f.Data)
	}
	against := filetree.Write(t, files)
	proposed := mustParse(t, cnpDefaultDeny)
	g := &synth.Graph{
		Workloads: []synth.Workload{workload("shop", "web"), {WorkloadRef: synth.WorkloadRef{Namespace: "kube-system", Name: "coredns"}, Selector: map[string]string{"k8s-app": "kube-dns"}}},
		Edges:     []synth.Edge{{From: synth.WorkloadPeer("shop", "web"), To: synth.WorkloadPeer("kube-system", "coredns"), Protocol: observe.ProtoUDP, Port: 53, Flows: 1}},
	}
	rep, err := Run(context.Background(), Inputs{Proposed: proposed, AgainstDir: against, Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Objects.Changes {
		if c.Name == visibility.DNSPolicyName {
			t.Errorf("the learning-mode policy is in the object diff: %+v", c)
		}
	}
	if len(rep.Objects.Changes) != 1 || rep.Objects.Changes[0].Action != ActionUnchanged {
		t.Errorf("changes %+v, want the default-deny unchanged and nothing else", rep.Objects.Changes)
	}
	notes := strings.Join(rep.Objects.Notes, "\n")
	if !strings.Contains(notes, "CiliumNetworkPolicy shop/netpolgen-visibility is a learning-mode policy") {
		t.Errorf("notes %q do not name the learning-mode policy", notes)
	}
	if s := rep.Semantic; s.UnchangedDenied != 1 || s.UnchangedAllowed != 0 {
		t.Errorf("semantic %+v: web's DNS query must count as denied by the default deny alone", s)
	}
}

const cnpDefaultDeny = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
`
