package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/internal/replay"
	"github.com/netpolgen/netpolgen/internal/replay/replaytest"
	"github.com/netpolgen/netpolgen/pkg/graph"
)

// Scale-out: three learners each follow one Relay for a subset of its
// nodes (Hubble's own node_name filter, done by the server), their
// snapshots are merged with netpolgen merge, and the policies synthesized
// from the merge are byte-identical to those of one learner reading
// everything.
func TestShardedLearnersMatchOneLearner(t *testing.T) {
	s, err := flowgen.Large(flowgen.LargeConfig{Seed: 3, Namespaces: 4, Workloads: 60, Nodes: 6, MeanFanOut: 3, CrossNamespace: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	capturePath := filepath.Join(dir, "capture.json")
	f, err := os.Create(capturePath)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := flowgen.Generate(s, flowgen.Options{Seed: 3, Duration: 20 * time.Minute}, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	addr := replaytest.Serve(t, replay.Options{}, capturePath)

	shards := [][]string{s.Nodes[0:2], s.Nodes[2:4], s.Nodes[4:6]}
	var snapshots []string
	for i, nodes := range shards {
		state := filepath.Join(dir, "shard"+string(rune('a'+i))+".json")
		code, out, stderr := run(t, "", "learn", "--server", addr, "--node-name", strings.Join(nodes, ","),
			"--duration", "3s", "--quiet", "--state", state, "--out", filepath.Join(dir, "shard-out"+string(rune('a'+i))))
		if code != 0 {
			t.Fatalf("shard %d exit %d: %s%s", i, code, out, stderr)
		}
		snapshots = append(snapshots, state)
	}
	// Hubble did the filtering: each shard received only its nodes' flows,
	// and together they received every flow once.
	var total uint64
	for _, snap := range snapshots {
		g, err := graph.LoadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		if g.Coverage.Flows == 0 || g.Coverage.Flows >= truth.Flows || g.Coverage.Skipped["node-filter"] != 0 {
			t.Errorf("%s: %d flows of %d, %d filtered on the client; want a server-filtered share", snap, g.Coverage.Flows, truth.Flows, g.Coverage.Skipped["node-filter"])
		}
		total += g.Coverage.Flows
	}
	if total != truth.Flows {
		t.Errorf("the shards received %d flows in all, the capture holds %d", total, truth.Flows)
	}
	merged := filepath.Join(dir, "merged.json")
	if code, out, stderr := run(t, "", append([]string{"merge", "-o", merged}, snapshots...)...); code != 0 {
		t.Fatalf("merge exit %d: %s%s", code, out, stderr)
	}
	sharded, single := filepath.Join(dir, "sharded"), filepath.Join(dir, "single")
	if code, out, stderr := run(t, "", "learn", "--state", merged, "--out", sharded); code != 0 {
		t.Fatalf("learn from the merge exit %d: %s%s", code, out, stderr)
	}
	if code, out, stderr := run(t, "", "learn", "--from-file", capturePath, "--out", single); code != 0 {
		t.Fatalf("single learner exit %d: %s%s", code, out, stderr)
	}
	a, b := policyFiles(t, sharded), policyFiles(t, single)
	if len(b) < 60 {
		t.Fatalf("the single learner wrote only %d policy files", len(b))
	}
	if len(a) != len(b) {
		t.Fatalf("sharded learners wrote %d policy files, one learner %d", len(a), len(b))
	}
	for name, data := range b {
		if !bytes.Equal(a[name], data) {
			t.Errorf("%s differs between the sharded and the single run:\n--- sharded\n%s\n--- single\n%s", name, a[name], data)
		}
	}
}

// policyFiles reads every YAML file under dir, keyed by relative path.
func policyFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
