package graph

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/netpolgen/netpolgen/internal/atomicfile"
)

// TestCheckpointSurvivesAFullDisk saves a checkpoint from a process whose
// file size limit (RLIMIT_FSIZE) runs out part way, as a full disk would:
// the kernel fails the write, SaveFile says which file and why, and the
// previous checkpoint still loads byte-identically.
func TestCheckpointSurvivesAFullDisk(t *testing.T) {
	const limit = 256 << 10
	if path := os.Getenv("GRAPH_CHECKPOINT_HELPER"); path != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(2)
		}
		err := SaveFile(path, checkpointGraph(t, 20000))
		fmt.Println(err)
		os.Exit(0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "learn.graph.json")
	previous := checkpointGraph(t, 20)
	if err := SaveFile(path, previous); err != nil {
		t.Fatal(err)
	}
	want := snapshotBytes(t, previous)
	if len(want) >= limit {
		t.Fatalf("the previous checkpoint (%d bytes) must fit under the limit", len(want))
	}
	if bigger := snapshotBytes(t, checkpointGraph(t, 20000)); len(bigger) <= limit {
		t.Fatalf("the next checkpoint (%d bytes) must exceed the limit", len(bigger))
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointSurvivesAFullDisk$")
	cmd.Env = append(os.Environ(), "GRAPH_CHECKPOINT_HELPER="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	msg := strings.TrimSpace(string(out))
	wantMsg := "save checkpoint " + path + ": write: file too large; the previous file is intact"
	if !strings.HasPrefix(msg, wantMsg) {
		t.Errorf("SaveFile said %q, want %q", msg, wantMsg)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("previous checkpoint changed (%d bytes, %v)", len(got), err)
	}
	if _, err := LoadFile(path); err != nil {
		t.Errorf("previous checkpoint does not load: %v", err)
	}
	if temps, _ := filepath.Glob(filepath.Join(dir, atomicfile.TempPattern(path))); len(temps) != 0 {
		t.Errorf("failed save left %v behind", temps)
	}
}

// checkpointGraph builds a graph of n flows' worth of edges.
func checkpointGraph(t testing.TB, n int) *Graph {
	b := NewBuilder(Options{})
	for _, f := range benchFlows(n) {
		b.Add(&f)
	}
	return b.Finish()
}
