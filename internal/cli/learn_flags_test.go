package cli

import (
	"strings"
	"testing"
)

// learn speaks the hubble CLI's connection flags: an unreachable server
// is one clear error naming the address and what to try, and a capture
// cannot be combined with a live window.
func TestLearnLiveFlags(t *testing.T) {
	code, _, stderr := run(t, "", "learn", "--out", t.TempDir(), "--server", "127.0.0.1:1", "--timeout", "300ms", "--duration", "1s", "--quiet")
	if code != 2 || !strings.Contains(stderr, "127.0.0.1:1") || !strings.Contains(stderr, "-P") {
		t.Errorf("unreachable server: exit %d, stderr %q; want exit 2 naming the address and -P", code, stderr)
	}
	code, _, stderr = run(t, "", "learn", "--out", t.TempDir(), "--from-file", "x.json", "--duration", "1m")
	if code != 2 || !strings.Contains(stderr, "not both") {
		t.Errorf("capture with --duration: exit %d, stderr %q", code, stderr)
	}
	for _, flag := range []string{"--tls", "--tls-ca-cert-files", "--port-forward", "--kube-context", "--kubeconfig", "--context", "--request-timeout", "--quiet"} {
		if code, out, _ := run(t, "", "learn", "--help"); code != 0 || !strings.Contains(out, flag) {
			t.Errorf("learn --help does not offer %s", flag)
		}
	}
}
