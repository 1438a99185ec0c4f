package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

// REPORT.md states the learning window as the span of the flows read,
// which inspect reports too, not the shorter span of the connections.
func TestReportWindowIsTheCaptureSpan(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedflows.Dir(t), "bookinfo-kind", "*.json"))
	if len(files) == 0 {
		t.Skip("no bookinfo captures")
	}
	args := []string{"learn", "--out", t.TempDir()}
	for _, f := range files {
		args = append(args, "--from-file", f)
	}
	if code, out, stderr := run(t, "", args...); code != 0 {
		t.Fatalf("learn exited %d: %s%s", code, out, stderr)
	}
	report, err := os.ReadFile(filepath.Join(args[2], "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "| Learning window | 2021-11-10T10:40:56Z .. 2021-11-10T10:44:25Z (3m29s) |"
	if !strings.Contains(string(report), want) {
		t.Errorf("REPORT.md lacks %q", want)
	}
}
