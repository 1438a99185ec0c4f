package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/internal/replay/replaytest"
)

// unreachableKubeconfig names a cluster nobody answers for.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: gone
  context: {cluster: gone, user: nobody}
current-context: gone
users:
- name: nobody
  user: {token: x}
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --cluster=auto: learning live tries the cluster and goes on without it,
// saying so; learning from a capture never contacts a cluster unasked;
// --cluster=true makes a missing cluster an error.
func TestLearnClusterAuto(t *testing.T) {
	kubeconfig := unreachableKubeconfig(t)
	addr := replaytest.Serve(t, replay.Options{}, shopExample)

	code, _, stderr := run(t, "", "learn", "--server", addr, "--duration", "2s", "--quiet", "--kubeconfig", kubeconfig, "--out", t.TempDir())
	if code != 0 || !strings.Contains(stderr, "warning: cluster not used") {
		t.Errorf("live, auto: exit %d, stderr %q; want success and a note that the cluster was not used", code, stderr)
	}
	code, _, stderr = run(t, "", "learn", "--from-file", shopExample, "--kubeconfig", kubeconfig, "--out", t.TempDir())
	if code != 0 || strings.Contains(stderr, "cluster") {
		t.Errorf("capture, auto: exit %d, stderr %q; want no cluster contact", code, stderr)
	}
	code, _, stderr = run(t, "", "learn", "--from-file", shopExample, "--cluster", "--kubeconfig", kubeconfig, "--out", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("--cluster with no cluster: exit %d, stderr %q; want exit 2 naming the server", code, stderr)
	}
	if code, _, stderr := run(t, "", "learn", "--from-file", shopExample, "--cluster=maybe", "--out", t.TempDir()); code != 2 || !strings.Contains(stderr, "true, false or auto") {
		t.Errorf("--cluster=maybe: exit %d, stderr %q", code, stderr)
	}
}
