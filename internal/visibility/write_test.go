package visibility

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func TestWriteRefusesFilesItDidNotWrite(t *testing.T) {
	learned := "# app.kubernetes.io/managed-by: netpolgen\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- default-deny.yaml\n"
	dir := filetree.Write(t, map[string]string{"shop/kustomization.yaml": learned})
	files, err := Files(Options{Namespaces: []string{"billing", "shop"}, DNS: synth.DefaultDNSSelector()})
	if err != nil {
		t.Fatal(err)
	}
	err = Write(dir, files)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "shop", "kustomization.yaml")) || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("Write over learned policies: err = %v, want one naming shop/kustomization.yaml", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "shop", "kustomization.yaml")); string(got) != learned {
		t.Errorf("the learned kustomization changed:\n%s", got)
	}
	for _, p := range []string{"kustomization.yaml", "billing"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s written although Write failed", p)
		}
	}
}

func TestWriteReplacesItsOwnAndRemovesDroppedNamespaces(t *testing.T) {
	dir := filetree.Write(t, map[string]string{"README.md": "mine\n", "shop/notes.yaml": "# a user's file\n"})
	first, err := Files(Options{Namespaces: []string{"billing", "shop"}, DNS: synth.DefaultDNSSelector()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, first); err != nil {
		t.Fatal(err)
	}
	second, err := Files(Options{Namespaces: []string{"shop"}, DNS: synth.DefaultDNSSelector(), HTTP: []HTTPPort{{Port: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, second); err != nil {
		t.Fatal(err)
	}
	for _, f := range second {
		got, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s: %v, content matches: %v", f.Path, err, string(got) == string(f.Data))
		}
	}
	for _, gone := range []string{"billing/visibility.yaml", "billing/kustomization.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s of a dropped namespace is still there", gone)
		}
	}
	for _, kept := range []string{"README.md", "shop/notes.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("a user's file was touched: %v", err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "shop"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: shop/%s", e.Name())
		}
	}
}
