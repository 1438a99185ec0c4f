// Package filetree writes small trees of files for tests.
package filetree

import (
	"os"
	"path/filepath"
	"testing"
)

// Write creates each file (by slash-separated path relative to the tree,
// directories made as needed) in a new temporary directory of the test,
// and returns that directory.
func Write(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
