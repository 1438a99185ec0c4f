package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Apply creates or updates every object in a YAML stream as the admin,
// with server-side apply, and returns them as the server stored them.
func (e *Env) Apply(t testing.TB, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ApplyAs(context.Background(), e.Config, []byte(manifests))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return objs
}

// ApplyAs applies a YAML stream with the given identity.
func ApplyAs(ctx context.Context, cfg *rest.Config, manifests []byte) ([]*unstructured.Unstructured, error) {
	return apply(ctx, cfg, manifests, metav1.ApplyOptions{FieldManager: "testenv", Force: true})
}

// DryRun server-side applies a YAML stream with dryRun=All: the server
// validates and admits every object, defaults it, and stores nothing. The
// error names the object the server rejected.
func (e *Env) DryRun(ctx context.Context, manifests []byte) ([]*unstructured.Unstructured, error) {
	return apply(ctx, e.Config, manifests, metav1.ApplyOptions{FieldManager: "testenv", Force: true, DryRun: []string{metav1.DryRunAll}})
}

func apply(ctx context.Context, cfg *rest.Config, manifests []byte, opts metav1.ApplyOptions) ([]*unstructured.Unstructured, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			res = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		got, err := res.Apply(ctx, obj.GetName(), obj, opts)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		out = append(out, got)
	}
}
