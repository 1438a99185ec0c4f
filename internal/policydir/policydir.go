// Package policydir finds the policy manifests in a directory tree the way
// every netpolgen command that reads policies does.
package policydir

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Files returns the .yaml and .yml files under dir, sorted, leaving out
// kustomization files (they list manifests, they are not policies).
func Files(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || name == "kustomization.yaml" || name == "kustomization.yml" {
			return nil
		}
		if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	sort.Strings(paths)
	return paths, nil
}
