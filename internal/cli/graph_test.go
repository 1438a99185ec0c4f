package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/sharedflows"
	"github.com/netpolgen/netpolgen/pkg/graph"
)

func TestGraphTextOnTheLegacyCapture(t *testing.T) {
	capture := sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json")
	code, out, stderr := run(t, "", "graph", "-o", "text", capture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{
		"remote-node -> multiubuntu/ubuntu-4-deployment 8080/TCP flows=7 verdicts=forwarded direction=observed mirror-of=multiubuntu/ubuntu-1-deployment",
		"multiubuntu/ubuntu-1-deployment -> kube-system/kube-dns 53/UDP flows=4 verdicts=forwarded direction=observed",
		"multiubuntu/ubuntu-1-deployment -> multiubuntu/ubuntu-4-deployment 8080/TCP flows=5 verdicts=forwarded direction=observed",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out), "\n")); diff != "" {
		t.Errorf("graph -o text (-want +got):\n%s", diff)
	}
}

// Two learners sharded by node, merged, give the graph of one learner
// over every node.
func TestGraphShardsMergeToTheWhole(t *testing.T) {
	capture := sharedflows.Path(t, "multiubuntu-gke/flows-template-verbose.json")
	dir := t.TempDir()
	a, b, merged := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), filepath.Join(dir, "merged.json")
	for _, c := range [][]string{
		{"graph", "-o", "text", "--node-name", "gke-darkload-darkload-nodepool-b53fdd70-vmvy", "--save", a, capture},
		{"graph", "-o", "text", "--node-name", "gke-darkload-darkload-nodepool-b53fdd70-wguc", "--save", b, capture},
		{"merge", "-o", merged, b, a},
	} {
		if code, _, stderr := run(t, "", c...); code != 0 {
			t.Fatalf("%v: exit %d: %s", c, code, stderr)
		}
	}
	_, whole, _ := run(t, "", "graph", "-o", "text", capture)
	code, fromMerged, stderr := run(t, "", "graph", "-o", "text", "--load", merged)
	if code != 0 {
		t.Fatalf("graph --load: exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(whole, fromMerged); diff != "" {
		t.Errorf("merged shards differ from the whole (-whole +merged):\n%s", diff)
	}
	// merge writes to standard output without -o, and reads "-".
	data, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, string(data), "merge", "-", a)
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("{\n \"version\": %d,", graph.SnapshotVersion)) {
		t.Errorf("merge - a: exit %d, stderr %s, output %.60q", code, stderr, out)
	}
}

func TestGraphErrors(t *testing.T) {
	dir := t.TempDir()
	future := filepath.Join(dir, "future.json")
	if err := os.WriteFile(future, []byte(`{"version": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"graph", "-o", "svg", "-"}, `unknown output format "svg"`},
		{[]string{"graph", "--cluster-cidr", "10.0.0.0/33", "-"}, "--cluster-cidr"},
		{[]string{"graph", "--cidr-prefix-v4", "40", "-"}, "--cidr-prefix-v4 40: must be between 0 and 32"},
		{[]string{"merge", future}, future + ": version 9 is not supported"},
		{[]string{"graph", "--load", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"graph"}, "no input: give capture files"},
		{[]string{"graph", "-o", "text"}, "no input: give capture files"},
		{[]string{"graph", "--from-file", filepath.Join(dir, "absent.json")}, "absent.json"},
	}
	for _, tc := range tests {
		code, _, stderr := run(t, "", tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("%v: exit %d, stderr %q, want an error containing %q", tc.args, code, stderr, tc.wantErr)
		}
	}
}

// Captures are named the same way in every command: --from-file, and for
// graph also as arguments.
func TestGraphReadsCapturesFromFileOrArguments(t *testing.T) {
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.Shop(), flowgen.Options{Seed: 5, Duration: 10 * time.Minute}, &buf); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(t.TempDir(), "flows.json")
	if err := os.WriteFile(capture, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, byArg, _ := run(t, "", "graph", "-o", "text", capture)
	code, byFlag, stderr := run(t, "", "graph", "-o", "text", "--from-file", capture)
	if code != 0 || byFlag == "" || byFlag != byArg {
		t.Errorf("graph --from-file: exit %d (%s), output differs from graph FILE:\n%s\nvs\n%s", code, stderr, byFlag, byArg)
	}
}
