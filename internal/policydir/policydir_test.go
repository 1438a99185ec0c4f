package policydir

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
)

func TestFiles(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"b/web.yaml", "a/db.yml", "a/kustomization.yaml", "kustomization.yml", "REPORT.md", "b/notes.txt", "default-deny.yaml"} {
		files[name] = ""
	}
	dir := filetree.Write(t, files)
	got, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], dir+string(filepath.Separator))
	}
	want := []string{"a/db.yml", "b/web.yaml", "default-deny.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	if _, err := Files(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing directory gave %v, want an error naming it", err)
	}
}
