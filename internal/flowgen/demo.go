package flowgen

import "github.com/netpolgen/netpolgen/pkg/observe"

// Demo mirrors the demo app in examples/demo-app that the kind e2e suite
// deploys: loadgen calls frontend, which calls backend over TCP and UDP.
// Policies learned from it must select the pods those manifests create.
func Demo() *Scenario {
	s := &Scenario{Name: "demo", Nodes: []string{"netpolgen-e2e-worker", "netpolgen-e2e-worker2"}}
	add := func(w Workload) int {
		s.Workloads = append(s.Workloads, w)
		return len(s.Workloads) - 1
	}
	dns := add(Workload{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, Kind: "Deployment", Replicas: 2})
	frontend := add(Workload{Namespace: "demo", Name: "frontend", Labels: map[string]string{"app.kubernetes.io/name": "frontend"}, Kind: "Deployment", Replicas: 2, Releases: []string{"v1"}, VolatileLabels: true})
	backend := add(Workload{Namespace: "demo", Name: "backend", Labels: map[string]string{"app.kubernetes.io/name": "backend"}, Kind: "Deployment", Replicas: 2, VolatileLabels: true})
	loadgen := add(Workload{Namespace: "demo", Name: "loadgen", Labels: map[string]string{"app.kubernetes.io/name": "loadgen"}, Kind: "Deployment", Replicas: 1, VolatileLabels: true})
	s.DNS = dns
	w := func(i int) Peer { return Peer{Kind: PeerWorkload, Workload: i} }
	tcp, udp := observe.ProtoTCP, observe.ProtoUDP
	s.Calls = []Call{
		{From: w(loadgen), To: w(frontend), Protocol: tcp, Port: 8080, Service: "frontend", ServicePort: 80, PerHour: 3600, HTTP: &HTTPCall{"GET", "/hostname"}},
		{From: w(frontend), To: w(backend), Protocol: tcp, Port: 9090, Service: "backend", ServicePort: 9090, PerHour: 1800},
		{From: w(frontend), To: w(backend), Protocol: udp, Port: 9125, Service: "backend", ServicePort: 9125, PerHour: 1800},
		{From: Peer{Kind: PeerHost}, To: w(frontend), Protocol: tcp, Port: 8080, PerHour: 360, HTTP: &HTTPCall{"GET", "/healthz"}},
	}
	return s
}
