//go:build e2e

package kind

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestKindLoop runs run.sh once per policy format: learn from Hubble Relay,
// apply, check observed paths work and an unobserved one is dropped and
// reported by drift. Run with: go test -tags e2e -timeout 60m ./e2e/kind
func TestKindLoop(t *testing.T) {
	for _, tool := range []string{"docker", "kind", "helm", "kubectl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH: the kind e2e suite needs docker, kind, helm and kubectl", tool)
		}
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("docker is installed but its engine does not answer (docker info: %v)", err)
	}
	artifacts := os.Getenv("ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(".artifacts")
	}
	for _, format := range []string{"cilium", "kubernetes"} {
		t.Run(format, func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join(artifacts, format))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "run.sh")
			cmd.Env = append(os.Environ(), "FORMAT="+format, "ARTIFACTS="+dir)
			pr, pw := io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					t.Log(sc.Text())
				}
			}()
			err = cmd.Run()
			pw.Close()
			<-done
			if err != nil {
				t.Fatalf("run.sh (FORMAT=%s) failed: %v; logs, flows and policies are in %s", format, err, dir)
			}
		})
	}
}
