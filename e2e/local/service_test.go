//go:build e2elocal

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestServicePortTranslation: a client calls a ClusterIP Service on port
// 80 whose pods listen on 8080; the agent's BPF load-balancer translates
// it (no kube-proxy here). The policy learned from Hubble's flows, which
// show the translated destination, must allow the target port, so the
// call through the Service keeps working under it, and an intruder is
// refused. (A Service port written into a policy would break it.)
func TestServicePortTranslation(t *testing.T) {
	n := theNode.get(t)
	ns := "demo-svc"
	dir := filepath.Join(n.work, "service")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.ensureNamespace(t, ns, nil)
	t.Cleanup(func() {
		for _, p := range n.podsIn(ns) {
			if err := p.remove(); err != nil {
				t.Errorf("remove pod %s: %v", p.key(), err)
			}
		}
	})
	web, err := n.addPod(t, deployment{namespace: ns, name: "web", labels: map[string]string{"app.kubernetes.io/name": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	web.start(t, "serve", "serve", "--http", ":8080", "--name", "web")
	client, err := n.addPod(t, deployment{namespace: ns, name: "client", labels: map[string]string{"app.kubernetes.io/name": "client"}})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := createService(t, n, ns, "web", 80, 8080, web)
	url := "http://" + clusterIP + ":80/"
	err = waitFor(60*time.Second, "client -> Service web "+clusterIP+":80 -> web:8080", func() error {
		_, err := client.exec(10*time.Second, "get", "--timeout", "2s", url)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	step(t, "PASS client -> Service %s:80 answered by web %s:8080 (the agent's BPF service translation)", clusterIP, web.ip)
	client.start(t, "load", "load", "--every", "300ms", url)

	policies := filepath.Join(dir, "policies")
	netpolgen(t, n, "learn", "--server", hubbleAddr, "--duration", "15s", "--namespace", ns,
		"--format", "cilium", "--out", policies, "--quiet", "--kubeconfig", n.kubeconfig)
	yaml, err := os.ReadFile(filepath.Join(policies, ns, "web.yaml"))
	if err != nil {
		t.Fatalf("learn wrote no policy for web: %v", err)
	}
	if !strings.Contains(string(yaml), `port: "8080"`) {
		t.Fatalf("web's learned policy does not allow the target port 8080:\n%s", yaml)
	}
	// Hubble's FROM_ENDPOINT events carry the destination before the
	// translation (the ClusterIP, the Service port, reserved:world). The
	// policy applies to the translated destination, so a rule for those
	// would be excess (internal/cli TestLearnWritesNoRuleForAClusterIP).
	for _, name := range []string{"web.yaml", "client.yaml"} {
		learned, err := os.ReadFile(filepath.Join(policies, ns, name))
		if err != nil {
			t.Fatalf("learn wrote no policy %s: %v", name, err)
		}
		for _, excess := range []string{clusterIP, `port: "80"`} {
			if strings.Contains(string(learned), excess) {
				t.Fatalf("%s allows %s, which only the untranslated trace shows:\n%s", name, excess, learned)
			}
		}
	}
	step(t, "PASS learn wrote no rule for the ClusterIP %s or the Service port 80", clusterIP)
	applied := applyDir(t, n, filepath.Join(policies, ns))
	t.Cleanup(func() { deleteObjects(t, n, applied) })
	intruder, err := n.addPod(t, deployment{namespace: ns, name: "intruder", labels: map[string]string{"app.kubernetes.io/name": "intruder"}})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	err = waitFor(90*time.Second, "the policies to be enforced (intruder refused 3 times in a row)", func() error {
		if _, err := intruder.exec(10*time.Second, "get", "--timeout", "2s", url); err == nil {
			refused = 0
			return errNoFlow
		}
		refused++
		if refused < 3 {
			return errNoFlow
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	step(t, "PASS intruder -> Service %s:80 refused", clusterIP)
	for i := 0; i < 5; i++ {
		if out, err := client.exec(15*time.Second, "get", "--timeout", "5s", url); err != nil {
			t.Fatalf("client -> Service %s:80 broken under the learned policies (attempt %d): %v\n%s", clusterIP, i+1, err, out)
		}
	}
	step(t, "PASS under the learned policies : client -> Service %s:80 -> web:8080, 5/5", clusterIP)
}

// createService creates a ClusterIP Service and the EndpointSlice the
// endpoint-slice controller (not running here) would write for it.
func createService(t *testing.T, n *node, ns, name string, port, target int32, pods ...*pod) string {
	t.Helper()
	ctx := context.Background()
	svc, err := n.cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	ready := true
	portName, proto := "http", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &target, Protocol: &proto}},
	}
	node := nodeName
	for _, p := range pods {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &node,
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.name},
		})
	}
	if _, err := n.cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the endpoint slice of %s/%s: %v", ns, name, err)
	}
	// A call before the agent has the frontend goes out untranslated, to
	// an address that is world: real traffic learn would rightly keep.
	err = waitFor(30*time.Second, fmt.Sprintf("the agent's load-balancer to have %s:%d", svc.Spec.ClusterIP, port), func() error {
		return agentHasFrontend(svc.Spec.ClusterIP, uint16(port), len(pods))
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc.Spec.ClusterIP
}

// agentHasFrontend asks the agent's API (GET /v1/service on its socket)
// whether it load-balances ip:port to the given number of backends.
func agentHasFrontend(ip string, port uint16, backends int) error {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", agentSocket)
		},
	}}
	resp, err := c.Get("http://cilium-agent/v1/service")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/service: %s", resp.Status)
	}
	var services []struct {
		Spec struct {
			Frontend struct {
				IP   string `json:"ip"`
				Port uint16 `json:"port"`
			} `json:"frontend-address"`
			Backends []json.RawMessage `json:"backend-addresses"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&services); err != nil {
		return fmt.Errorf("GET /v1/service: %w", err)
	}
	for _, s := range services {
		if s.Spec.Frontend.IP == ip && s.Spec.Frontend.Port == port {
			if len(s.Spec.Backends) < backends {
				return fmt.Errorf("%s:%d has %d backends, want %d", ip, port, len(s.Spec.Backends), backends)
			}
			return nil
		}
	}
	return fmt.Errorf("no frontend %s:%d among %d services", ip, port, len(services))
}
