package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// A snapshot is named one way in every command: --load reads one,
// --save writes one, --state is a checkpoint read at start and written as
// learning goes. No other visible flag takes a snapshot.
func TestSnapshotsAreNamedOneWay(t *testing.T) {
	root := NewRootCommand(Streams{})
	want := map[string][]string{
		"graph": {"load", "save"}, "verify": {"load"}, "diff": {"load"}, "merge": {"load", "save"},
		"learn": {"state"}, "drift": {"state"},
	}
	for name, flags := range want {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			if fl := cmd.Flags().Lookup(f); fl == nil || fl.Hidden {
				t.Errorf("%s has no --%s", name, f)
			}
		}
	}
	for _, cmd := range root.Commands() {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			named := f.Name == "load" || f.Name == "save" || f.Name == "state"
			if !f.Hidden && !named && f.Name != "output" && strings.Contains(f.Usage, "snapshot") {
				t.Errorf("%s --%s takes a snapshot under another name: %q", cmd.Name(), f.Name, f.Usage)
			}
		})
	}
}

// The old spellings still work, out of help, and say the new name.
func TestOldSnapshotNamesStillWork(t *testing.T) {
	dir := t.TempDir()
	example := filepath.Join("..", "..", "examples", "shop-flows.json.gz")
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, snap := range []string{a, b} {
		if code, _, stderr := run(t, "", "graph", "--from-file", example, "--save", snap, "-o", "text"); code != 0 {
			t.Fatalf("graph --save: exit %d: %s", code, stderr)
		}
	}
	old, now := filepath.Join(dir, "old.json"), filepath.Join(dir, "now.json")
	code, _, stderr := run(t, "", "merge", a, b, "-o", old)
	if code != 0 || !strings.Contains(stderr, "warning: --output is an old name: use --save") {
		t.Errorf("merge -o: exit %d, stderr %q; want it to work and name --save", code, stderr)
	}
	if code, _, stderr := run(t, "", "merge", "--load", a, "--load", b, "--save", now); code != 0 || stderr != "" {
		t.Errorf("merge --load --save: exit %d, stderr %q", code, stderr)
	}
	oldData, err1 := os.ReadFile(old)
	nowData, err2 := os.ReadFile(now)
	if err1 != nil || err2 != nil || string(oldData) != string(nowData) {
		t.Errorf("merge -o and merge --save wrote different snapshots (%v, %v)", err1, err2)
	}
	if _, out, _ := run(t, "", "merge", "--help"); strings.Contains(out, "--output") {
		t.Errorf("merge --help still offers --output:\n%s", out)
	}
	if code, _, stderr := run(t, "", "merge"); code != 2 || !strings.Contains(stderr, "--load") {
		t.Errorf("merge with nothing: exit %d, stderr %q", code, stderr)
	}
}
