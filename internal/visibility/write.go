package visibility

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Write writes files under dir. It first checks that no file it would
// write is someone else's (learned policies, a user's kustomization), and
// writes nothing when one is. Unchanged files are left alone, each
// written file replaces the old one in a single rename, and learning-mode
// files of an earlier run that are no longer generated (a namespace
// dropped) are removed; files without the learning-mode marker never are.
func Write(dir string, files []synth.File) error {
	keep := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		keep[p] = true
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("write learning-mode policies: %w", err)
		case !bytes.Contains(old, []byte(marker)):
			return fmt.Errorf("%s exists and is not a learning-mode file netpolgen wrote; nothing written: choose an --out directory of its own (e.g. learning-mode/)", p)
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := writeFile(p, f.Data); err != nil {
			return fmt.Errorf("write learning-mode policies: %w", err)
		}
	}
	return pruneStale(dir, keep)
}

// writeFile replaces p in one rename, so a full disk leaves the old file.
func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// pruneStale removes learning-mode YAML files under dir that were not
// written this time.
func pruneStale(dir string, keep map[string]bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || keep[p] || filepath.Ext(p) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("remove stale learning-mode policies: %w", err)
		}
		if bytes.Contains(data, []byte(marker)) {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove stale learning-mode policies: %w", err)
			}
		}
		return nil
	})
}
