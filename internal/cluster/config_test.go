package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const twoContexts = `apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: down
  cluster:
    server: https://127.0.0.1:1
users:
- name: someone
  user:
    token: t
contexts:
- name: alpha
  context: {cluster: down, user: someone}
- name: beta
  context: {cluster: down, user: someone}
`

func TestConnectErrorsNameWhatToFix(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config")
	if err := os.WriteFile(good, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	noCurrent := filepath.Join(dir, "nocurrent")
	if err := os.WriteFile(noCurrent, []byte(strings.Replace(twoContexts, "current-context: alpha\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"missing file", Options{Kubeconfig: missing}, []string{"kubeconfig " + missing, "no such file", "--kubeconfig"}},
		{"unknown context", Options{Kubeconfig: good, Context: "gamma"}, []string{`context "gamma" is not in kubeconfig ` + good, "alpha, beta", "--context"}},
		{"no current context", Options{Kubeconfig: noCurrent}, []string{"has no current context", "alpha, beta"}},
		{"unreachable server", Options{Kubeconfig: good, Context: "beta", Timeout: 2 * time.Second},
			[]string{"cannot reach the Kubernetes API server at https://127.0.0.1:1", `context "beta" in ` + good, "--context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tt.opts)
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNoKubeconfigOutsideAPodSaysSo(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := Connect(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "no cluster configured") || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Fatalf("err = %v, want a message naming --kubeconfig", err)
	}
}
