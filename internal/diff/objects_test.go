package diff

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
)

func mustParse(t *testing.T, yaml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ParseManifests("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

const liveWeb = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
  uid: 0b7c
  resourceVersion: "12"
  generation: 3
  creationTimestamp: "2026-11-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 8080, protocol: TCP}]}]
`

func TestObjectsActionsAndServerFieldsIgnored(t *testing.T) {
	live := mustParse(t, liveWeb+`---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: legacy, namespace: shop}
spec: {endpointSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress]}
`)
	proposed := mustParse(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 8080, protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}
`)
	res, err := Objects(context.Background(), proposed, live, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, c := range res.Changes {
		got[c.Key()] = c.Action
	}
	want := map[string]Action{
		"NetworkPolicy shop/web":          ActionUnchanged,
		"NetworkPolicy shop/api":          ActionUpdate,
		"NetworkPolicy shop/db":           ActionCreate,
		"CiliumNetworkPolicy shop/legacy": ActionKept,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: action %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("changes %v, want exactly %v", got, want)
	}
	if !res.Changed() {
		t.Error("Changed() = false with a create and an update")
	}
	for _, c := range res.Changes {
		switch c.Key() {
		case "NetworkPolicy shop/api":
			for _, line := range []string{"--- live/NetworkPolicy shop/api", "+++ proposed/NetworkPolicy shop/api", "+  - Egress"} {
				if !strings.Contains(c.Diff, line) {
					t.Errorf("update diff lacks %q:\n%s", line, c.Diff)
				}
			}
		case "NetworkPolicy shop/db":
			if !strings.Contains(c.Diff, "--- /dev/null") || !strings.Contains(c.Diff, "+  name: db") {
				t.Errorf("create diff:\n%s", c.Diff)
			}
		case "NetworkPolicy shop/web":
			if c.Diff != "" {
				t.Errorf("unchanged object has a diff (server-managed fields not ignored?):\n%s", c.Diff)
			}
		}
	}
}

func TestObjectsNoChangeWhenIdentical(t *testing.T) {
	live := mustParse(t, liveWeb)
	res, err := Objects(context.Background(), live, live, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("Changed() = true for identical sets: %+v", res.Changes)
	}
}

func TestObjectsRejectedAndForbiddenNormalizers(t *testing.T) {
	proposed := mustParse(t, liveWeb)
	tests := []struct {
		name       string
		normalize  Normalizer
		wantAction Action
		wantNote   string
	}{
		{
			name: "rejected by the server",
			normalize: func(context.Context, *unstructured.Unstructured) (*unstructured.Unstructured, error) {
				return nil, &cluster.RejectedError{Kind: "NetworkPolicy", Namespace: "shop", Name: "web", Message: "spec.podSelector: Invalid value"}
			},
			wantAction: ActionRejected,
		},
		{
			name: "dry-run forbidden falls back to the written object",
			normalize: func(context.Context, *unstructured.Unstructured) (*unstructured.Unstructured, error) {
				return nil, &cluster.ForbiddenError{Verb: "patch"}
			},
			wantAction: ActionCreate,
			wantNote:   "server-side dry-run not permitted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Objects(context.Background(), proposed, nil, tt.normalize)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) != 1 || res.Changes[0].Action != tt.wantAction {
				t.Fatalf("changes %+v, want one %s", res.Changes, tt.wantAction)
			}
			if tt.wantNote != "" && (len(res.Notes) != 1 || !strings.Contains(res.Notes[0], tt.wantNote)) {
				t.Errorf("notes %q, want one saying %q", res.Notes, tt.wantNote)
			}
		})
	}
}

func TestParseManifestsRefusesOtherKinds(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "v1 ConfigMap is not a network policy kind"},
		{"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n", "has no metadata.namespace"},
		{"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {namespace: x}\n", "has no metadata.name"},
	}
	for _, tt := range tests {
		_, err := ParseManifests("f.yaml", []byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseManifests(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
