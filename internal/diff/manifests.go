package diff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/policydir"
)

// LoadDir reads every policy object in the .yaml and .yml files under dir
// (kustomization files aside). Any other kind is an error, so a typo does
// not silently drop a policy from the diff.
func LoadDir(dir string) ([]*unstructured.Unstructured, error) {
	paths, err := policydir.Files(dir)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	seen := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		objs, err := ParseManifests(p, data)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			key := ObjectKey(o)
			if first, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: %s is also defined in %s", p, key, first)
			}
			seen[key] = p
		}
		out = append(out, objs...)
	}
	cluster.SortObjects(out)
	return out, nil
}

// ParseManifests reads one YAML stream of policy objects.
func ParseManifests(name string, data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 1; ; i++ {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		kind, ok := cluster.PolicyKindOf(obj.GetAPIVersion(), obj.GetKind())
		if !ok {
			return nil, fmt.Errorf("%s: document %d: %s %s is not a network policy kind netpolgen diffs", name, i, obj.GetAPIVersion(), obj.GetKind())
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d: %s has no metadata.name", name, i, kind.Kind)
		}
		if kind.Namespaced && obj.GetNamespace() == "" {
			return nil, fmt.Errorf("%s: document %d: %s %s has no metadata.namespace", name, i, kind.Kind, obj.GetName())
		}
		out = append(out, obj)
	}
}

// ObjectKey names an object uniquely: "Kind namespace/name", or "Kind
// name" for cluster-wide kinds.
func ObjectKey(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}
