package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A graph saved before netpolgen recorded identity label sets (snapshot
// version 1) still verifies and re-synthesizes, with identities made from
// the workloads' selectors; verify's output and REPORT.md say so.
func TestOldSnapshotFallsBackToSelectorIdentities(t *testing.T) {
	capture := writeCapture(t, releasesScenario())
	dir := t.TempDir()
	snap := filepath.Join(dir, "learn.graph.json")
	if code, _, stderr := run(t, "", "graph", "--save", snap, capture); code != 0 {
		t.Fatalf("graph --save: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	old := regexp.MustCompile(`"version": \d+,`).ReplaceAllString(string(data), `"version": 1,`)
	old = regexp.MustCompile(`(?s),\s*"identities": \[.*?\]\s*\]`).ReplaceAllString(old, "")
	if strings.Contains(old, "identities") {
		t.Fatalf("could not make a version 1 snapshot:\n%s", old)
	}
	if err := os.WriteFile(snap, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "policies")
	code, stdout, stderr := run(t, "", "learn", "--state", snap, "--out", out)
	if code != 0 {
		t.Fatalf("learn --state (version 1): exit %d\n%s\n%s", code, stdout, stderr)
	}
	report, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	const note = "had no observed identity labels"
	if !strings.Contains(string(report), "- Identities: 3 workloads "+note) {
		t.Errorf("REPORT.md does not say identities were made from selectors:\n%s", report)
	}
	code, stdout, _ = run(t, "", "verify", "--policies", out, "--load", snap)
	if code != 0 || !strings.Contains(stdout, "note: 3 workloads "+note) {
		t.Errorf("verify --load (version 1): exit %d, want 0 and the note:\n%s", code, stdout)
	}
	// The same graph from the capture has the labels: no note.
	code, stdout, _ = run(t, "", "verify", "--policies", out, "--from-file", capture)
	if code != 0 || strings.Contains(stdout, note) {
		t.Errorf("verify --from-file: exit %d, want 0 and no note:\n%s", code, stdout)
	}
}
