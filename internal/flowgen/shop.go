package flowgen

import (
	"net/netip"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Shop is the bundled example: an online shop over four namespaces, with
// the traffic shapes that trip policy generators up: rollouts with
// per-release labels, Service ports that differ from target ports, DNS,
// egress by name and by address, kubelet probes, a workload reading the
// kube-apiserver, metrics over UDP above 1023, ingress from the internet,
// a call that policy drops, and agents that omit is_reply.
func Shop() *Scenario {
	app := func(name string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"}
	}
	s := &Scenario{
		Name:       "shop",
		Nodes:      []string{"shop-worker-1", "shop-worker-2", "shop-worker-3"},
		LostEvents: 1,
	}
	add := func(w Workload) int {
		s.Workloads = append(s.Workloads, w)
		return len(s.Workloads) - 1
	}
	dns := add(Workload{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, Kind: "Deployment", Replicas: 2})
	ingress := add(Workload{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}, Kind: "Deployment", Replicas: 2})
	frontend := add(Workload{Namespace: "shop", Name: "frontend", Labels: app("frontend"), Kind: "Deployment", Replicas: 3, Releases: []string{"v1", "v2"}, VolatileLabels: true})
	cart := add(Workload{Namespace: "shop", Name: "cart", Labels: app("cart"), Kind: "Deployment", Replicas: 2})
	catalog := add(Workload{Namespace: "shop", Name: "catalog", Labels: app("catalog"), Kind: "Deployment", Replicas: 2, Releases: []string{"v3"}})
	checkout := add(Workload{Namespace: "shop", Name: "checkout", Labels: app("checkout"), Kind: "Deployment", Replicas: 1})
	payment := add(Workload{Namespace: "shop", Name: "payment", Labels: app("payment"), Kind: "Deployment", Replicas: 2})
	debug := add(Workload{Namespace: "shop", Name: "debug-shell", Labels: map[string]string{"run": "debug-shell"}, Kind: "Deployment", Replicas: 1})
	redis := add(Workload{Namespace: "data", Name: "redis", Labels: map[string]string{"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "cart-cache"}, Kind: "StatefulSet", Replicas: 1, VolatileLabels: true})
	postgres := add(Workload{Namespace: "data", Name: "postgres", Labels: map[string]string{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "orders"}, Kind: "StatefulSet", Replicas: 2, VolatileLabels: true})
	prometheus := add(Workload{Namespace: "monitoring", Name: "prometheus", Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Kind: "StatefulSet", Replicas: 1})
	statsd := add(Workload{Namespace: "monitoring", Name: "statsd-exporter", Labels: map[string]string{"app": "statsd-exporter"}, Kind: "Deployment", Replicas: 1})

	w := func(i int) Peer { return Peer{Kind: PeerWorkload, Workload: i} }
	ip := netip.MustParseAddr
	stripe := Peer{Kind: PeerWorld, DNSName: "api.stripe.com", TTL: 60, IPs: []netip.Addr{ip("203.0.113.20"), ip("203.0.113.21")}}
	images := Peer{Kind: PeerWorld, DNSName: "images.example.com", TTL: 300, IPs: []netip.Addr{ip("198.51.100.80")}}
	ledger := Peer{Kind: PeerWorld, IPs: []netip.Addr{ip("192.0.2.10")}} // a partner address with no DNS name
	internet := Peer{Kind: PeerWorld, IPs: []netip.Addr{ip("198.51.100.7"), ip("203.0.113.99")}}
	tcp, udp := observe.ProtoTCP, observe.ProtoUDP

	s.Calls = []Call{
		{From: internet, To: w(ingress), Protocol: tcp, Port: 443, PerHour: 120},
		{From: w(ingress), To: w(frontend), Protocol: tcp, Port: 8080, Service: "frontend", ServicePort: 80, PerHour: 120, HTTP: &HTTPCall{"GET", "/"}},
		{From: w(frontend), To: w(cart), Protocol: tcp, Port: 8080, Service: "cart", ServicePort: 80, PerHour: 60, HTTP: &HTTPCall{"GET", "/api/cart"}},
		{From: w(frontend), To: w(catalog), Protocol: tcp, Port: 8080, Service: "catalog", ServicePort: 80, PerHour: 90, NoIsReply: true},
		{From: w(frontend), To: w(checkout), Protocol: tcp, Port: 8443, Service: "checkout", ServicePort: 443, PerHour: 20},
		{From: w(frontend), To: w(statsd), Protocol: udp, Port: 9125, Service: "statsd-exporter", ServicePort: 9125, PerHour: 60, OneWay: true},
		{From: w(cart), To: w(redis), Protocol: tcp, Port: 6379, Service: "redis", ServicePort: 6379, PerHour: 60},
		{From: w(catalog), To: w(postgres), Protocol: tcp, Port: 5432, Service: "postgres", ServicePort: 5432, PerHour: 30, NoIsReply: true},
		{From: w(catalog), To: images, Protocol: tcp, Port: 443, PerHour: 12},
		{From: w(checkout), To: w(payment), Protocol: tcp, Port: 50051, Service: "payment", ServicePort: 50051, PerHour: 20},
		{From: w(checkout), To: w(postgres), Protocol: tcp, Port: 5432, Service: "postgres", ServicePort: 5432, PerHour: 20},
		{From: w(payment), To: stripe, Protocol: tcp, Port: 443, PerHour: 20},
		{From: w(payment), To: ledger, Protocol: tcp, Port: 8443, PerHour: 4},
		{From: w(prometheus), To: w(frontend), Protocol: tcp, Port: 9090, PerHour: 30, HTTP: &HTTPCall{"GET", "/metrics"}},
		{From: w(prometheus), To: w(cart), Protocol: tcp, Port: 9090, PerHour: 30, HTTP: &HTTPCall{"GET", "/metrics"}},
		{From: w(prometheus), To: w(redis), Protocol: tcp, Port: 9121, PerHour: 30},
		{From: w(prometheus), To: Peer{Kind: PeerKubeAPIServer}, Protocol: tcp, Port: 6443, Service: "kubernetes", ServicePort: 443, PerHour: 12},
		{From: Peer{Kind: PeerHost}, To: w(frontend), Protocol: tcp, Port: 8080, PerHour: 60, HTTP: &HTTPCall{"GET", "/healthz"}},
		{From: Peer{Kind: PeerHost}, To: w(cart), Protocol: tcp, Port: 8081, PerHour: 60},
		{From: Peer{Kind: PeerHost}, To: w(dns), Protocol: tcp, Port: 8181, PerHour: 60, HTTP: &HTTPCall{"GET", "/ready"}},
		{From: w(debug), To: w(postgres), Protocol: tcp, Port: 5432, Service: "postgres", ServicePort: 5432, PerHour: 3, Denied: true},
	}
	// DNS lookups are derived from the calls: every client of a Service or
	// a named world peer resolves it through this workload first.
	s.DNS = dns
	return s
}
