package cluster

import (
	"context"
	"net/netip"
	"slices"
	"sort"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Enricher gives flow endpoints that Hubble saw only as an address (the
// reserved:world identity, or no identity at all) the labels of the pod
// that holds that address in the cluster, so the graph names a workload
// instead of an address. Cilium reports a pod on another node as world
// when its identity was not yet known on the observing node.
type Enricher struct {
	pods *PodIndex
	// labels keeps one label slice per pod: flows share label slices,
	// and downstream caches key on them.
	labels   map[*Pod][]string
	resolved map[netip.Addr]*Resolution
}

// Resolution is one address the enricher named, and how often.
type Resolution struct {
	Addr  netip.Addr
	Pod   *Pod
	Flows uint64
}

// NewEnricher enriches flows with the pods in idx.
func NewEnricher(idx *PodIndex) *Enricher {
	return &Enricher{pods: idx, labels: map[*Pod][]string{}, resolved: map[netip.Addr]*Resolution{}}
}

// Flow rewrites the endpoints of f that the cluster can name and reports
// whether it changed any. It replaces the endpoint values, never the
// slices they share with other flows.
func (e *Enricher) Flow(f *observe.Flow) bool {
	src := e.endpoint(&f.Source, f.SrcIP)
	dst := e.endpoint(&f.Destination, f.DstIP)
	return src || dst
}

func (e *Enricher) endpoint(ep *observe.Endpoint, addr netip.Addr) bool {
	if !addr.IsValid() || !addressOnly(ep.Labels) {
		return false
	}
	pod, ok := e.pods.Lookup(addr)
	if !ok {
		return false
	}
	*ep = observe.Endpoint{
		ClusterName: ep.ClusterName,
		Namespace:   pod.Namespace,
		PodName:     pod.Name,
		Labels:      e.podLabels(pod),
	}
	r := e.resolved[addr]
	if r == nil {
		r = &Resolution{Addr: addr, Pod: pod}
		e.resolved[addr] = r
	}
	r.Flows++
	return true
}

// addressOnly reports labels Cilium gives an endpoint it could not
// identify: none, or reserved:world (world-ipv4/-ipv6 on dual-stack).
func addressOnly(labels []string) bool {
	if len(labels) == 0 {
		return true
	}
	for _, l := range labels {
		switch l {
		case "reserved:world", "reserved:world-ipv4", "reserved:world-ipv6":
		default:
			return false
		}
	}
	return true
}

// podLabels writes a pod's labels as Cilium's identity labels.
func (e *Enricher) podLabels(pod *Pod) []string {
	if l, ok := e.labels[pod]; ok {
		return l
	}
	l := make([]string, 0, len(pod.Labels)+2)
	for k, v := range pod.Labels {
		l = append(l, "k8s:"+k+"="+v)
	}
	l = append(l, "k8s:io.kubernetes.pod.namespace="+pod.Namespace)
	if pod.ServiceAccount != "" {
		l = append(l, "k8s:io.cilium.k8s.policy.serviceaccount="+pod.ServiceAccount)
	}
	slices.Sort(l)
	e.labels[pod] = l
	return l
}

// Resolved lists the addresses named so far, in address order.
func (e *Enricher) Resolved() []Resolution {
	out := make([]Resolution, 0, len(e.resolved))
	for _, r := range e.resolved {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// Source wraps src so that every flow it yields is enriched first; learn
// puts it between the capture or Hubble stream and the graph builder. A
// nil Enricher returns src as it is.
func (e *Enricher) Source(src observe.Source) observe.Source {
	if e == nil {
		return src
	}
	return &enrichedSource{Source: src, enricher: e}
}

type enrichedSource struct {
	observe.Source
	enricher *Enricher
}

func (s *enrichedSource) Next(ctx context.Context) (*observe.Record, error) {
	rec, err := s.Source.Next(ctx)
	if err == nil && rec.Kind == observe.KindFlow {
		s.enricher.Flow(&rec.Flow)
	}
	return rec, err
}
