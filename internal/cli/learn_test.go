package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/sharedflows"
)

var shopExample = filepath.Join("..", "..", "examples", "shop-flows.json.gz")

// TestLearnThenVerifyTheExample is the README's first run: learn from the
// bundled capture, then prove the written files with verify.
func TestLearnThenVerifyTheExample(t *testing.T) {
	for _, format := range []string{"cilium", "kubernetes", "both"} {
		t.Run(format, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--format", format, "--out", out)
			if code != 0 {
				t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "excess 0 of") {
				t.Errorf("learn did not report zero excess:\n%s", stdout)
			}
			for _, f := range []string{"REPORT.md", "kustomization.yaml", "shop/kustomization.yaml", "shop/default-deny.yaml", "shop/frontend.yaml"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			code, stdout, stderr = run(t, "", "verify", "--policies", out, "--from-file", shopExample)
			if code != 0 {
				t.Fatalf("verify exit %d: %s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "excess 0 of") {
				t.Errorf("verify found excess in learned policies:\n%s", stdout)
			}
		})
	}
}

// TestVerifyIgnoresUnselectedWorkloads learns without kube-system and
// verifies with no scope flags: kube-dns, which no policy selects, allows
// everything, and that is not the policies' excess.
func TestVerifyIgnoresUnselectedWorkloads(t *testing.T) {
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--exclude-namespace", "kube-system", "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "kube-system")); !os.IsNotExist(err) {
		t.Errorf("an excluded namespace got policies (%v)", err)
	}
	code, stdout, stderr := run(t, "", "verify", "--policies", out, "--from-file", shopExample)
	if code != 0 || !strings.Contains(stdout, "excess 0 of") {
		t.Errorf("verify exit %d:\n%s%s", code, stdout, stderr)
	}
}

func TestLearnIsByteStableAcrossRuns(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--format", "both", "--out", dir); code != 0 {
			t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
		}
	}
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs on the same capture (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFailsOnADeniedConnection removes one learned policy's rule
// and wants verify to say so with exit status 1.
func TestVerifyFailsOnADeniedConnection(t *testing.T) {
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	path := filepath.Join(out, "shop", "cart.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep cart selected but allow it nothing.
	denyAll := "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: cart\n  namespace: shop\nspec:\n  endpointSelector:\n    matchLabels:\n      app.kubernetes.io/name: cart\n  ingress:\n  - {}\n  egress:\n  - {}\n"
	if !strings.Contains(string(data), "name: cart") {
		t.Fatalf("unexpected cart policy:\n%s", data)
	}
	if err := os.WriteFile(path, []byte(denyAll), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := run(t, "", "verify", "--policies", out, "--from-file", shopExample)
	if code != 1 {
		t.Fatalf("verify exit %d, want 1:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "DENIED shop/frontend -> shop/cart 8080/TCP") {
		t.Errorf("verify did not name the broken connection:\n%s", stdout)
	}
}

// TestLearnResumesFromState learns in two halves through --state and
// wants the same policies as one run over both.
func TestLearnResumesFromState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "learn.graph.json")
	first := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-tcp-flows.json")
	second := sharedflows.Path(t, "bookinfo-kind/basic-sample-400-udp-flows.json")
	split, whole := filepath.Join(dir, "split"), filepath.Join(dir, "whole")
	for _, f := range []string{first, second} {
		if code, stdout, stderr := run(t, "", "learn", "--from-file", f, "--state", state, "--out", split); code != 0 {
			t.Fatalf("learn %s exit %d: %s%s", f, code, stdout, stderr)
		}
	}
	if code, stdout, stderr := run(t, "", "learn", "--from-file", first, "--from-file", second, "--out", whole); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	for _, f := range []string{"bookinfo/productpage.yaml", "bookinfo/reviews.yaml", "kube-system/kube-dns.yaml"} {
		x, err1 := os.ReadFile(filepath.Join(split, f))
		y, err2 := os.ReadFile(filepath.Join(whole, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: resumed learning differs from one run (%v, %v)\n--- resumed\n%s\n--- one run\n%s", f, err1, err2, x, y)
		}
	}
}

func TestLearnRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"learn", "--from-file", shopExample},
		{"learn", "--from-file", shopExample, "--out", "x", "--format", "yaml"},
		{"learn", "--from-file", shopExample, "--out", "x", "--generalize", "everything"},
		{"learn", "--from-file", shopExample, "--out", "x", "--dns-selector", "kube-dns"},
		{"verify", "--from-file", shopExample},
	}
	for _, args := range tests {
		if code, _, stderr := run(t, "", args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
