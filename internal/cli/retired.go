package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/netpolgen/netpolgen/internal/policydir"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// writeLearned replaces learn's generated set in out with files (see
// policydir.Replace), after adding to REPORT.md, when files holds one,
// the files of an earlier run this one retires, so the pull request says
// why they disappear. It returns the files it removed.
func writeLearned(out string, files []synth.File) ([]string, error) {
	retired, err := policydir.Retired(out, files)
	if err != nil {
		return nil, err
	}
	if len(retired) > 0 {
		files = append([]synth.File(nil), files...)
		for i, f := range files {
			if f.Path == policydir.ReportName {
				files[i].Data = append(append([]byte(nil), f.Data...), retiredSection(retired)...)
			}
		}
	}
	res, err := policydir.Replace(out, files)
	if err != nil {
		return nil, err
	}
	return res.Removed, nil
}

func retiredSection(retired []string) []byte {
	b := []byte("\n## Retired policy files\n\nAn earlier run wrote these files and this one no longer produces them (their workload or namespace was not seen); they are removed. Files netpolgen did not write are never touched.\n\n")
	for _, rel := range retired {
		b = fmt.Appendf(b, "- `%s`\n", rel)
	}
	return b
}

// writeRemovedLine tells the user which files of an earlier run went.
func writeRemovedLine(w io.Writer, removed []string) {
	if len(removed) > 0 {
		fmt.Fprintf(w, "removed %d retired policy files: %s\n", len(removed), strings.Join(removed, ", "))
	}
}
