package drift

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/netpolgen/netpolgen/internal/testenv"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// apiserver is a real kube-apiserver (with Cilium's CRDs) shared by this
// package's integration tests; they skip when its binaries are not built.
var apiserver = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(apiserver.Main(m)) }

// deployManifests are the objects of deploy/rbac.yaml and deploy/drift.
func deployManifests(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	root := filepath.Join("..", "..", "deploy")
	files := []string{filepath.Join(root, "rbac.yaml")}
	for _, name := range []string{"namespace.yaml", "serviceaccount.yaml", "pvc.yaml", "deployment.yaml", "service.yaml"} {
		files = append(files, filepath.Join(root, "drift", name))
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objectsOf(t, data)...)
	}
	return out
}

// TestDeployManifestsPassServerSideDryRun sends every manifest to the
// apiserver as a strict server-side apply with dryRun=All, and the drift
// pod itself as a dry-run create in a namespace enforcing the restricted
// Pod Security profile: non-root, read-only root filesystem, no
// capabilities, or the apiserver refuses it.
func TestDeployManifestsPassServerSideDryRun(t *testing.T) {
	env := apiserver.Start(t)
	ns, err := os.ReadFile(filepath.Join("..", "..", "deploy", "drift", "namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env.Apply(t, string(ns)) // namespaced objects are dry-run into it
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	force := true
	var deployment *unstructured.Unstructured
	for _, obj := range deployManifests(t) {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk.Kind, obj.GetName(), err)
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			res = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		data, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		_, err = res.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: "netpolgen-deploy-test", FieldValidation: "Strict", Force: &force})
		if err != nil {
			t.Errorf("%s %s/%s: server-side dry-run: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		if gvk.Kind == "Deployment" {
			deployment = obj
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment in deploy/drift")
	}
	tmpl, _, _ := unstructured.NestedMap(deployment.Object, "spec", "template")
	raw, _ := json.Marshal(tmpl)
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Name, pod.Namespace = "drift-dry-run", deployment.GetNamespace()
	typed := corev1Client(t, env.Config)
	if _, err := typed.Pods(pod.Namespace).Create(ctx, &pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the drift pod in a restricted namespace: %v", err)
	}
	// The check can fail: a root pod is refused.
	root := pod.DeepCopy()
	no := false
	root.Spec.SecurityContext.RunAsNonRoot = &no
	if _, err := typed.Pods(pod.Namespace).Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
		t.Error("a pod that may run as root was accepted: the namespace does not enforce the restricted profile")
	}
}

// TestClusterSourceFollowsTheAPIServer runs drift against a real
// apiserver as deploy/drift's ServiceAccount, with only the binding
// deploy/drift ships: the learned policies are applied, the two drift
// connections are uncovered, and applying the suggested patch resolves one
// without a restart. A ServiceAccount without the binding cannot start.
func TestClusterSourceFollowsTheAPIServer(t *testing.T) {
	env := apiserver.Start(t)
	fx := shopBaseline(t, synth.FormatCilium)
	captured := fx.write(t, "both.json", fx.baseline, fx.driftFlows(t))

	var manifests bytes.Buffer
	for _, ns := range []string{"shop", "data", "monitoring", "ingress-nginx"} {
		manifests.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n---\n")
	}
	for _, f := range []string{"drift/namespace.yaml", "rbac.yaml", "drift/serviceaccount.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		manifests.Write(data)
		manifests.WriteString("\n---\n")
	}
	for _, obj := range policyObjects(t, fx.policies) {
		data, err := yaml.Marshal(obj.(*unstructured.Unstructured).Object)
		if err != nil {
			t.Fatal(err)
		}
		manifests.Write(data)
		manifests.WriteString("---\n")
	}
	env.Apply(t, manifests.String())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := NewClusterSource(ctx, serviceAccountClient(t, env.Config, "nobody"), "test apiserver", 2*time.Second); err == nil {
		t.Fatal("a ServiceAccount bound to nothing could list the policies")
	}
	reader := serviceAccountClient(t, env.Config, "netpolgen-drift")
	policies, err := NewClusterSource(ctx, reader, "test apiserver", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(Options{
		Open: func(context.Context, time.Time, SourceHooks) (observe.Source, error) {
			return heldSource{capture.NewSource([]string{captured}, capture.Options{Strict: true})}, nil
		},
		Follow: true, Policies: policies, Interval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx); done <- err }()

	rep := waitFor(t, r, "both drift findings", func(rep *Report) bool {
		return len(rep.Uncovered) == 2 && rep.Policies.CiliumNetworkPolicies > 0
	})
	var patch string
	for _, f := range rep.Uncovered {
		if strings.Contains(f.Key, "checkout>shop/cart") {
			patch = f.Patch
		}
	}
	env.Apply(t, patch) // the apiserver validates it against Cilium's CRD schema
	waitFor(t, r, "the patched connection resolved", func(rep *Report) bool {
		return len(rep.Uncovered) == 1 && strings.Contains(rep.Uncovered[0].Key, "debug-shell")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func corev1Client(t *testing.T, cfg *rest.Config) corev1client.CoreV1Interface {
	t.Helper()
	c, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serviceAccountClient acts as a ServiceAccount of the netpolgen namespace.
func serviceAccountClient(t *testing.T, admin *rest.Config, name string) dynamic.Interface {
	t.Helper()
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:netpolgen:" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:netpolgen", "system:authenticated"},
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
