package drift

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// heldSource is a capture that, once read, waits like a quiet live
// stream instead of ending.
type heldSource struct{ *capture.Source }

func (h heldSource) Next(ctx context.Context) (*observe.Record, error) {
	rec, err := h.Source.Next(ctx)
	if errors.Is(err, io.EOF) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return rec, err
}

// objectsOf reads YAML documents into unstructured objects.
func objectsOf(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func policyObjects(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, "kustomization.yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, u := range objectsOf(t, data) {
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls the runner's last report until cond holds.
func waitFor(t *testing.T, r *Runner, what string, cond func(*Report) bool) *Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rep := r.LastReport(); rep != nil && cond(rep) {
			return rep
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep := r.LastReport()
	if rep == nil {
		t.Fatalf("%s: no report after 20s", what)
	}
	t.Fatalf("%s: not within 20s; last report: %s %v", what, rep.Summary(), findingKeys(rep.Findings()))
	return nil
}

// TestClusterPolicyChangeAppliesWithoutRestart runs drift against
// policies held by informers on a fake cluster: applying the suggested
// patch for one uncovered connection resolves it at once, and deleting a
// policy the baseline needs makes its traffic uncovered again.
func TestClusterPolicyChangeAppliesWithoutRestart(t *testing.T) {
	fx := shopBaseline(t, synth.FormatCilium)
	captured := fx.write(t, "both.json", fx.baseline, fx.driftFlows(t))
	np := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	cnp := schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}
	ccnp := schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumclusterwidenetworkpolicies"}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{np: "NetworkPolicyList", cnp: "CiliumNetworkPolicyList", ccnp: "CiliumClusterwideNetworkPolicyList"},
		policyObjects(t, fx.policies)...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	policies, err := NewClusterSource(ctx, client, "fake cluster", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return heldSource{capture.NewSource([]string{captured}, capture.Options{Strict: true})}, nil
		},
		Follow: true, Policies: policies, Interval: time.Hour, // only policy changes trigger evaluations here
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx); done <- err }()

	// Evaluations here come only from policy events, so nudge one after
	// the capture is read, by re-applying an unchanged policy.
	waitFlows(t, r, uint64(bytes.Count(fx.baseline, []byte("\n"))+2))
	touch := policyObjects(t, fx.policies)[0].(*unstructured.Unstructured)
	if _, err := client.Resource(cnp).Namespace(touch.GetNamespace()).Update(ctx, touch, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := waitFor(t, r, "both drift findings", func(rep *Report) bool { return len(rep.Uncovered) == 2 })
	var patch string
	for _, f := range rep.Uncovered {
		if strings.Contains(f.Key, "checkout>shop/cart") {
			patch = f.Patch
		}
	}
	for _, u := range objectsOf(t, []byte(patch)) {
		if _, err := client.Resource(cnp).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, r, "the patched connection resolved", func(rep *Report) bool {
		return len(rep.Uncovered) == 1 && strings.Contains(rep.Uncovered[0].Key, "debug-shell")
	})

	if err := client.Resource(cnp).Namespace("shop").Delete(ctx, "frontend", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, "frontend's traffic uncovered after its policy is deleted", func(rep *Report) bool {
		for _, f := range rep.Uncovered {
			if strings.HasPrefix(f.Key, "uncovered/shop/frontend>") {
				return true
			}
		}
		return false
	})

	// A clusterwide policy is read as Cilium reads it: this one allows
	// debug-shell's egress to postgres, leaving postgres's ingress to deny.
	ccnpYAML := `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: debug-shell-to-postgres
spec:
  endpointSelector:
    matchLabels:
      k8s:run: debug-shell
  egress:
  - toEndpoints:
    - matchLabels:
        k8s:app.kubernetes.io/name: postgresql
        k8s:io.kubernetes.pod.namespace: data
    toPorts:
    - ports:
      - port: "5432"
        protocol: TCP
`
	if _, err := client.Resource(ccnp).Create(ctx, objectsOf(t, []byte(ccnpYAML))[0], metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, "the clusterwide policy allowing debug-shell's egress", func(rep *Report) bool {
		for _, f := range rep.Uncovered {
			if strings.Contains(f.Key, "debug-shell") {
				return f.Connection.Side == "ingress"
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFlows(t *testing.T, r *Runner, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.flows.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d flows in 20s, want %d", r.flows.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
