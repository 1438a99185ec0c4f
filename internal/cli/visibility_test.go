package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/visibility"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func TestVisibilityWritesTheLearningModePolicies(t *testing.T) {
	out := filepath.Join(t.TempDir(), "learning-mode")
	args := []string{"visibility", "--cluster=false", "--namespace", "shop,billing", "--http", "shop/8080", "--out", out}
	code, stdout, stderr := run(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "for 2 namespaces (billing, shop)") || !strings.Contains(stdout, "kubectl delete -k "+out) {
		t.Errorf("stdout %q does not say what was written and how to remove it", stdout)
	}
	want, err := visibility.Files(visibility.Options{Namespaces: []string{"billing", "shop"}, DNS: synth.DefaultDNSSelector(), HTTP: []visibility.HTTPPort{{Namespace: "shop", Port: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	first := map[string][]byte{}
	for _, f := range want {
		got, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s: %v; matches visibility.Files: %v", f.Path, err, string(got) == string(f.Data))
		}
		first[f.Path] = got
	}
	// A second run writes the same bytes.
	if code, _, stderr := run(t, "", args...); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	for p, data := range first {
		if again, _ := os.ReadFile(filepath.Join(out, p)); string(again) != string(data) {
			t.Errorf("%s changed on the second run", p)
		}
	}
}

func TestVisibilityBadInputWritesNothing(t *testing.T) {
	kubeconfig := unreachableKubeconfig(t)
	learned := filetree.Write(t, map[string]string{"shop/kustomization.yaml": "# app.kubernetes.io/managed-by: netpolgen\nresources: [default-deny.yaml]\n"})
	tests := []struct {
		name string
		args []string
		out  string
		want []string
	}{
		{"port not a number", []string{"--cluster=false", "--namespace", "shop", "--http", "shop/http"}, "", []string{`port "http" is not a number`}},
		{"no namespace, no cluster", []string{"--kubeconfig", kubeconfig}, "", []string{"no namespaces", "127.0.0.1:1"}},
		{"cluster required", []string{"--cluster", "--namespace", "shop", "--kubeconfig", kubeconfig}, "", []string{"127.0.0.1:1"}},
		{"bad dns selector", []string{"--cluster=false", "--namespace", "shop", "--dns-selector", "kube-dns"}, "", []string{"--dns-selector", "namespace/key=value"}},
		{"http namespace not covered", []string{"--cluster=false", "--namespace", "shop", "--http", "web/8080"}, "", []string{`namespace "web" gets no learning-mode policy`}},
		{"over learned policies", []string{"--cluster=false", "--namespace", "shop"}, learned, []string{filepath.Join(learned, "shop", "kustomization.yaml"), "nothing written"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "learning-mode")
			}
			before := treeOf(t, out)
			code, _, stderr := run(t, "", append([]string{"visibility", "--out", out}, tt.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if after := treeOf(t, out); after != before {
				t.Errorf("files changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestVisibilityGoesOnWithoutAnUnreachableClusterWhenNamespacesAreNamed(t *testing.T) {
	out := filepath.Join(t.TempDir(), "learning-mode")
	code, _, stderr := run(t, "", "visibility", "--namespace", "shop", "--kubeconfig", unreachableKubeconfig(t), "--out", out)
	if code != 0 || !strings.Contains(stderr, "warning: cluster not used") {
		t.Errorf("exit %d, stderr %q; want success and a note that the cluster was not used", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "shop", "visibility.yaml")); err != nil {
		t.Error(err)
	}
}

// treeOf lists the files under dir with their contents, "" when absent.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		b.WriteString(p + "=" + string(data) + ";")
		return nil
	})
	return b.String()
}
