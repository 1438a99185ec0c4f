package verify

import (
	"bytes"
	"fmt"
	"os"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_networkingv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/internal/policydir"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Policies are the policy objects read from files.
type Policies struct {
	Kubernetes []*slim_networkingv1.NetworkPolicy
	Cilium     []*ciliumv2.CiliumNetworkPolicy
	// Files counts the files read.
	Files int
}

// LoadDir reads every .yaml and .yml file under dir (except
// kustomization.yaml) and keeps NetworkPolicy, CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy documents; other kinds are an error, so a
// typo is not silently ignored.
func LoadDir(dir string) (*Policies, error) {
	paths, err := policydir.Files(dir)
	if err != nil {
		return nil, err
	}
	out := &Policies{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		if err := out.add(p, data); err != nil {
			return nil, err
		}
		out.Files++
	}
	return out, nil
}

// Add parses one YAML stream of policy documents.
func (ps *Policies) Add(name string, data []byte) error { return ps.add(name, data) }

func (ps *Policies) add(name string, data []byte) error {
	for i, doc := range splitDocs(data) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		switch head.Kind {
		case "NetworkPolicy":
			np := &slim_networkingv1.NetworkPolicy{}
			if err := yaml.Unmarshal(doc, np); err != nil {
				return fmt.Errorf("%s: document %d: NetworkPolicy: %w", name, i+1, err)
			}
			ps.Kubernetes = append(ps.Kubernetes, np)
		case "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy":
			cnp := &ciliumv2.CiliumNetworkPolicy{}
			if err := yaml.Unmarshal(doc, cnp); err != nil {
				return fmt.Errorf("%s: document %d: %s: %w", name, i+1, head.Kind, err)
			}
			if head.Kind == "CiliumClusterwideNetworkPolicy" {
				// Cilium parses a clusterwide policy as a CNP without a
				// namespace.
				cnp.Namespace = ""
			}
			ps.Cilium = append(ps.Cilium, cnp)
		case "":
			return fmt.Errorf("%s: document %d has no kind", name, i+1)
		default:
			return fmt.Errorf("%s: document %d: kind %s is not a policy netpolgen verifies", name, i+1, head.Kind)
		}
	}
	return nil
}

// splitDocs splits a YAML stream at lines that start with "---".
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(cur.Bytes())) > 0 {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

// WithoutLearningMode returns the set less the learning-mode policies
// (`netpolgen visibility`, role label synth.RoleVisibility), and how many
// were left out: they select every pod without default deny, so they
// never decide a verdict, but their DNS rule would allow lookups a
// learned policy's DNS rule does not, and they are removed in the same
// change that applies the learned set.
func (ps *Policies) WithoutLearningMode() (*Policies, int) {
	out := &Policies{Files: ps.Files}
	for _, np := range ps.Kubernetes {
		if !synth.IsVisibility(np.Labels) {
			out.Kubernetes = append(out.Kubernetes, np)
		}
	}
	for _, cnp := range ps.Cilium {
		if !synth.IsVisibility(cnp.Labels) {
			out.Cilium = append(out.Cilium, cnp)
		}
	}
	return out, len(ps.Kubernetes) + len(ps.Cilium) - len(out.Kubernetes) - len(out.Cilium)
}
