package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestExposuresResolveToWorkloadPorts reads exposures from a fake API:
// LoadBalancer and NodePort Services, an Ingress backend by port name and
// an HTTPRoute backend by port number become exposures of the workloads
// their Services select, on the pods' target ports (a named one through
// the pods' container ports); a ClusterIP Service nothing routes to does
// not, nor a Service port no route names.
func TestExposuresResolveToWorkloadPorts(t *testing.T) {
	ns := "shop"
	pod := func(name string, labels map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	svc := func(name string, typ corev1.ServiceType, sel map[string]string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: typ, Selector: sel, Ports: ports}}
	}
	web, api, db, admin := map[string]string{"app": "web"}, map[string]string{"app": "api"}, map[string]string{"app": "db"}, map[string]string{"app": "admin"}
	typed := fake.NewClientset(
		pod("web-1", map[string]string{"app": "web", "pod-template-hash": "5d8f"}, corev1.ContainerPort{Name: "https", ContainerPort: 8443}),
		pod("api-1", api), pod("db-1", db), pod("admin-1", admin),
		svc("web-lb", corev1.ServiceTypeLoadBalancer, web, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromString("https")}),
		svc("web-np", corev1.ServiceTypeNodePort, web, corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}),
		svc("api", corev1.ServiceTypeClusterIP, api,
			corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(9000)},
			corev1.ServicePort{Name: "admin", Port: 81, TargetPort: intstr.FromInt32(9001)}),
		svc("admin", corev1.ServiceTypeClusterIP, admin, corev1.ServicePort{Port: 8080}),
		svc("db", corev1.ServiceTypeClusterIP, db, corev1.ServicePort{Port: 5432}),
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site"}, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/api", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "api", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
			}}}},
		}}}},
	)
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"namespace": ns, "name": "admin"},
		"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{
			map[string]any{"name": "admin", "port": int64(8080)},
			map[string]any{"kind": "ServiceImport", "group": "multicluster.x-k8s.io", "name": "db", "port": int64(5432)},
		}}}},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{httpRouteResource: "HTTPRouteList"}, route)
	c := &Client{typed: typed, dynamic: dyn, where: "fake"}

	exposures, notes := c.exposures(context.Background())
	if len(notes) != 0 {
		t.Errorf("notes %q, want none", notes)
	}
	pods, err := c.pods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{Pods: NewPodIndex(pods), Exposures: exposures}
	g := &synth.Graph{}
	for _, name := range []string{"web", "api", "db", "admin"} {
		g.Workloads = append(g.Workloads, synth.Workload{WorkloadRef: synth.WorkloadRef{Namespace: ns, Name: name}, Selector: map[string]string{"app": name}})
	}
	if notes := FillExposures(g, snap); len(notes) != 0 {
		t.Errorf("FillExposures notes %q, want none", notes)
	}
	var got []string
	for _, x := range g.Exposures {
		got = append(got, fmt.Sprintf("%s %s by %s", x.Workload, x.Port, x.By))
	}
	want := []string{
		"shop/admin 8080/TCP by HTTPRoute shop/admin -> Service shop/admin",
		"shop/api 9000/TCP by Ingress shop/site -> Service shop/api",
		"shop/web 8080/TCP by Service shop/web-np (NodePort)",
		"shop/web 8443/TCP by Service shop/web-lb (LoadBalancer)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exposures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
