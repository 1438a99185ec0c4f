package policydir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/internal/atomicfile"
	"github.com/netpolgen/netpolgen/internal/filetree"
)

func policy(kind, ns, name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: %s\nmetadata:\n  labels:\n    %s: %s\n  name: %s\n  namespace: %s\n", kind, ManagedByLabel, ManagedByValue, name, ns)
}

func kustomization(resources ...string) string {
	s := KustomizationMarker + "\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, r := range resources {
		s += "- " + r + "\n"
	}
	return s
}

// firstRun is a set as learn writes it: two namespaces, a report and the
// options file.
func firstRun() []File {
	return []File{
		{Path: "kustomization.yaml", Data: []byte(kustomization("monitoring", "shop"))},
		{Path: "REPORT.md", Data: []byte("# netpolgen: least-privilege network policy\n\nfirst run\n")},
		{Path: "netpolgen.options", Data: []byte("{\n  \"version\": 1\n}\n")},
		{Path: "shop/kustomization.yaml", Data: []byte(kustomization("cart.yaml", "checkout.yaml", "default-deny.yaml"))},
		{Path: "shop/cart.yaml", Data: []byte(policy("NetworkPolicy", "shop", "cart"))},
		{Path: "shop/checkout.yaml", Data: []byte(policy("NetworkPolicy", "shop", "checkout") + "---\n" + policy("CiliumNetworkPolicy", "shop", "checkout"))},
		{Path: "shop/default-deny.yaml", Data: []byte(policy("NetworkPolicy", "shop", "default-deny"))},
		{Path: "monitoring/kustomization.yaml", Data: []byte(kustomization("prometheus.yaml"))},
		{Path: "monitoring/prometheus.yaml", Data: []byte(policy("NetworkPolicy", "monitoring", "prometheus"))},
	}
}

// secondRun no longer has checkout (a retired workload) nor the
// monitoring namespace, and changes cart.
func secondRun() []File {
	return []File{
		{Path: "kustomization.yaml", Data: []byte(kustomization("shop"))},
		{Path: "REPORT.md", Data: []byte("# netpolgen: least-privilege network policy\n\nsecond run\n")},
		{Path: "netpolgen.options", Data: []byte("{\n  \"version\": 1\n}\n")},
		{Path: "shop/kustomization.yaml", Data: []byte(kustomization("cart.yaml", "default-deny.yaml"))},
		{Path: "shop/cart.yaml", Data: []byte(policy("NetworkPolicy", "shop", "cart") + "# changed\n")},
		{Path: "shop/default-deny.yaml", Data: []byte(policy("NetworkPolicy", "shop", "default-deny"))},
	}
}

// grownRun adds a namespace and a workload to secondRun, with the
// kustomizations that list them.
func grownRun() []File {
	files := secondRun()
	for i, f := range files {
		switch f.Path {
		case "kustomization.yaml":
			files[i].Data = []byte(kustomization("payments", "shop"))
		case "shop/kustomization.yaml":
			files[i].Data = []byte(kustomization("cart.yaml", "default-deny.yaml", "web.yaml"))
		}
	}
	return append(files,
		File{Path: "payments/kustomization.yaml", Data: []byte(kustomization("api.yaml"))},
		File{Path: "payments/api.yaml", Data: []byte(policy("NetworkPolicy", "payments", "api"))},
		File{Path: "shop/web.yaml", Data: []byte(policy("NetworkPolicy", "shop", "web"))})
}

// usersFiles are files netpolgen did not write, some of them YAML that
// mentions its label without carrying it on every object.
func usersFiles() map[string]string {
	return map[string]string{
		"README.md":                "# our policies\n",
		"shop/mine.yaml":           "apiVersion: v1\nkind: NetworkPolicy\nmetadata:\n  name: mine\n",
		"shop/notes.txt":           "app.kubernetes.io/managed-by: netpolgen\n",
		"shop/mixed.yaml":          policy("NetworkPolicy", "shop", "ours") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n",
		"shop/broken.yaml":         "app.kubernetes.io/managed-by: netpolgen\n  : [unclosed\n",
		"monitoring/extra.yaml":    "kind: NetworkPolicy\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: helm\n",
		"shop/kustomization.yml":   "resources: [mine.yaml]\n",
		".git/shop/cart.yaml":      policy("NetworkPolicy", "shop", "cart"),
		"other-cluster/REPORT.md":  "# netpolgen: least-privilege network policy\n",
		"other-cluster/shop/a.yml": policy("NetworkPolicy", "shop", "a"),
		"learning/visibility.yaml": policy("CiliumNetworkPolicy", "shop", "visibility") + "    " + RoleLabel + ": visibility\n",
	}
}

// entry is one file of a tree snapshot.
type entry struct {
	Data  string
	Mtime time.Time
}

// snapshot reads every file under dir, hidden ones included.
func snapshot(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[filepath.ToSlash(rel)+"/"] = entry{}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = entry{Data: string(data), Mtime: fi.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setup writes the first run's set and the user's files, all dated a
// day ago so an unchanged mtime means the file was not rewritten.
func setup(t *testing.T) string {
	t.Helper()
	dir := filetree.Write(t, usersFiles())
	if _, err := Replace(dir, firstRun()); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(p, past, past)
		}
		return err
	})
	return dir
}

func TestReplaceRemovesRetiredFilesAndKeepsEveryOther(t *testing.T) {
	dir := setup(t)
	before := snapshot(t, dir)
	res, err := Replace(dir, secondRun())
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := []string{"monitoring/kustomization.yaml", "monitoring/prometheus.yaml", "shop/checkout.yaml"}
	if !reflect.DeepEqual(res.Removed, wantRemoved) {
		t.Errorf("removed %v, want %v", res.Removed, wantRemoved)
	}
	wantWritten := []string{"REPORT.md", "kustomization.yaml", "shop/cart.yaml", "shop/kustomization.yaml"}
	if !reflect.DeepEqual(res.Written, wantWritten) || res.Unchanged != 2 {
		t.Errorf("written %v, unchanged %d; want %v, 2", res.Written, res.Unchanged, wantWritten)
	}
	after := snapshot(t, dir)
	for rel := range usersFiles() {
		if before[rel] != after[rel] {
			t.Errorf("%s, a file netpolgen did not write, changed: %+v -> %+v", rel, before[rel], after[rel])
		}
	}
	for _, f := range secondRun() {
		if after[f.Path].Data != string(f.Data) {
			t.Errorf("%s: not the new content", f.Path)
		}
	}
	for _, rel := range []string{"shop/default-deny.yaml", "netpolgen.options"} {
		if before[rel] != after[rel] {
			t.Errorf("%s: unchanged bytes, yet rewritten", rel)
		}
	}
	for rel := range after {
		if _, gen := before[rel]; !gen && !strings.HasSuffix(rel, "/") {
			t.Errorf("%s appeared", rel)
		}
		if strings.Contains(rel, ".tmp-") || strings.Contains(rel, previousSuffix) {
			t.Errorf("%s left behind", rel)
		}
	}
	for _, gone := range wantRemoved {
		if _, ok := after[gone]; ok {
			t.Errorf("%s still there", gone)
		}
	}
	// monitoring/ keeps the user's file, so it stays.
	if _, ok := after["monitoring/"]; !ok {
		t.Error("monitoring/ removed although it holds a user's file")
	}

	// A third run with the same set changes nothing at all.
	again := snapshot(t, dir)
	res, err = Replace(dir, secondRun())
	if err != nil || len(res.Written) != 0 || len(res.Removed) != 0 {
		t.Errorf("same set again: %+v, %v; want nothing written or removed", res, err)
	}
	if diff := cmp.Diff(again, snapshot(t, dir)); diff != "" {
		t.Errorf("same set again changed the tree:\n%s", diff)
	}
}

func TestReplaceRemovesAnEmptiedNamespaceDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Replace(dir, firstRun()); err != nil {
		t.Fatal(err)
	}
	if _, err := Replace(dir, secondRun()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "monitoring")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("monitoring/ (only netpolgen's files) still there: %v", err)
	}
}

// TestReplaceNeverModifiesAFileItDidNotWrite: when a generated file would
// land on a user's file (or directory), nothing in the tree changes.
func TestReplaceNeverModifiesAFileItDidNotWrite(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		setup      func(p string) error
		want       string
	}{
		{"user's YAML", "shop/cart.yaml", func(p string) error { return os.WriteFile(p, []byte("kind: NetworkPolicy\n"), 0o644) },
			"shop/cart.yaml exists and netpolgen did not write it (it lacks the app.kubernetes.io/managed-by: netpolgen label)"},
		{"user's kustomization", "shop/kustomization.yaml", func(p string) error { return os.WriteFile(p, []byte("resources: [a.yaml]\n"), 0o644) },
			"shop/kustomization.yaml exists and netpolgen did not write it"},
		{"user's report", "REPORT.md", func(p string) error { return os.WriteFile(p, []byte("# Our review notes\n"), 0o644) },
			"REPORT.md exists and netpolgen did not write it"},
		{"a directory", "shop/cart.yaml", func(p string) error { return os.Mkdir(p, 0o755) },
			"shop/cart.yaml is a directory, not a file netpolgen wrote"},
		{"a symbolic link", "shop/cart.yaml", func(p string) error { return os.Symlink("/etc/hostname", p) },
			"shop/cart.yaml is a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t)
			p := filepath.Join(dir, filepath.FromSlash(tc.path))
			os.Remove(p)
			if err := tc.setup(p); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := Replace(dir, secondRun())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Nothing was changed") || !strings.Contains(err.Error(), dir) {
				t.Fatalf("got %v, want an error naming the directory and saying %q", err, tc.want)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("the tree changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestReplaceFailureLeavesThePreviousSet fails the write of each new file
// in turn (like a full disk), then the rename of each in turn, and checks
// the tree is exactly as before every time: no file changed, no retired
// file removed, no temporary file or new directory left.
func TestReplaceFailureLeavesThePreviousSet(t *testing.T) {
	next := grownRun()
	for _, stage := range []string{"write", "rename"} {
		for k := 1; ; k++ {
			dir := setup(t)
			before := snapshot(t, dir)
			calls := 0
			r := replacer{prepare: atomicfile.Prepare, commit: (*atomicfile.Pending).Commit}
			injected := &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
			if stage == "write" {
				r.prepare = func(path string, perm fs.FileMode, produce func(io.Writer) error) (*atomicfile.Pending, error) {
					if calls++; calls == k {
						return atomicfile.Prepare(path, perm, func(w io.Writer) error {
							w.Write([]byte("half"))
							return injected
						})
					}
					return atomicfile.Prepare(path, perm, produce)
				}
			} else {
				r.commit = func(p *atomicfile.Pending) error {
					if calls++; calls == k {
						return &atomicfile.Error{Path: p.Path(), Existed: true, Err: syscall.EIO}
					}
					return p.Commit()
				}
			}
			_, err := r.replace(dir, next)
			if calls < k {
				if err != nil {
					t.Fatalf("%s: no failure injected, yet %v", stage, err)
				}
				if k < 3 {
					t.Fatalf("%s: only %d steps to fail", stage, k-1)
				}
				break
			}
			want := "; the previous policies are intact"
			if stage == "rename" {
				want = "input/output error; the previous policies were put back"
			}
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "write policies to "+dir+": ") {
				t.Fatalf("%s %d: got %v, want an error naming the directory and ending %q", stage, k, err, want)
			}
			if stage == "write" && !strings.Contains(err.Error(), "no space left on device") {
				t.Errorf("%s %d: %v does not give the cause", stage, k, err)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("%s failure %d changed the previous set (-before +after):\n%s", stage, k, diff)
			}
		}
	}
}

// TestReplaceCleansUpAKilledRun: a run killed while staging leaves hidden
// temporary files and backups; they are not policies, and the next run
// removes them, leaving a user's hidden files alone.
func TestReplaceCleansUpAKilledRun(t *testing.T) {
	dir := setup(t)
	leftovers := []string{"shop/.cart.yaml.tmp-12345", "shop/.checkout.yaml" + previousSuffix, ".REPORT.md.tmp-9"}
	users := []string{"shop/.cart.yaml.tmp-notes", ".envrc"}
	for _, rel := range append(append([]string{}, leftovers...), users...) {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range listed {
		if strings.Contains(p, ".tmp-") || strings.Contains(p, previousSuffix) {
			t.Errorf("Files lists the leftover %s", p)
		}
	}
	if _, err := Replace(dir, secondRun()); err != nil {
		t.Fatal(err)
	}
	for _, rel := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("leftover %s kept: %v", rel, err)
		}
	}
	for _, rel := range users {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("user's %s removed: %v", rel, err)
		}
	}
}

func TestManaged(t *testing.T) {
	for _, tc := range []struct {
		rel, data string
		want      bool
	}{
		{"shop/cart.yaml", policy("NetworkPolicy", "shop", "cart"), true},
		{"shop/cart.yml", "# generated\n" + policy("NetworkPolicy", "shop", "cart") + "---\n" + policy("CiliumNetworkPolicy", "shop", "cart"), true},
		{"shop/cart.yaml", policy("NetworkPolicy", "shop", "cart") + "---\nkind: Secret\n", false},
		{"shop/cart.yaml", "", false},
		{"shop/cart.yaml", "metadata: {labels: {app.kubernetes.io/managed-by: helm}}\n", false},
		{"shop/cart.yaml", policy("CiliumNetworkPolicy", "shop", "v") + "    " + RoleLabel + ": visibility\n", false},
		{"shop/kustomization.yaml", kustomization("a.yaml"), true},
		{"shop/kustomization.yaml", "resources: [a.yaml]\n" + KustomizationMarker + "\n", false},
		{"REPORT.md", "# netpolgen: least-privilege network policy\n", true},
		{"REPORT.md", "# Review\n\nnetpolgen\n", false},
		{"netpolgen.options", "{\"version\": 1}\n", true},
		{"netpolgen.options", "version=1\n", false},
		{"README.md", "# netpolgen\n", false},
	} {
		if got := Managed(tc.rel, []byte(tc.data)); got != tc.want {
			t.Errorf("Managed(%s, %q) = %v, want %v", tc.rel, tc.data, got, tc.want)
		}
	}
}

func TestReplaceThroughASymlinkedDirectory(t *testing.T) {
	real := setup(t)
	link := filepath.Join(t.TempDir(), "policies")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	res, err := Replace(link, secondRun())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"monitoring/kustomization.yaml", "monitoring/prometheus.yaml", "shop/checkout.yaml"}; !reflect.DeepEqual(res.Removed, want) {
		t.Errorf("through a symbolic link removed %v, want %v", res.Removed, want)
	}
}

// TestFailedFirstRunLeavesNoDirectory: the output directory and its
// parents made for a run that then fails are removed again.
func TestFailedFirstRunLeavesNoDirectory(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "policies")
	calls := 0
	r := replacer{commit: (*atomicfile.Pending).Commit, prepare: func(path string, perm fs.FileMode, produce func(io.Writer) error) (*atomicfile.Pending, error) {
		if calls++; calls == 3 {
			return nil, &atomicfile.Error{Path: path, Err: syscall.ENOSPC}
		}
		return atomicfile.Prepare(path, perm, produce)
	}}
	if _, err := r.replace(dir, firstRun()); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("a failed first run left %v", entries)
	}
}

// TestKilledRunLeavesWholeFiles kills a learn-like writer process (this
// test binary, re-run as a helper) while it stages the new set, and while
// it commits it. Killed while staging, the previous set is byte-identical
// (hidden temporary files aside); killed while committing, every file is
// whole, old or new, and every kustomization lists files that exist. In
// both cases the next run completes the set and removes the leftovers.
func TestKilledRunLeavesWholeFiles(t *testing.T) {
	if dir := os.Getenv("POLICYDIR_HELPER_DIR"); dir != "" {
		k, _ := strconv.Atoi(os.Getenv("POLICYDIR_HELPER_K"))
		helperReplaceAndHang(dir, os.Getenv("POLICYDIR_HELPER_STAGE"), k)
		return
	}
	next := grownRun()
	for _, stage := range []string{"staging", "commit"} {
		for k := 1; ; k++ {
			dir := setup(t)
			before := snapshot(t, dir)
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunLeavesWholeFiles$")
			cmd.Env = append(os.Environ(), "POLICYDIR_HELPER_DIR="+dir, "POLICYDIR_HELPER_STAGE="+stage, fmt.Sprintf("POLICYDIR_HELPER_K=%d", k))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			cmd.Process.Kill()
			cmd.Wait()
			if line == "not killed: <nil>\n" {
				if k < 4 {
					t.Fatalf("%s: only %d steps", stage, k-1)
				}
				break
			}
			if line != "hanging\n" {
				t.Fatalf("%s %d: helper said %q, %v", stage, k, line, err)
			}
			after := snapshot(t, dir)
			newData := map[string]string{}
			for _, f := range next {
				newData[f.Path] = string(f.Data)
			}
			leftovers := 0
			for rel, e := range after {
				if strings.HasPrefix(path.Base(rel), ".") && (strings.Contains(rel, ".tmp-") || strings.HasSuffix(rel, previousSuffix)) {
					leftovers++
					continue
				}
				if strings.HasSuffix(rel, "/") {
					continue
				}
				if stage == "staging" && before[rel] != e {
					t.Errorf("%s %d: %s changed although the kill came before any rename", stage, k, rel)
				}
				if e.Data != before[rel].Data && e.Data != newData[rel] {
					t.Errorf("%s %d: %s is neither its old nor its new version: torn", stage, k, rel)
				}
				if path.Base(rel) == "kustomization.yaml" {
					for _, r := range strings.Split(e.Data, "\n") {
						if res, ok := strings.CutPrefix(r, "- "); ok {
							target := path.Join(path.Dir(rel), res)
							if !strings.HasSuffix(res, ".yaml") {
								target = path.Join(target, "kustomization.yaml")
							}
							if _, exists := after[target]; !exists {
								t.Errorf("%s %d: %s lists %s, which does not exist", stage, k, rel, res)
							}
						}
					}
				}
			}
			if stage == "staging" && leftovers == 0 {
				t.Errorf("%s %d: no temporary file left: the kill did not come mid-staging", stage, k)
			}
			if _, err := Replace(dir, next); err != nil {
				t.Fatalf("%s %d: the next run: %v", stage, k, err)
			}
			for rel := range snapshot(t, dir) {
				if strings.Contains(rel, ".tmp-") || strings.HasSuffix(rel, previousSuffix) {
					t.Errorf("%s %d: the next run left %s", stage, k, rel)
				}
			}
			for _, f := range next {
				if data, err := os.ReadFile(filepath.Join(dir, f.Path)); err != nil || string(data) != string(f.Data) {
					t.Errorf("%s %d: after the next run %s is not the new version (%v)", stage, k, f.Path, err)
				}
			}
		}
	}
}

// helperReplaceAndHang runs Replace on dir and, at the k-th file of the
// given stage, says so and waits to be killed (bounded).
func helperReplaceAndHang(dir, stage string, k int) {
	hang := func() {
		fmt.Println("hanging")
		time.Sleep(time.Minute)
		os.Exit(3)
	}
	calls := 0
	r := replacer{prepare: atomicfile.Prepare, commit: (*atomicfile.Pending).Commit}
	if stage == "staging" {
		r.prepare = func(p string, perm fs.FileMode, produce func(io.Writer) error) (*atomicfile.Pending, error) {
			if calls++; calls == k {
				// Half of the k-th file is on disk when the kill comes.
				atomicfile.Prepare(p, perm, func(w io.Writer) error {
					w.Write([]byte("half"))
					w.(interface{ Flush() error }).Flush()
					hang()
					return nil
				})
			}
			return atomicfile.Prepare(p, perm, produce)
		}
	} else {
		r.commit = func(p *atomicfile.Pending) error {
			if calls++; calls == k {
				hang()
			}
			return p.Commit()
		}
	}
	_, err := r.replace(dir, grownRun())
	fmt.Println("not killed:", err)
	os.Exit(2)
}
