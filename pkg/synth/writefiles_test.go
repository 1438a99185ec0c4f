package synth

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/internal/policydir"
)

// TestEveryGeneratedFileIsRecognisedAsNetpolgens: a re-run may replace or
// remove a file only if policydir recognises it as netpolgen's, so every
// file learn writes must be recognised, or the next run would refuse to
// overwrite it, or leave it behind when its workload retires.
func TestEveryGeneratedFileIsRecognisedAsNetpolgens(t *testing.T) {
	if ManagedByLabel != policydir.ManagedByLabel || ManagedByValue != policydir.ManagedByValue || RoleLabel != policydir.RoleLabel {
		t.Fatal("synth and policydir disagree on netpolgen's labels")
	}
	names := make([]string, 0, len(goldenGraphs()))
	for name := range goldenGraphs() {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		for _, format := range []Format{FormatKubernetes, FormatCilium, FormatBoth} {
			g := goldenGraphs()[name]
			plan := mustPlan(t, g)
			files, warnings, err := plan.Files(format)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, File{Path: "REPORT.md", Data: Report(ReportInput{Graph: g, Plan: plan, Format: format, Warnings: warnings})})
			for _, f := range files {
				n++
				if !policydir.Managed(f.Path, f.Data) {
					t.Errorf("%s, %s: %s is not recognised as netpolgen's:\n%s", name, format, f.Path, f.Data)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no files generated")
	}
}

// TestRerunRetiresAWorkloadAndKeepsTheUsersFile: the pull-request
// workflow. A workload and a namespace retire between runs; their files
// go, every kustomization lists exactly the files netpolgen wrote beside
// it, and the user's own policy file beside them is byte-identical with
// its mtime unchanged.
func TestRerunRetiresAWorkloadAndKeepsTheUsersFile(t *testing.T) {
	dir := t.TempDir()
	first, _, err := mustPlan(t, goldenGraphs()["cross-namespace"]).Files(FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, first); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "shop", "hand-written.yaml")
	mineData := []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: hand-written\n  namespace: shop\n")
	if err := os.WriteFile(mine, mineData, 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(mine, past, past); err != nil {
		t.Fatal(err)
	}

	g := goldenGraphs()["cross-namespace"]
	g.Edges = g.Edges[:1]
	g.Workloads = g.Workloads[:2]
	second, _, err := mustPlan(t, g).Files(FormatBoth)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policydir.Replace(dir, second)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"monitoring/default-deny.yaml", "monitoring/kustomization.yaml", "monitoring/prometheus.yaml"}; !slices.Equal(res.Removed, want) {
		t.Errorf("removed %v, want %v", res.Removed, want)
	}
	if data, err := os.ReadFile(mine); err != nil || !bytes.Equal(data, mineData) {
		t.Errorf("the user's file changed: %q, %v", data, err)
	}
	if fi, err := os.Stat(mine); err != nil || !fi.ModTime().Equal(past) {
		t.Errorf("the user's file was rewritten (mtime %v, want %v)", fi.ModTime(), past)
	}
	var kustomizations int
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "kustomization.yaml" {
			return err
		}
		kustomizations++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		listed := resources(data)
		var present []string
		entries, _ := os.ReadDir(filepath.Dir(p))
		for _, e := range entries {
			name := e.Name()
			if name == "kustomization.yaml" || name == "REPORT.md" {
				continue
			}
			sub, _ := os.ReadFile(filepath.Join(filepath.Dir(p), name))
			if e.IsDir() || policydir.Managed(name, sub) {
				present = append(present, name)
			}
		}
		if !slices.Equal(listed, present) {
			rel, _ := filepath.Rel(dir, p)
			t.Errorf("%s lists %v; netpolgen's files there are %v", rel, listed, present)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kustomizations < 2 {
		t.Errorf("checked %d kustomizations", kustomizations)
	}
}

// resources reads the resources list of a kustomization netpolgen wrote.
func resources(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), "- "); ok {
			out = append(out, path.Clean(r))
		}
	}
	return out
}
