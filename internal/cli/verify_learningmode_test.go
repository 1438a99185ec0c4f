package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyLeavesOutLearningMode: learning-mode policies kept beside the
// learned set (as a user does until the change that applies it) are not
// judged with it, and verify says so; its verdict is the learned set's.
func TestVerifyLeavesOutLearningMode(t *testing.T) {
	capture := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	policies := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", capture, "--out", policies); code != 0 {
		t.Fatalf("learn: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, alone, stderr := run(t, "", "verify", "--policies", policies, "--from-file", capture)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", code, alone, stderr)
	}
	if code, stdout, stderr := run(t, "", "visibility", "--cluster=false", "--namespace", "shop,data", "--out", filepath.Join(policies, "learning-mode")); code != 0 {
		t.Fatalf("visibility: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, beside, stderr := run(t, "", "verify", "--policies", policies, "--from-file", capture)
	if code != 0 {
		t.Fatalf("verify with learning mode beside: exit %d\n%s\n%s", code, beside, stderr)
	}
	if !strings.Contains(beside, "left out 2 learning-mode policies") {
		t.Errorf("verify does not say it left out the learning-mode policies:\n%s", beside)
	}
	verdict := func(out string) string {
		_, after, _ := strings.Cut(out, "\nverify: ")
		return after
	}
	if verdict(beside) == "" || verdict(beside) != verdict(alone) {
		t.Errorf("learning mode changed the verdict:\nalone:\n%s\nbeside:\n%s", alone, beside)
	}
}
