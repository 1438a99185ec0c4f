package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/pipeline"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// writeLearningModeNote says, when learn reads the cluster, where
// learning mode is in force: those policies are scaffolding, not part of
// the policies in force that learn counts on.
func logLearningMode(log *slog.Logger, snap *cluster.Snapshot) {
	lm := pipeline.LearningMode(snap)
	if lm == nil || len(lm.Namespaces) == 0 {
		return
	}
	log.Info("learning mode (netpolgen visibility) is in force; REPORT.md says so", "namespaces", strings.Join(lm.Namespaces, ","))
}

// writeOutsideLine prints the one line about outside destinations pinned
// to addresses, when the policies reach outside at all.
func writeOutsideLine(w io.Writer, o synth.Outside, format synth.Format) {
	if line := o.Line(format); line != "" {
		fmt.Fprintln(w, line)
	}
}
