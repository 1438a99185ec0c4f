package flowgen

import (
	"fmt"
	"net/netip"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// ShopDays is a shop on two consecutive days, for proving that policy
// learned on the first still holds on the second. Between the days
// everything a normal rollout changes does: new pod-template-hash and
// release labels (version, helm.sh/chart, app.kubernetes.io/version), a
// third postgres replica (pod-index 2, postgres-2), new pod addresses, the
// next run of the report and cache-warmer CronJobs (new job-name and
// controller-uid), a new pipeline run-id and Argo Rollouts hash on
// workloads without an app label, and a fresh crowd of internet clients
// at the public ingress. A partner keeps
// calling the orders API from its one fixed address, and an operator and
// Prometheus read the kube-apiserver. Generate each day with its own seed
// and start; the same seeds give the same bytes.
func ShopDays() (day1, day2 *Scenario) { return shopDay(1), shopDay(2) }

// ShopDayPartner is the partner's fixed address, calling orders-api:8443.
func ShopDayPartner() netip.Addr { return netip.MustParseAddr("192.0.2.10") }

func shopDay(day int) *Scenario {
	app := func(name string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"}
	}
	chart := func(name string, minor int) map[string]string {
		return map[string]string{
			"helm.sh/chart":             fmt.Sprintf("%s-1.%d.0", name, minor),
			"app.kubernetes.io/version": fmt.Sprintf("1.%d.0", minor),
		}
	}
	s := &Scenario{
		Name:  fmt.Sprintf("shop-day%d", day),
		Nodes: []string{"shop-worker-1", "shop-worker-2", "shop-worker-3"},
		// Day 2's pods are new pods: none keeps an address of day 1's.
		PodHostOffset: 40 * (day - 1),
	}
	add := func(w Workload) int {
		s.Workloads = append(s.Workloads, w)
		return len(s.Workloads) - 1
	}
	release := []string{"v1", "v2"}[day-1 : day]
	dns := add(Workload{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, Kind: "Deployment", Replicas: 2, VolatileLabels: true})
	ingress := add(Workload{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment", Replicas: 2, VolatileLabels: true,
		Labels:        map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
		ReleaseLabels: chart("ingress-nginx", 10+day)})
	frontend := add(Workload{Namespace: "shop", Name: "frontend", Labels: app("frontend"), Kind: "Deployment", Replicas: 3, Releases: release, VolatileLabels: true, ReleaseLabels: chart("frontend", day)})
	orders := add(Workload{Namespace: "shop", Name: "orders-api", Labels: app("orders-api"), Kind: "Deployment", Replicas: 2, Releases: release, VolatileLabels: true, ReleaseLabels: chart("orders-api", day)})
	payment := add(Workload{Namespace: "shop", Name: "payment", Labels: app("payment"), Kind: "Deployment", Replicas: 1, VolatileLabels: true, ReleaseLabels: chart("payment", day)})
	report := add(Workload{Namespace: "shop", Name: "report", Labels: app("report"), Kind: "Job", Replicas: 1, VolatileLabels: true,
		Run: []string{"29420640", "29422080"}[day-1]})
	postgres := add(Workload{Namespace: "data", Name: "postgres", Kind: "StatefulSet", Replicas: 1 + day, VolatileLabels: true,
		Labels: map[string]string{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "orders"}})
	prometheus := add(Workload{Namespace: "monitoring", Name: "prometheus", Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Kind: "StatefulSet", Replicas: 1, VolatileLabels: true})
	operator := add(Workload{Namespace: "ops", Name: "operator", Labels: map[string]string{"app.kubernetes.io/name": "shop-operator"}, Kind: "Deployment", Replicas: 1, VolatileLabels: true})
	// Two workloads without a preferred selector key, so every label they
	// carry counts unless a rule drops it: a CronJob's run stamped by a
	// deploy pipeline, and an Argo Rollout tagged for Datadog.
	warmer := add(Workload{Namespace: "shop", Name: "cache-warmer", Labels: map[string]string{"component": "cache-warmer"}, Kind: "Job", Replicas: 1, VolatileLabels: true,
		Run:           []string{"29420700", "29422140"}[day-1],
		ReleaseLabels: map[string]string{"skaffold.dev/run-id": []string{"3f0c9a52-1d7e-4c4b-9a8e-2b7d5e0f6a11", "b81e27d4-6c3a-4f0e-8d55-91c4a7e2f3b0"}[day-1]}})
	recommender := add(Workload{Namespace: "shop", Name: "recommender", Labels: map[string]string{"tier": "recommender"}, Kind: "Deployment", Replicas: 2,
		ReleaseLabels: map[string]string{
			"rollouts-pod-template-hash": []string{"6d4cf56db6", "7f8b9c5d4"}[day-1],
			"tags.datadoghq.com/version": fmt.Sprintf("2.%d.0", day),
		}})
	s.DNS = dns

	w := func(i int) Peer { return Peer{Kind: PeerWorkload, Workload: i} }
	ip := netip.MustParseAddr
	internet := Peer{Kind: PeerWorld, IPs: ClientPool(day, 200), InTurn: true}
	partner := Peer{Kind: PeerWorld, IPs: []netip.Addr{ShopDayPartner()}}
	ledger := Peer{Kind: PeerWorld, IPs: []netip.Addr{ip("192.0.2.50")}}
	stripe := Peer{Kind: PeerWorld, DNSName: "api.stripe.com", TTL: 60, IPs: []netip.Addr{ip("203.0.113.20"), ip("203.0.113.21")}}
	bucket := Peer{Kind: PeerWorld, DNSName: "reports.example.com", TTL: 300, IPs: []netip.Addr{ip("198.51.100.80")}}
	api := Peer{Kind: PeerKubeAPIServer}
	tcp := observe.ProtoTCP
	s.Calls = []Call{
		{From: internet, To: w(ingress), Protocol: tcp, Port: 443, PerHour: 120},
		{From: partner, To: w(orders), Protocol: tcp, Port: 8443, PerHour: 30},
		{From: w(ingress), To: w(frontend), Protocol: tcp, Port: 8080, Service: "frontend", ServicePort: 80, PerHour: 120, HTTP: &HTTPCall{"GET", "/"}},
		{From: w(frontend), To: w(orders), Protocol: tcp, Port: 8080, Service: "orders-api", ServicePort: 80, PerHour: 60},
		{From: w(orders), To: w(postgres), Protocol: tcp, Port: 5432, Service: "postgres", ServicePort: 5432, PerHour: 60},
		{From: w(orders), To: w(payment), Protocol: tcp, Port: 50051, Service: "payment", ServicePort: 50051, PerHour: 20},
		{From: w(payment), To: stripe, Protocol: tcp, Port: 443, PerHour: 20},
		{From: w(payment), To: ledger, Protocol: tcp, Port: 8443, PerHour: 6},
		{From: w(report), To: w(postgres), Protocol: tcp, Port: 5432, Service: "postgres", ServicePort: 5432, PerHour: 6},
		{From: w(report), To: bucket, Protocol: tcp, Port: 443, PerHour: 6},
		{From: w(prometheus), To: w(frontend), Protocol: tcp, Port: 9090, PerHour: 30, HTTP: &HTTPCall{"GET", "/metrics"}},
		{From: w(prometheus), To: w(orders), Protocol: tcp, Port: 9090, PerHour: 30, HTTP: &HTTPCall{"GET", "/metrics"}},
		{From: w(prometheus), To: api, Protocol: tcp, Port: 6443, Service: "kubernetes", ServicePort: 443, PerHour: 12},
		{From: w(operator), To: api, Protocol: tcp, Port: 6443, Service: "kubernetes", ServicePort: 443, PerHour: 30},
		{From: w(warmer), To: w(frontend), Protocol: tcp, Port: 8080, Service: "frontend", ServicePort: 80, PerHour: 6},
		{From: w(frontend), To: w(recommender), Protocol: tcp, Port: 8080, Service: "recommender", ServicePort: 80, PerHour: 30},
		{From: Peer{Kind: PeerHost}, To: w(frontend), Protocol: tcp, Port: 8080, PerHour: 60, HTTP: &HTTPCall{"GET", "/healthz"}},
		{From: Peer{Kind: PeerHost}, To: w(orders), Protocol: tcp, Port: 8081, PerHour: 60},
	}
	return s
}

// ClientPool is n addresses of internet clients for a day, spread over
// four networks (198.18.0.0/15 for benchmarking, split in two /16s, and
// the documentation blocks 198.51.100.0/24 and 203.0.113.0/24), none of
// them shared with another day's pool or with a named peer of ShopDays.
// Days 1 to 2 are supported.
func ClientPool(day, n int) []netip.Addr {
	half := byte(128 * (day - 1))
	out := make([]netip.Addr, 0, n)
	for i := 0; i < n; i++ {
		k := i / 4
		switch i % 4 {
		case 0:
			out = append(out, netip.AddrFrom4([4]byte{198, 18, half + byte(k*37%128), byte(1 + k*53%253)}))
		case 1:
			out = append(out, netip.AddrFrom4([4]byte{198, 19, half + byte(k*29%128), byte(1 + k*61%253)}))
		case 2:
			out = append(out, netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + 50*(day-1) + k%50)}))
		default:
			out = append(out, netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + 50*(day-1) + k%50)}))
		}
	}
	return out
}
