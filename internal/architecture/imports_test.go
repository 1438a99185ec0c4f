package architecture

import (
	"bufio"
	"bytes"
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/netpolgen/netpolgen/"

// rules is the table of docs/architecture.md: each package's allowed
// project imports, and the packages any package may import.
type rules struct {
	allowed map[string]map[string]bool
	anyone  map[string]bool
}

func TestImportsFollowTheDocumentedDirection(t *testing.T) {
	root := filepath.Join("..", "..")
	r := readRules(t, filepath.Join(root, "docs", "architecture.md"))
	pkgs := projectPackages(t, root)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages under %s; is the walk broken?", len(pkgs), root)
	}
	for _, dir := range pkgs {
		allowed, listed := r.allowed[dir]
		if !listed {
			t.Errorf("%s is not in the table of docs/architecture.md: add a row saying what it may import", dir)
			continue
		}
		for _, imp := range importsOf(t, root, dir) {
			if !allowed[imp] && !r.anyone[imp] {
				t.Errorf("%s imports %s, against the direction in docs/architecture.md", dir, imp)
			}
		}
	}
	for dir := range r.allowed {
		if _, err := os.Stat(filepath.Join(root, dir)); err != nil {
			t.Errorf("docs/architecture.md lists %s, which does not exist", dir)
		}
	}
}

// TestRulesCatchAWrongImport guards the check itself: a stage importing
// a later one must be reported.
func TestRulesCatchAWrongImport(t *testing.T) {
	r := readRules(t, filepath.Join("..", "..", "docs", "architecture.md"))
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"pkg/graph", "pkg/observe", true},
		{"pkg/graph", "pkg/synth", false},
		{"pkg/observe", "pkg/graph", false},
		{"pkg/synth", "pkg/verify", false},
		{"pkg/synth", "internal/l7/routes", true},
		{"pkg/verify", "internal/cli", false},
	} {
		got := r.allowed[c.from][c.to] || r.anyone[c.to]
		if got != c.ok {
			t.Errorf("%s -> %s allowed %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

func readRules(t *testing.T, path string) rules {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rules{allowed: map[string]map[string]bool{}, anyone: map[string]bool{}}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "| package | may import |":
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			in = false
			continue
		case strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 2 {
			t.Fatalf("%s: table row %q has %d cells, want 2", path, line, len(cells))
		}
		name := strings.Fields(cells[0])
		if len(name) == 0 {
			t.Fatalf("%s: table row %q names no package", path, line)
		}
		allowed := map[string]bool{}
		for _, imp := range strings.Fields(cells[1]) {
			allowed[imp] = true
		}
		r.allowed[name[0]] = allowed
		if len(name) > 1 && name[1] == "*" {
			r.anyone[name[0]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(r.allowed) == 0 {
		t.Fatalf("%s has no table headed \"| package | may import |\"", path)
	}
	return r
}

// projectPackages lists the directories under pkg/, internal/ and cmd/
// holding non-test Go files, relative to root.
func projectPackages(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, top := range []string{"pkg", "internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			if _, err := build.ImportDir(path, 0); err != nil {
				return nil // no Go files for this platform, or tests only
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			dirs = append(dirs, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// importsOf lists the project packages dir's non-test files import.
func importsOf(t *testing.T, root, dir string) []string {
	t.Helper()
	p, err := build.ImportDir(filepath.Join(root, dir), 0)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var out []string
	for _, imp := range p.Imports {
		if rest, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, rest)
		}
	}
	return out
}

// TestOneLoopOverASource: flows are read through observe.Feed only. A
// file outside pkg/observe that calls a source's Next must be a Source
// itself (a wrapper that passes records on), never a reading loop.
func TestOneLoopOverASource(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range projectPackages(t, root) {
		if dir == "pkg/observe" {
			continue
		}
		p, err := build.ImportDir(filepath.Join(root, dir), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range p.GoFiles {
			src, err := os.ReadFile(filepath.Join(root, dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(src, []byte(".Next(ctx)")) && !bytes.Contains(src, []byte(") Next(ctx context.Context)")) {
				t.Errorf("%s/%s reads a flow source itself: use observe.Feed", dir, name)
			}
		}
	}
}

// TestPublicPackagesSayWhatTheyAreFor: every package under pkg/ is
// library API, and its doc.go opens with "Package <name>" and says what
// it is for; everything else belongs under internal/.
func TestPublicPackagesSayWhatTheyAreFor(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range projectPackages(t, root) {
		if !strings.HasPrefix(dir, "pkg/") {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join(root, dir), build.ImportComment)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := os.ReadFile(filepath.Join(root, dir, "doc.go"))
		if err != nil {
			t.Errorf("%s has no doc.go saying what the public package is for", dir)
			continue
		}
		if !bytes.HasPrefix(doc, []byte("// Package "+pkg.Name+" ")) {
			t.Errorf("%s/doc.go does not open with \"// Package %s\"", dir, pkg.Name)
		}
		if n := bytes.Count(doc, []byte("\n//")); n < 2 {
			t.Errorf("%s/doc.go says too little (%d comment lines) for a public package", dir, n+1)
		}
	}
}
