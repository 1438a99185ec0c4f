// Package sharedflows locates the team's real Hubble captures, which live
// beside the repository in ../shared/flows and are read in place, never
// copied into it.
package sharedflows

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared captures directory, or skips the test with a
// message naming the directory it looked for.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := Lookup()
	if err != nil {
		tb.Skipf("shared captures: %v", err)
	}
	return dir
}

// Lookup returns the shared captures directory, or an error naming the
// directory it looked for; fuzz targets use it to add optional seeds.
func Lookup() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("cannot find the repository root: %w", err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "flows")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("not found: %s is absent (it sits beside the repository clone)", dir)
	}
	return dir, nil
}

// Path returns one capture in the shared directory, skipping as Dir does.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared capture %s is absent: %v", p, err)
	}
	return p
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
