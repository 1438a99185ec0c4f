package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

const exposedShop = `
apiVersion: v1
kind: Namespace
metadata: {name: expo-shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: expo-shop, labels: {app: web, pod-template-hash: 5d8f}}
spec:
  containers:
  - name: web
    image: example.invalid/web
    ports: [{name: https, containerPort: 8443}, {name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: expo-shop, labels: {app: api}}
spec: {containers: [{name: api, image: example.invalid/api}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: expo-shop, labels: {app: db}}
spec: {containers: [{name: db, image: example.invalid/db}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: expo-shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: https, port: 443, targetPort: https}]
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: expo-shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: expo-shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 9000}, {name: admin, port: 81, targetPort: 9001}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, namespace: expo-shop}
spec:
  rules:
  - http:
      paths:
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: expo-shop}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
`

// TestExposuresFromServicesAndIngresses: LoadBalancer and NodePort
// Services and an Ingress's backend make their pods' target ports (named
// ones resolved through the pods' container ports) evidence of public
// endpoints; a ClusterIP Service and an Ingress-less port do not.
func TestExposuresFromServicesAndIngresses(t *testing.T) {
	env := apiserver.Start(t)
	env.Apply(t, exposedShop)
	c, err := cluster.NewClient(env.Config, "test admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g := &synth.Graph{Workloads: []synth.Workload{
		{WorkloadRef: synth.WorkloadRef{Namespace: "expo-shop", Name: "web"}, Selector: map[string]string{"app": "web"}},
		{WorkloadRef: synth.WorkloadRef{Namespace: "expo-shop", Name: "api"}, Selector: map[string]string{"app": "api"}},
		{WorkloadRef: synth.WorkloadRef{Namespace: "expo-shop", Name: "db"}, Selector: map[string]string{"app": "db"}},
	}}
	notes := cluster.FillExposures(g, snap)
	var got []string
	for _, x := range g.Exposures {
		got = append(got, fmt.Sprintf("%s %s by %s", x.Workload, x.Port, x.By))
	}
	want := []string{
		"expo-shop/api 9000/TCP by Ingress expo-shop/site -> Service expo-shop/api",
		"expo-shop/web 8080/TCP by Service expo-shop/web-nodeport (NodePort)",
		"expo-shop/web 8443/TCP by Service expo-shop/web-lb (LoadBalancer)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exposures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range notes {
		if !strings.Contains(n, "HTTPRoute") {
			t.Errorf("unexpected note %q", n)
		}
	}
}
