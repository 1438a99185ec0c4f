// Package learnopts records, beside the policies learn writes, the
// options that decided identities and selection, so that verify, diff
// and drift judge the policies with the rules they were learned by.
//
// The file is JSON with a version. Its name has no .yaml, .yml or .json
// extension, so kubectl apply -f DIR (-R), kustomize (whose
// kustomization.yaml lists resources) and netpolgen's own policy readers
// never take it for a manifest.
package learnopts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// FileName is the options file's name in a policy directory.
const FileName = "netpolgen.options"

// Version is the file format this package writes and reads.
const Version = 1

// Options are learn's options that change which identities peers get and
// how policies select them.
type Options struct {
	Version int `json:"version"`
	// Identity options (graph): selector key preference, extra ignored
	// and kept label keys, world address aggregation, cluster ranges.
	SelectorLabels []string `json:"selector_labels,omitempty"`
	IgnoreLabels   []string `json:"ignore_labels,omitempty"`
	KeepLabels     []string `json:"keep_labels,omitempty"`
	CIDRPrefixV4   int      `json:"cidr_prefix_v4,omitempty"`
	CIDRPrefixV6   int      `json:"cidr_prefix_v6,omitempty"`
	ClusterCIDRs   []string `json:"cluster_cidrs,omitempty"`
	// Selection options (synthesis): the policy format, the DNS server
	// selector used when the flows show none, and the namespaces that got
	// policies (verify's excess sweep looks at those).
	Format            string   `json:"format,omitempty"`
	DNSSelector       string   `json:"dns_selector,omitempty"`
	Namespaces        []string `json:"namespaces,omitempty"`
	ExcludeNamespaces []string `json:"exclude_namespaces,omitempty"`
}

// Marshal writes the options file: the same options always give the same
// bytes. List options whose order means nothing are sorted; the selector
// keys keep their order of preference.
func Marshal(o Options) []byte {
	o.Version = Version
	for _, s := range []*[]string{&o.IgnoreLabels, &o.KeepLabels, &o.ClusterCIDRs, &o.Namespaces, &o.ExcludeNamespaces} {
		*s = sortedUnique(*s)
	}
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		// Strings, ints and string lists always marshal.
		panic(fmt.Sprintf("learnopts: %v", err))
	}
	return append(data, '\n')
}

// Read reads the options file in dir. It returns nil and no error when
// there is none (policies not written by learn, or by an older netpolgen).
// A file from a newer netpolgen, or one that does not parse, is an error
// naming the file.
func Read(dir string) (*Options, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("learn options %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse reads an options file's contents; name is used in errors.
func Parse(name string, data []byte) (*Options, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("learn options %s: malformed: %w", name, err)
	}
	if head.Version == nil {
		return nil, fmt.Errorf("learn options %s: malformed: no \"version\" field", name)
	}
	if *head.Version > Version {
		return nil, fmt.Errorf("learn options %s: version %d was written by a newer netpolgen (this one reads version %d); upgrade netpolgen, or learn again", name, *head.Version, Version)
	}
	if *head.Version < 1 {
		return nil, fmt.Errorf("learn options %s: malformed: version %d", name, *head.Version)
	}
	var o Options
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("learn options %s: malformed: %w", name, err)
	}
	return &o, nil
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
