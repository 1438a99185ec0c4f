package flowgen

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Options tunes one generated capture.
type Options struct {
	Seed     uint64
	Start    time.Time
	Duration time.Duration
	// Camel writes lowerCamel keys instead of Hubble's snake_case.
	Camel bool
	// MaxFlows, when positive, ends the capture once that many flows are
	// written; Duration may then be zero for "as long as it takes".
	MaxFlows uint64
}

// DefaultStart is the capture start used when Options.Start is zero, so a
// seed alone fixes every byte of the output.
func DefaultStart() time.Time { return time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC) }

// Generate writes the scenario's traffic over opts.Duration to w, one
// GetFlowsResponse JSON object per line, and returns what it meant. Memory
// stays proportional to the scenario, not to the capture's length.
func Generate(s *Scenario, opts Options, w io.Writer) (*Truth, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.Duration < 0 || (opts.Duration == 0 && opts.MaxFlows == 0):
		return nil, fmt.Errorf("generate %q: give a positive duration or a flow count", s.Name)
	case opts.Duration == 0:
		opts.Duration = 100 * 365 * 24 * time.Hour
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart()
	}
	g := newGen(s, opts, w)
	if err := g.run(); err != nil {
		return nil, err
	}
	if err := g.out.Flush(); err != nil {
		return nil, err
	}
	return &Truth{Scenario: s.Name, Seed: int64(opts.Seed), Flows: g.flows, LostEvents: g.lost, Connections: truthOf(s), L7: l7TruthOf(s)}, nil
}

// pod is one replica of a workload, as Hubble would name it.
type pod struct {
	ip   netip.Addr
	node int
	ep   observe.Endpoint
}

type gen struct {
	s    *Scenario
	opts Options
	rng  *rand.Rand
	out  *bufio.Writer
	enc  encoder

	pods       [][]pod // by workload
	nodeIPs    []netip.Addr
	serviceIPs map[string]netip.Addr
	// turns is the next address of each InTurn world peer, by its IPs.
	turns     map[*netip.Addr]int
	apiserver netip.Addr
	flows     uint64
	lost      uint64
}

func newGen(s *Scenario, opts Options, w io.Writer) *gen {
	g := &gen{
		s: s, opts: opts,
		rng:        rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		out:        bufio.NewWriterSize(w, 1<<20),
		enc:        encoder{camel: opts.Camel},
		serviceIPs: map[string]netip.Addr{},
		turns:      map[*netip.Addr]int{},
		apiserver:  netip.AddrFrom4([4]byte{172, 18, 0, 2}),
	}
	for i := range s.Nodes {
		g.nodeIPs = append(g.nodeIPs, netip.AddrFrom4([4]byte{172, 18, 0, byte(10 + i)}))
	}
	g.makePods()
	return g
}

// makePods names every replica, spreads them over nodes and gives them
// Cilium identities: one per distinct label set, as the agent allocates.
func (g *gen) makePods() {
	identities := map[string]uint32{}
	// Endpoint IDs are unique per agent, so per node (at most 253 pods
	// there, against 4095 IDs).
	usedIDs := map[[2]int]bool{}
	hostPart := make([]int, len(g.s.Nodes))
	g.pods = make([][]pod, len(g.s.Workloads))
	for wi, w := range g.s.Workloads {
		hashes := map[string]string{}
		jobUID := ""
		if w.Kind == "Job" {
			jobUID = g.uid()
		}
		for r := 0; r < w.Replicas; r++ {
			release := ""
			if len(w.Releases) > 0 {
				release = w.Releases[r%len(w.Releases)]
			}
			if _, ok := hashes[release]; !ok {
				hashes[release] = g.token(10)
			}
			name := g.podName(w, r, hashes[release])
			node := (wi + r) % len(g.s.Nodes)
			for hostPart[node] >= maxPodsPerNode-g.s.PodHostOffset {
				node = (node + 1) % len(g.s.Nodes)
			}
			hostPart[node]++
			labels := podLabels(w, release, hashes[release], name, r)
			if w.Kind == "Job" {
				labels = jobLabels(labels, w, jobUID)
			}
			key := strings.Join(labels, ",")
			id, ok := identities[key]
			if !ok {
				id = uint32(10000 + len(identities)*7 + g.rng.IntN(7))
				identities[key] = id
			}
			epID := 1 + g.rng.IntN(4095)
			for usedIDs[[2]int{node, epID}] {
				epID = 1 + g.rng.IntN(4095)
			}
			usedIDs[[2]int{node, epID}] = true
			g.pods[wi] = append(g.pods[wi], pod{
				ip:   podIP(node, g.s.PodHostOffset+hostPart[node]),
				node: node,
				ep: observe.Endpoint{
					ID: uint32(epID), Identity: id, Namespace: w.Namespace, PodName: name, Labels: labels,
					Workloads: []observe.Workload{{Name: w.Name, Kind: w.Kind}},
				},
			})
		}
	}
}

// maxPodsPerNode is what one node's /24 pod CIDR holds.
const maxPodsPerNode = 253

// podIP gives node n the pod CIDR 10.(244+n/256).(n%256).0/24, as kind
// and kubeadm hand out /24s from 10.244.0.0/16 and up.
func podIP(node, k int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(244 + node/256), byte(node % 256), byte(k + 1)})
}

func (g *gen) podName(w Workload, replica int, hash string) string {
	switch w.Kind {
	case "StatefulSet":
		return fmt.Sprintf("%s-%d", w.Name, replica)
	case "DaemonSet":
		return fmt.Sprintf("%s-%s", w.Name, g.token(5))
	case "Job":
		return fmt.Sprintf("%s-%s-%s", w.Name, w.Run, g.token(5))
	}
	return fmt.Sprintf("%s-%s-%s", w.Name, hash, g.token(5))
}

// podLabels lists a pod's labels as Cilium reports them, sorted.
func podLabels(w Workload, release, hash, podName string, replica int) []string {
	var labels []string
	for _, k := range sortedKeys(w.Labels) {
		labels = append(labels, "k8s:"+k+"="+w.Labels[k])
	}
	if release != "" {
		labels = append(labels, "k8s:version="+release)
	}
	for _, k := range sortedKeys(w.ReleaseLabels) {
		labels = append(labels, "k8s:"+k+"="+w.ReleaseLabels[k])
	}
	if w.VolatileLabels {
		switch w.Kind {
		case "StatefulSet":
			labels = append(labels,
				"k8s:statefulset.kubernetes.io/pod-name="+podName,
				fmt.Sprintf("k8s:apps.kubernetes.io/pod-index=%d", replica),
				"k8s:controller-revision-hash="+w.Name+"-"+hash)
		default:
			labels = append(labels, "k8s:pod-template-hash="+hash)
		}
	}
	labels = append(labels,
		"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name="+w.Namespace,
		"k8s:io.cilium.k8s.policy.cluster=default",
		"k8s:io.cilium.k8s.policy.serviceaccount="+w.serviceAccount(),
		"k8s:io.kubernetes.pod.namespace="+w.Namespace)
	sort.Strings(labels)
	return labels
}

// jobLabels adds what the Job controller stamps on a run's pods: the
// Job's name and UID, in the legacy and the batch.kubernetes.io keys.
// One uid per Job: all of a run's pods share it.
func jobLabels(labels []string, w Workload, uid string) []string {
	job := w.Name + "-" + w.Run
	labels = append(labels,
		"k8s:batch.kubernetes.io/controller-uid="+uid,
		"k8s:batch.kubernetes.io/job-name="+job,
		"k8s:controller-uid="+uid,
		"k8s:job-name="+job)
	sort.Strings(labels)
	return labels
}

// uid is a random UUID-shaped string, as the API server assigns.
func (g *gen) uid() string {
	const hex = "0123456789abcdef"
	b := []byte("xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx")
	for i := range b {
		if b[i] == 'x' {
			b[i] = hex[g.rng.IntN(16)]
		}
	}
	return string(b)
}

// token is a Kubernetes-style random name suffix.
func (g *gen) token(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// run schedules every call's connections over the window, earliest first.
func (g *gen) run() error {
	end := g.opts.Start.Add(g.opts.Duration)
	q := &schedule{}
	for i, c := range g.s.Calls {
		first := g.opts.Start.Add(time.Duration(g.rng.Float64() * float64(interval(c))))
		heap.Push(q, event{at: first, call: i})
	}
	// Lost-event notices fall at random points of the capture's progress,
	// measured in time or, for a flow-count capture, in flows.
	lostAt := make([]float64, g.s.LostEvents)
	for i := range lostAt {
		lostAt[i] = g.rng.Float64()
	}
	sort.Float64s(lostAt)
	for q.Len() > 0 && !g.full() {
		ev := heap.Pop(q).(event)
		if ev.at.After(end) {
			continue
		}
		for len(lostAt) > 0 && g.progress(ev.at) >= lostAt[0] {
			g.lostNotice(ev.at)
			lostAt = lostAt[1:]
		}
		c := &g.s.Calls[ev.call]
		g.connection(c, ev.at)
		next := ev.at.Add(time.Duration((0.5 + g.rng.Float64()) * float64(interval(*c))))
		heap.Push(q, event{at: next, call: ev.call})
		if g.out.Buffered() > 1<<19 {
			if err := g.out.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// full reports whether a flow-count capture has its flows.
func (g *gen) full() bool { return g.opts.MaxFlows > 0 && g.flows >= g.opts.MaxFlows }

// progress is how far through the capture t is, from 0 to 1.
func (g *gen) progress(t time.Time) float64 {
	p := float64(t.Sub(g.opts.Start)) / float64(g.opts.Duration)
	if g.opts.MaxFlows > 0 {
		p = max(p, float64(g.flows)/float64(g.opts.MaxFlows))
	}
	return p
}

func interval(c Call) time.Duration { return time.Duration(float64(time.Hour) / c.PerHour) }

type event struct {
	at   time.Time
	call int
}

// schedule is a min-heap of pending connections; ties go to the lower
// call index so the order, and the output, is fixed by the seed.
type schedule []event

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if !s[i].at.Equal(s[j].at) {
		return s[i].at.Before(s[j].at)
	}
	return s[i].call < s[j].call
}
func (s schedule) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *schedule) Push(x any)   { *s = append(*s, x.(event)) }
func (s *schedule) Pop() any {
	old := *s
	ev := old[len(old)-1]
	*s = old[:len(old)-1]
	return ev
}

func (g *gen) lostNotice(at time.Time) {
	node := g.rng.IntN(len(g.s.Nodes))
	l := observe.LostEvent{
		Source: flowpb.LostEventSource_HUBBLE_RING_BUFFER, NumLost: uint64(1 + g.rng.IntN(500)),
		CPU: int32(g.rng.IntN(2)), HasCPU: true, NodeName: g.s.Nodes[node], Time: at,
	}
	g.lost += l.NumLost
	g.enc.buf = g.enc.buf[:0]
	g.enc.lostLine(&l)
	g.out.Write(g.enc.buf)
}

// emit writes one flow.
func (g *gen) emit(f *observe.Flow) {
	g.enc.buf = g.enc.buf[:0]
	g.enc.flowLine(f)
	g.out.Write(g.enc.buf)
	g.flows++
}
