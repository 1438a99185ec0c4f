package kind

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/internal/cli"
	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/testenv"
)

var controlPlane = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(controlPlane.Main(m)) }

// manifests reads every YAML file of a directory except kustomizations.
func manifests(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || filepath.Base(path) == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		out[path] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// learnDemo learns policies for the demo namespace from the demo scenario,
// the synthetic twin of the traffic run.sh generates in kind.
func learnDemo(t *testing.T, format string) string {
	t.Helper()
	capture := filepath.Join(t.TempDir(), "demo.json")
	f, err := os.Create(capture)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flowgen.Generate(flowgen.Demo(), flowgen.Options{Seed: 1, Duration: 2 * time.Minute}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "policies")
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr},
		[]string{"learn", "--from-file", capture, "--namespace", "demo", "--format", format, "--out", out})
	if code != 0 {
		t.Fatalf("learn exited %d: %s%s", code, stdout.String(), stderr.String())
	}
	return out
}

// The demo app and the policies learned for it are accepted by a real
// kube-apiserver with Cilium's CRDs (server-side dry-run), as run.sh will
// apply them in kind.
func TestDemoAppAndLearnedPoliciesPassServerSideDryRun(t *testing.T) {
	env := controlPlane.Start(t)
	ctx := context.Background()
	demo := filepath.Join("..", "..", "examples", "demo-app")
	ns, err := os.ReadFile(filepath.Join(demo, "namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env.Apply(t, string(ns)) // namespaced objects can only be dry-run into a namespace that exists
	for path, data := range manifests(t, demo) {
		if _, err := env.DryRun(ctx, data); err != nil {
			t.Errorf("%s: rejected by the apiserver: %v", path, err)
		}
	}
	for _, format := range []string{"cilium", "kubernetes"} {
		dir := learnDemo(t, format)
		files := manifests(t, dir)
		if len(files) < 4 { // default-deny plus frontend, backend, loadgen
			t.Fatalf("%s: learn wrote only %d policy files", format, len(files))
		}
		for path, data := range files {
			objs, err := env.DryRun(ctx, data)
			if err != nil {
				t.Errorf("%s: rejected by the apiserver: %v", path, err)
			}
			if len(objs) == 0 {
				t.Errorf("%s: no object in the file", path)
			}
		}
	}
}

// Every learned workload policy selects the pods of exactly one of the
// demo app's Deployments: the selectors are the labels the manifests set,
// not per-rollout ones.
func TestLearnedSelectorsMatchTheDemoDeployments(t *testing.T) {
	demo := filepath.Join("..", "..", "examples", "demo-app")
	var templates []map[string]string
	for _, data := range manifests(t, demo) {
		for _, doc := range bytes.Split(data, []byte("\n---\n")) {
			var obj struct {
				Kind string `json:"kind"`
				Spec struct {
					Template struct {
						Metadata struct {
							Labels map[string]string `json:"labels"`
						} `json:"metadata"`
					} `json:"template"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatal(err)
			}
			if obj.Kind == "Deployment" {
				templates = append(templates, obj.Spec.Template.Metadata.Labels)
			}
		}
	}
	dir := learnDemo(t, "kubernetes")
	for path, data := range manifests(t, filepath.Join(dir, "demo")) {
		var np struct {
			Spec struct {
				PodSelector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"podSelector"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &np); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		sel := np.Spec.PodSelector.MatchLabels
		if filepath.Base(path) == "default-deny.yaml" {
			if len(sel) != 0 {
				t.Errorf("%s: a default deny must select every pod, selects %v", path, sel)
			}
			continue
		}
		matches := 0
		for _, labels := range templates {
			if selects(sel, labels) {
				matches++
			}
		}
		if matches != 1 {
			t.Errorf("%s: selector %v matches %d of the demo Deployments, want exactly 1", path, sel, matches)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
