package verify

import (
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/learnopts"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// The options file learn writes beside the policies is not a policy:
// neither LoadDir nor FromFiles reads it.
func TestOptionsFileIsNotAPolicy(t *testing.T) {
	opts := string(learnopts.Marshal(learnopts.Options{KeepLabels: []string{"version"}}))
	policy := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
`
	dir := filetree.Write(t, map[string]string{learnopts.FileName: opts, "shop/api.yaml": policy})
	ps, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Files != 1 || len(ps.Kubernetes) != 1 {
		t.Errorf("LoadDir read %d files, %d NetworkPolicies; want the one policy file", ps.Files, len(ps.Kubernetes))
	}
	ps, err = FromFiles([]synth.File{{Path: learnopts.FileName, Data: []byte(opts)}, {Path: "shop/api.yaml", Data: []byte(policy)}})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Files != 1 {
		t.Errorf("FromFiles read %d files, want 1", ps.Files)
	}
}
