package diff

import (
	"testing"

	"github.com/netpolgen/netpolgen/internal/filetree"
	"github.com/netpolgen/netpolgen/internal/learnopts"
)

// The options file learn writes beside the policies is not a manifest.
func TestLoadDirSkipsOptionsFile(t *testing.T) {
	dir := filetree.Write(t, map[string]string{
		learnopts.FileName: string(learnopts.Marshal(learnopts.Options{KeepLabels: []string{"version"}})),
		"shop/api.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
`,
	})
	objs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || ObjectKey(objs[0]) == "" {
		t.Errorf("LoadDir read %d objects, want the one NetworkPolicy", len(objs))
	}
}
