package synth

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Plan is the format-independent result of synthesis: which namespaces
// get a default-deny and what each workload's policy allows.
type Plan struct {
	// Namespaces are the managed namespaces that get a default-deny.
	Namespaces []string
	Policies   []*WorkloadPolicy
	// Public are the decisions about ingress from outside the cluster,
	// one per (workload, port) that took it.
	Public []PublicDecision
	// EgressHints say where the evidence suggests widening egress to
	// outside addresses; nothing is widened without --generalize.
	EgressHints []string
	// Skipped are edges no policy expresses, with why.
	Skipped  []SkippedEdge
	Warnings []string
	// L7 is what L7 rules were written from (learn --l7), or nil.
	L7 *L7Plan
	// Selectors, NameIPs and EntityIPs carry what rendering needs to
	// know about peers; ClusterCIDRs are left out of ipBlocks that stand
	// for any outside address.
	Selectors map[WorkloadRef]map[string]string
	// NamespaceSelections say how a NetworkPolicy can select each
	// namespace, by the labels its pods' identities showed.
	NamespaceSelections map[string]NamespaceSelection
	NameIPs             map[string][]netip.Addr
	EntityIPs           map[Entity][]netip.Addr
	ClusterCIDRs        []netip.Prefix
}

// WorkloadPolicy is everything one workload may send and receive.
type WorkloadPolicy struct {
	Workload Workload
	Ingress  []Rule
	Egress   []Rule
	// Evidence are the observed edges this policy allows.
	Evidence []Edge
}

// Rule allows every listed peer on every listed port range.
type Rule struct {
	// Peers share one kind.
	Peers []Peer
	// DNSSelector, when set, is the peer instead of Peers: the cluster's
	// DNS server chosen by label because the flows show no labelled one.
	DNSSelector *DNSSelector
	Ports       []PortRange
	// DNS marks the egress rule to the DNS server, which CiliumNetworkPolicy
	// sends through the DNS proxy so toFQDNs can learn addresses.
	DNS bool
	// DNSNames, on a DNS rule, are the names it allows (nil: any); HTTP
	// are the routes an ingress rule allows (nil: any). See l7.go.
	DNSNames []DNSMatch
	HTTP     []HTTPRule
}

// PortRange is a protocol and an inclusive port range; End is 0 for a
// single port.
type PortRange struct {
	Protocol observe.Protocol
	Port     uint16
	End      uint16
}

// SkippedEdge is an observed edge no generated rule expresses.
type SkippedEdge struct {
	Edge   Edge
	Reason string
}

const dnsPort = 53

// Build turns a graph into a plan.
func Build(g *Graph, opts Options) (*Plan, error) {
	opts = opts.withDefaults()
	b := newBuilder(g, opts)
	if err := b.index(); err != nil {
		return nil, err
	}
	b.collect()
	plan := b.finish()
	if opts.L7.Enabled && opts.Format.Cilium() {
		applyL7(plan, g, opts)
	}
	plan.Selectors = make(map[WorkloadRef]map[string]string, len(g.Workloads))
	for _, w := range g.Workloads {
		plan.Selectors[w.WorkloadRef] = w.Selector
	}
	plan.NamespaceSelections = NamespaceSelections(g.Workloads)
	plan.NameIPs, plan.EntityIPs = g.NameIPs, g.EntityIPs
	plan.ClusterCIDRs = append([]netip.Prefix(nil), g.ClusterCIDRs...)
	sort.Slice(plan.ClusterCIDRs, func(i, j int) bool {
		a, b := plan.ClusterCIDRs[i], plan.ClusterCIDRs[j]
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return plan, nil
}

// builder holds the per-run state of Build.
type builder struct {
	g         *Graph
	opts      Options
	workloads map[WorkloadRef]*Workload
	policies  map[WorkloadRef]*policyDraft
	// dnsServers are, per resolver, the labelled workloads it queried;
	// otherDNS the servers it reached that no label selects (node-local
	// caches seen as the host or an address).
	dnsServers map[WorkloadRef]map[Peer]bool
	otherDNS   map[WorkloadRef]map[Peer]bool
	resolvers  map[WorkloadRef]bool
	// public are the decisions about ingress from outside the cluster.
	public map[EndpointRef]*PublicDecision
	plan   Plan
}

type policyDraft struct {
	workload *Workload
	ingress  map[Peer]map[PortKey]bool
	egress   map[Peer]map[PortKey]bool
	evidence []Edge
}

func newBuilder(g *Graph, opts Options) *builder {
	return &builder{
		g: g, opts: opts,
		workloads:  make(map[WorkloadRef]*Workload, len(g.Workloads)),
		policies:   make(map[WorkloadRef]*policyDraft),
		dnsServers: make(map[WorkloadRef]map[Peer]bool),
		otherDNS:   make(map[WorkloadRef]map[Peer]bool),
		resolvers:  make(map[WorkloadRef]bool),
	}
}

func (b *builder) index() error {
	for i := range b.g.Workloads {
		w := &b.g.Workloads[i]
		if w.Namespace == "" || w.Name == "" {
			return fmt.Errorf("synth: workload %d has no namespace or name", i)
		}
		if _, dup := b.workloads[w.WorkloadRef]; dup {
			return fmt.Errorf("synth: workload %s listed twice", w.WorkloadRef)
		}
		b.workloads[w.WorkloadRef] = w
	}
	for i, e := range b.g.Edges {
		for _, p := range []Peer{e.From, e.To} {
			if p.Kind == PeerWorkload && b.workloads[p.Workload] == nil {
				return fmt.Errorf("synth: edge %d (%s -> %s) names unknown workload %s", i, e.From, e.To, p.Workload)
			}
		}
	}
	return nil
}

// managed returns the draft policy of a peer netpolgen writes policy for.
func (b *builder) managed(p Peer) *policyDraft {
	if p.Kind != PeerWorkload || !b.opts.Manages(p.Workload.Namespace) {
		return nil
	}
	d := b.policies[p.Workload]
	if d == nil {
		if len(b.workloads[p.Workload].Selector) == 0 {
			// An empty selector would select every pod of the namespace.
			return nil
		}
		d = &policyDraft{
			workload: b.workloads[p.Workload],
			ingress:  map[Peer]map[PortKey]bool{},
			egress:   map[Peer]map[PortKey]bool{},
		}
		b.policies[p.Workload] = d
	}
	return d
}

func (b *builder) collect() {
	b.public = b.publicDecisions()
	for _, d := range sortedDecisions(b.public) {
		if b.opts.Manages(d.Endpoint.Workload.Namespace) {
			b.plan.Public = append(b.plan.Public, d)
		}
	}
	b.unusedEndpointFlags()
	b.plan.EgressHints = b.egressHints()
	for _, w := range b.g.Workloads {
		if b.managed(WorkloadPeer(w.Namespace, w.Name)) == nil && b.opts.Manages(w.Namespace) {
			b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf("%s has no labels to select it by: it gets no policy, and a default-deny in its namespace blocks it; give its pods a label", w.WorkloadRef))
		}
	}
	for _, e := range b.g.Edges {
		port := PortKey{e.Protocol, e.Port}
		ok, why := Ruleable(port)
		if ok && port.Protocol.IsICMP() && b.opts.Format == FormatKubernetes {
			ok, why = false, "NetworkPolicy cannot express ICMP; the CiliumNetworkPolicy format can"
		}
		if !ok {
			if b.managed(e.From) != nil || b.managed(e.To) != nil {
				b.skip(e, why)
			}
			continue
		}
		src, dst := b.managed(e.From), b.managed(e.To)
		if src != nil {
			b.addEgress(src, e, port)
		}
		if dst != nil {
			b.addIngress(dst, e, port)
		}
	}
	// A workload reaching outside names resolves them even when its DNS
	// queries were not captured.
	for ref, d := range b.policies {
		for p := range d.egress {
			if p.Kind == PeerFQDN {
				b.resolvers[ref] = true
			}
		}
	}
}

func (b *builder) addEgress(d *policyDraft, e Edge, port PortKey) {
	d.evidence = append(d.evidence, e)
	if port.Port == dnsPort && (port.Protocol == observe.ProtoUDP || port.Protocol == observe.ProtoTCP) {
		ref := d.workload.WorkloadRef
		b.resolvers[ref] = true
		switch {
		case b.labelledWorkload(e.To) != nil:
			addPeer(b.dnsServers, ref, e.To)
		case e.To.Kind == PeerWorkload:
			// An unlabelled workload cannot be selected: the cluster DNS
			// selector stands in for it.
		default:
			// Queries to it must pass the DNS proxy too, or toFQDNs
			// never learns the answers.
			if peer, ok := b.egressPeer(e); ok {
				addPeer(b.otherDNS, ref, peer)
			}
		}
		return
	}
	peer, ok := b.egressPeer(e)
	if !ok {
		return
	}
	addPort(d.egress, peer, port)
}

func (b *builder) addIngress(d *policyDraft, e Edge, port PortKey) {
	d.evidence = append(d.evidence, e)
	peer, ok := b.ingressPeer(e)
	if !ok {
		return
	}
	addPort(d.ingress, peer, port)
	if port.Port == dnsPort && (port.Protocol == observe.ProtoUDP || port.Protocol == observe.ProtoTCP) {
		// DNS falls back to TCP for large answers: a DNS server takes
		// both from every client it answers.
		addPort(d.ingress, peer, PortKey{observe.ProtoUDP, dnsPort})
		addPort(d.ingress, peer, PortKey{observe.ProtoTCP, dnsPort})
	}
}

func (b *builder) labelledWorkload(p Peer) *Workload {
	if p.Kind != PeerWorkload {
		return nil
	}
	if w := b.workloads[p.Workload]; w != nil && len(w.Selector) > 0 {
		return w
	}
	return nil
}

func (b *builder) skip(e Edge, reason string) {
	b.plan.Skipped = append(b.plan.Skipped, SkippedEdge{Edge: e, Reason: reason})
}

func addPort(m map[Peer]map[PortKey]bool, p Peer, port PortKey) {
	ports := m[p]
	if ports == nil {
		ports = map[PortKey]bool{}
		m[p] = ports
	}
	ports[port] = true
}

func (b *builder) finish() *Plan {
	namespaces := map[string]bool{}
	for ref, d := range b.policies {
		namespaces[ref.Namespace] = true
		wp := &WorkloadPolicy{Workload: *d.workload, Evidence: d.evidence}
		wp.Ingress = groupRules(d.ingress)
		wp.Egress = groupRules(d.egress)
		if b.resolvers[ref] {
			wp.Egress = append(b.dnsRules(ref), wp.Egress...)
		}
		sortEdges(wp.Evidence)
		b.plan.Policies = append(b.plan.Policies, wp)
	}
	sort.Slice(b.plan.Policies, func(i, j int) bool {
		return refLess(b.plan.Policies[i].Workload.WorkloadRef, b.plan.Policies[j].Workload.WorkloadRef)
	})
	for ns := range namespaces {
		b.plan.Namespaces = append(b.plan.Namespaces, ns)
	}
	sort.Strings(b.plan.Namespaces)
	sort.SliceStable(b.plan.Skipped, func(i, j int) bool { return edgeLess(b.plan.Skipped[i].Edge, b.plan.Skipped[j].Edge) })
	return &b.plan
}
