package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/netpolgen/netpolgen/pkg/cluster"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// learningModeOf says in which namespaces learning-mode policies
// (netpolgen visibility) were in force when learn read the cluster; nil
// when it did not read it, and REPORT.md then infers it from the flows.
func learningModeOf(snap *cluster.Snapshot) *synth.LearningMode {
	if snap == nil {
		return nil
	}
	lm := &synth.LearningMode{}
	seen := map[string]bool{}
	for _, p := range snap.Policies {
		if ns := p.GetNamespace(); synth.IsVisibility(p.GetLabels()) && !seen[ns] {
			seen[ns] = true
			lm.Namespaces = append(lm.Namespaces, ns)
		}
	}
	sort.Strings(lm.Namespaces)
	return lm
}

// writeLearningModeNote says, when learn reads the cluster, where
// learning mode is in force: those policies are scaffolding, not part of
// the policies in force that learn counts on.
func writeLearningModeNote(w io.Writer, snap *cluster.Snapshot) {
	lm := learningModeOf(snap)
	if lm == nil || len(lm.Namespaces) == 0 {
		return
	}
	fmt.Fprintf(w, "cluster: learning mode (netpolgen visibility) in force in %s; REPORT.md says so\n", strings.Join(lm.Namespaces, ", "))
}

// writeOutsideLine prints the one line about outside destinations pinned
// to addresses, when the policies reach outside at all.
func writeOutsideLine(w io.Writer, o synth.Outside, format synth.Format) {
	if line := o.Line(format); line != "" {
		fmt.Fprintln(w, line)
	}
}
