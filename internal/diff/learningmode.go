package diff

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// splitLearningMode takes the learning-mode policies (`netpolgen
// visibility`, role label synth.RoleVisibility) out of a set: they are
// scaffolding for learning that the learned set replaces, so they are
// neither diffed nor counted as allowing or denying anything.
func splitLearningMode(objs []*unstructured.Unstructured) (policies, learning []*unstructured.Unstructured) {
	for _, o := range objs {
		if synth.IsVisibility(o.GetLabels()) {
			learning = append(learning, o)
		} else {
			policies = append(policies, o)
		}
	}
	return policies, learning
}

// learningModeNotes say which learning-mode policies are in force and
// that they go in the same change.
func learningModeNotes(learning []*unstructured.Unstructured) []string {
	var notes []string
	for _, o := range learning {
		notes = append(notes, fmt.Sprintf("%s is a learning-mode policy (%s=%s): left out of this diff; remove it (kubectl delete -k on its directory) in the same change that applies these policies",
			ObjectKey(o), synth.RoleLabel, synth.RoleVisibility))
	}
	return notes
}
