package flowgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// LargeConfig sizes a synthetic large cluster.
type LargeConfig struct {
	Seed       uint64
	Namespaces int
	Workloads  int
	Nodes      int
	// MeanFanOut is the average number of services a workload calls; the
	// number per workload follows a power law, so a few call many.
	MeanFanOut float64
	// CrossNamespace is the share of calls that leave the caller's namespace.
	CrossNamespace float64
}

// DefaultLargeConfig returns a cluster of the given size with the shape
// large clusters have: a heavy-tailed fan-out, a fifth of the calls across
// namespaces, a node per 50 workloads.
func DefaultLargeConfig(namespaces, workloads int) LargeConfig {
	return LargeConfig{
		Seed: 1, Namespaces: namespaces, Workloads: workloads,
		Nodes: max(3, workloads/50), MeanFanOut: 3, CrossNamespace: 0.2,
	}
}

// Large builds a scenario of cfg's size: namespaces of microservices with
// replicas and rollouts, callers chosen by a power law (popular services
// get most callers), DNS through kube-dns, egress to named and unnamed
// world peers, kubelet probes, the apiserver, policy drops and flows
// without is_reply.
func Large(cfg LargeConfig) (*Scenario, error) {
	if cfg.Namespaces < 1 || cfg.Workloads < cfg.Namespaces || cfg.Nodes < 1 || cfg.MeanFanOut <= 0 {
		return nil, fmt.Errorf("large scenario: need namespaces >= 1, workloads >= namespaces, nodes >= 1 and a positive fan-out (got %+v)", cfg)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d))
	s := &Scenario{Name: fmt.Sprintf("large-%dns-%dwl", cfg.Namespaces, cfg.Workloads), LostEvents: 2}
	for i := 0; i < cfg.Nodes; i++ {
		s.Nodes = append(s.Nodes, fmt.Sprintf("node-%04d", i))
	}
	s.Workloads = append(s.Workloads, Workload{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, Kind: "Deployment", Replicas: 2})
	s.DNS = 0
	byNamespace := make([][]int, cfg.Namespaces)
	for i := 0; i < cfg.Workloads; i++ {
		ns := i % cfg.Namespaces
		name := fmt.Sprintf("svc-%05d", i)
		w := Workload{
			Namespace: fmt.Sprintf("team-%03d", ns), Name: name,
			Labels:   map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": fmt.Sprintf("team-%03d", ns)},
			Kind:     "Deployment",
			Replicas: 1 + rng.IntN(3),
		}
		switch r := rng.IntN(10); {
		case r == 0:
			w.Kind, w.VolatileLabels = "StatefulSet", true
		case r < 3:
			w.Releases = []string{"v1", "v2"}
			w.VolatileLabels = true
		}
		s.Workloads = append(s.Workloads, w)
		byNamespace[ns] = append(byNamespace[ns], len(s.Workloads)-1)
	}
	popularity := newZipf(rng, cfg.Workloads)
	for caller := 1; caller <= cfg.Workloads; caller++ {
		callerNS := (caller - 1) % cfg.Namespaces
		seen := map[int]bool{caller: true}
		for k := powerLawCount(rng, cfg.MeanFanOut); k > 0; k-- {
			var callee int
			if rng.Float64() < cfg.CrossNamespace || len(byNamespace[callerNS]) < 2 {
				callee = 1 + popularity.next()
			} else {
				local := byNamespace[callerNS]
				callee = local[min(len(local)-1, popularity.nextIn(len(local)))]
			}
			if seen[callee] {
				continue
			}
			seen[callee] = true
			port := uint16(8080)
			if callee%7 == 0 {
				port = 9000 + uint16(callee%500)
			}
			c := Call{
				From: Peer{Kind: PeerWorkload, Workload: caller}, To: Peer{Kind: PeerWorkload, Workload: callee},
				Protocol: observe.ProtoTCP, Port: port, Service: s.Workloads[callee].Name, ServicePort: 80,
				PerHour: 4 + float64(rng.IntN(60)), NoIsReply: rng.IntN(10) == 0,
			}
			if callee%11 == 0 {
				c.Protocol, c.OneWay, c.NoIsReply = observe.ProtoUDP, true, false
			}
			s.Calls = append(s.Calls, c)
		}
		switch rng.IntN(20) {
		case 0: // egress to a named external API
			s.Calls = append(s.Calls, Call{From: Peer{Kind: PeerWorkload, Workload: caller}, Protocol: observe.ProtoTCP, Port: 443, PerHour: 6,
				To: Peer{Kind: PeerWorld, DNSName: fmt.Sprintf("api%d.example.com", caller%50), TTL: 60, IPs: []netip.Addr{worldIP(caller % 50)}}})
		case 1: // egress to an address with no name
			s.Calls = append(s.Calls, Call{From: Peer{Kind: PeerWorkload, Workload: caller}, Protocol: observe.ProtoTCP, Port: 5432, PerHour: 6,
				To: Peer{Kind: PeerWorld, IPs: []netip.Addr{worldIP(100 + caller%20)}}})
		case 2:
			s.Calls = append(s.Calls, Call{From: Peer{Kind: PeerWorkload, Workload: caller}, To: Peer{Kind: PeerKubeAPIServer}, Protocol: observe.ProtoTCP, Port: 6443, Service: "kubernetes", ServicePort: 443, PerHour: 4})
		case 3: // a call policy drops
			s.Calls = append(s.Calls, Call{From: Peer{Kind: PeerWorkload, Workload: caller}, To: Peer{Kind: PeerWorkload, Workload: 1 + popularity.next()}, Protocol: observe.ProtoTCP, Port: 22, PerHour: 2, Denied: true})
		}
		// Every workload is probed by its kubelet.
		s.Calls = append(s.Calls, Call{From: Peer{Kind: PeerHost}, To: Peer{Kind: PeerWorkload, Workload: caller}, Protocol: observe.ProtoTCP, Port: 8081, PerHour: 6})
	}
	return s, s.Validate()
}

// worldIP is a stable documentation-range address (198.18.0.0/15) for an
// external peer.
func worldIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(1 + i%254)})
}

// powerLawCount draws a count >= 1 from a Pareto distribution with the
// given mean (shape 2), capped so one caller cannot call everything.
func powerLawCount(rng *rand.Rand, mean float64) int {
	const shape = 2.0
	scale := mean * (shape - 1) / shape
	x := scale / math.Pow(1-rng.Float64(), 1/shape)
	return max(1, min(int(x), 200))
}

// zipf picks indexes with probability falling as a power of their rank, so
// a few services are called by many workloads.
type zipf struct {
	z   *rand.Zipf
	rng *rand.Rand
	n   int
}

func newZipf(rng *rand.Rand, n int) *zipf {
	return &zipf{z: rand.NewZipf(rng, 1.2, 4, uint64(n-1)), rng: rng, n: n}
}

// next returns an index in [0, n).
func (z *zipf) next() int { return int(z.z.Uint64()) }

// nextIn returns an index in [0, m), m <= n, with the same skew.
func (z *zipf) nextIn(m int) int { return int(z.z.Uint64()) % m }
