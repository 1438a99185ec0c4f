package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/internal/replay/replaytest"
)

// TestLearnFromALiveServer follows a replay of the example capture over
// gRPC, with checkpoints to --state, and wants the policies learning from
// the file gives.
func TestLearnFromALiveServer(t *testing.T) {
	addr := replaytest.Serve(t, replay.Options{}, shopExample)

	dir := t.TempDir()
	live, fromFile := filepath.Join(dir, "live"), filepath.Join(dir, "file")
	state := filepath.Join(dir, "state.json")
	code, stdout, stderr := run(t, "", "learn", "--server", addr, "--duration", "4s", "--checkpoint", "1s", "--state", state, "--out", live)
	if code != 0 {
		t.Fatalf("live learn exit %d: %s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("no checkpoint written: %v", err)
	}
	if code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--out", fromFile); code != 0 {
		t.Fatalf("file learn exit %d: %s%s", code, stdout, stderr)
	}
	for _, f := range []string{"shop/frontend.yaml", "shop/checkout.yaml", "data/postgresql.yaml", "kube-system/kube-dns.yaml"} {
		x, err1 := os.ReadFile(filepath.Join(live, f))
		y, err2 := os.ReadFile(filepath.Join(fromFile, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: live learning differs from the file (%v, %v)\n--- live\n%s\n--- file\n%s", f, err1, err2, x, y)
		}
	}
}
