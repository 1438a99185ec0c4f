package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/flowgen"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// shopLines is a generated capture, one record per line, in time order.
func shopLines(t *testing.T, d time.Duration) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := flowgen.Generate(flowgen.Shop(), flowgen.Options{Seed: 11, Duration: d}, &buf); err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
}

func foldLines(t *testing.T, f *Folder, lines [][]byte, live bool) {
	t.Helper()
	src := capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: bytes.NewReader(bytes.Join(lines, nil))})
	defer src.Close()
	var err error
	if live {
		err = f.Live(context.Background(), src)
	} else {
		err = f.Capture(context.Background(), src, src.Position)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func edgeLines(g *graph.Graph) []string {
	var out []string
	for i := range g.Edges {
		out = append(out, g.EdgeString(&g.Edges[i]))
	}
	slices.Sort(out)
	return out
}

// Learning resumed from --state reaches the graph one run over the whole
// capture reaches, and starts reading after the last flow the state holds.
func TestFolderResumesFromItsState(t *testing.T) {
	lines := shopLines(t, 40*time.Minute)
	half := len(lines) / 2

	whole, err := NewFolder(FoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	foldLines(t, whole, lines, false)

	state := filepath.Join(t.TempDir(), "learn.graph.json")
	first, err := NewFolder(FoldOptions{State: state})
	if err != nil {
		t.Fatal(err)
	}
	foldLines(t, first, lines[:half], false)
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state after the first run: %v", err)
	}
	resumed, err := NewFolder(FoldOptions{State: state})
	if err != nil {
		t.Fatal(err)
	}
	if !resumed.ResumePoint().After(first.Graph().Coverage.LastFlow) {
		t.Errorf("resume point %v is not after the last flow the state holds, %v", resumed.ResumePoint(), first.Graph().Coverage.LastFlow)
	}
	foldLines(t, resumed, lines[half:], false)
	if got, want := edgeLines(resumed.Graph()), edgeLines(whole.Graph()); !slices.Equal(got, want) {
		t.Errorf("resumed learning has %d edges, one run %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
}

// A live source checkpointed often (here after every flow) saves the
// state each time and learns what one segment would.
func TestFolderCheckpointsALiveSource(t *testing.T) {
	lines := shopLines(t, 2*time.Minute)
	whole, err := NewFolder(FoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	foldLines(t, whole, lines, false)

	state := filepath.Join(t.TempDir(), "learn.graph.json")
	live, err := NewFolder(FoldOptions{State: state, Every: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	foldLines(t, live, lines, true)
	if got, want := edgeLines(live.Graph()), edgeLines(whole.Graph()); !slices.Equal(got, want) {
		t.Errorf("checkpointed learning has %d edges, one segment %d", len(got), len(want))
	}
	saved, err := graph.LoadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := edgeLines(saved), edgeLines(live.Graph()); !slices.Equal(got, want) {
		t.Errorf("the saved state has %d edges, the folder %d", len(got), len(want))
	}
}

func TestFolderRefusesABrokenState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "learn.graph.json")
	if err := os.WriteFile(state, []byte("{not a graph"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFolder(FoldOptions{State: state}); err == nil || !bytes.Contains([]byte(err.Error()), []byte(state)) {
		t.Errorf("a broken state gave %v, want an error naming %s", err, state)
	}
}
