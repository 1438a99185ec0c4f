package learnopts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTripIsByteDeterministic(t *testing.T) {
	a := Options{KeepLabels: []string{"version", "tier", "version"}, SelectorLabels: []string{"name", "app"}, ClusterCIDRs: []string{"10.96.0.0/12", "10.244.0.0/16"}, Format: "both", DNSSelector: "kube-system/k8s-app=kube-dns"}
	b := a
	b.KeepLabels = []string{"tier", "version"}
	b.ClusterCIDRs = []string{"10.244.0.0/16", "10.96.0.0/12"}
	if x, y := Marshal(a), Marshal(b); !bytes.Equal(x, y) {
		t.Fatalf("the same options give different bytes:\n%s\n%s", x, y)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), Marshal(a), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{Version: Version, KeepLabels: []string{"tier", "version"}, SelectorLabels: []string{"name", "app"}, ClusterCIDRs: []string{"10.244.0.0/16", "10.96.0.0/12"}, Format: "both", DNSSelector: "kube-system/k8s-app=kube-dns"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if !bytes.Equal(Marshal(*got), Marshal(a)) {
		t.Error("a read file does not write back the same bytes")
	}
}

func TestReadWithoutFile(t *testing.T) {
	got, err := Read(t.TempDir())
	if got != nil || err != nil {
		t.Errorf("Read of a directory without the file = %v, %v; want nil, nil", got, err)
	}
}

func TestReadRefusesNewerAndMalformedFiles(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"newer", `{"version": 2, "keep_labels": ["version"], "something_new": 1}`, "version 2 was written by a newer netpolgen (this one reads version 1)"},
		{"not JSON", `keep_labels: [version]`, "malformed"},
		{"no version", `{"keep_labels": ["version"]}`, `no "version" field`},
		{"wrong type", `{"version": 1, "keep_labels": "version"}`, "malformed"},
		{"unknown key", `{"version": 1, "keep_label": ["version"]}`, `unknown field "keep_label"`},
		{"two objects", `{"version": 1} {"version": 1}`, "malformed: invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}
