package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/pipeline"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// The shop example reaches two services by name and one by address:
// learn says so in one line, and REPORT.md lists the address as pinned.
func TestLearnSaysWhichOutsideDestinationsArePinned(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "outside destinations:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "1 pinned to addresses, no DNS name seen") || !strings.Contains(lines[0], "2 by name") {
		t.Errorf("outside-destination lines %q, want one saying 1 pinned and 2 by name", lines)
	}
	report, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| shop/payment | 192.0.2.10/32 | 8443/TCP |", "Learning mode: probably **in force** (inferred, the cluster was not read)", synth.LearningModeCommand} {
		if !strings.Contains(string(report), want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
}

// NetworkPolicy cannot match names: with --format kubernetes every
// outside destination is pinned, and the line says so.
func TestLearnKubernetesFormatSaysEveryOutsideDestinationIsPinned(t *testing.T) {
	code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--format", "kubernetes", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "outside destinations: 3, all pinned to addresses in NetworkPolicy, which cannot match names (2 seen with a name"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
}

func TestLearningModeOfTheCluster(t *testing.T) {
	if lm := pipeline.LearningMode(nil); lm != nil {
		t.Errorf("no cluster read: %+v, want nil", lm)
	}
	policy := func(ns, name string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("cilium.io/v2")
		u.SetKind("CiliumNetworkPolicy")
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(labels)
		return u
	}
	vis := map[string]string{synth.ManagedByLabel: synth.ManagedByValue, synth.RoleLabel: synth.RoleVisibility}
	snap := &cluster.Snapshot{Policies: []*unstructured.Unstructured{
		policy("shop", "netpolgen-visibility", vis),
		policy("shop", "netpolgen-visibility-http", vis),
		policy("billing", "netpolgen-visibility", vis),
		policy("web", "default-deny", map[string]string{synth.ManagedByLabel: synth.ManagedByValue}),
	}}
	if d := cmp.Diff(&synth.LearningMode{Namespaces: []string{"billing", "shop"}}, pipeline.LearningMode(snap)); d != "" {
		t.Errorf("learning mode (-want +got):\n%s", d)
	}
	if d := cmp.Diff(&synth.LearningMode{}, pipeline.LearningMode(&cluster.Snapshot{})); d != "" {
		t.Errorf("cluster without learning mode (-want +got):\n%s", d)
	}
}
