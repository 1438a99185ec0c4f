package drift

import (
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// withoutLearningMode leaves out the learning-mode policies (`netpolgen
// visibility`, role label synth.RoleVisibility): drift judges traffic
// against the policies that allow and deny, and a learning-mode policy's
// DNS rule would otherwise allow queries a learned default deny blocks.
func withoutLearningMode(ps *verify.Policies) *verify.Policies {
	out := &verify.Policies{Files: ps.Files}
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
	return out
}
