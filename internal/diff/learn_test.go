package diff_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/internal/testenv"
)

// worldOnlyCapture copies the bookinfo capture lines whose flow has a
// reserved:world endpoint at a pod address, so nothing else in the
// capture tells which pods those are.
func worldOnlyCapture(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedflows.Dir(t), "bookinfo-kind", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skip("bookinfo capture absent")
	}
	var kept strings.Builder
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(in)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"reserved:world"`) && strings.Contains(line, `"10.244.1.`) {
				kept.WriteString(line + "\n")
			}
		}
		in.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "world-only.json")
	if err := os.WriteFile(out, []byte(kept.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLearnWithTheClusterNamesPodsAndDiffs(t *testing.T) {
	capture := worldOnlyCapture(t)
	env := apiserver.Start(t)
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: bookinfo}\n")
	for _, p := range testenv.BookinfoRemotePods() {
		env.CreatePod(t, p)
	}
	kubeconfig := testenv.KubeConfig(t, env.Config, "admin@envtest")
	out := t.TempDir()
	code, stdout, stderr := runCLI("learn", "--from-file", capture, "--out", out, "--format", "both",
		"--cluster", "--kubeconfig", kubeconfig, "--diff")
	if code > 1 {
		t.Fatalf("learn --cluster --diff: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "read the cluster server=https://") || !strings.Contains(stderr, "kube_apiserver=") {
		t.Errorf("stderr does not say what the cluster added:\n%s", stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "bookinfo", "productpage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policy := string(data)
	for _, p := range testenv.BookinfoRemotePods() {
		if strings.Contains(policy, p.IPs[0]) {
			t.Errorf("productpage's policy names %s by address:\n%s", p.IPs[0], policy)
		}
	}
	for _, want := range []string{"app: details", "app: reviews"} {
		if !strings.Contains(policy, want) {
			t.Errorf("productpage's policy does not select %q:\n%s", want, policy)
		}
	}
	// --diff: everything is new to this cluster, and every observed
	// connection into bookinfo goes from allowed (no policy) to allowed.
	for _, want := range []string{"+++ proposed/CiliumNetworkPolicy bookinfo/productpage", " 0 rejected, ", "0 newly denied (would break)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("learn --diff output lacks %q:\n%s", want, stdout)
		}
	}
}
