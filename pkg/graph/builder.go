package graph

import (
	"encoding/binary"
	"net/netip"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Builder folds flows into a Graph. It is not safe for concurrent use.
// Its memory grows with peers and edges, not with flows.
type Builder struct {
	opts  Options
	ids   *identities
	nodes map[string]bool

	edges     map[edgeKey]*Edge
	listeners map[portKey]struct{}
	pending   map[pendingKey]pendingFlows
	fan       fanOutMaps
	dns       map[string]*DNSRecord
	// workloadIPs remembers which workloads each address was seen as, to
	// flag world addresses that are really pods.
	workloadIPs map[netip.Addr][]int32
	// lastIP is the address last remembered per peer, to skip the map
	// for the common case of the same pod again.
	lastIP []netip.Addr
	cov    Coverage
	// locate says where the flow being added was read (see SetLocator).
	locate func() string
}

// edgeKey names an edge by builder peer ids.
type edgeKey struct {
	from, to int32
	port     uint16
	proto    observe.Protocol
	icmpType uint8
}

// portKey is a (peer, protocol, port) that may be a listener.
type portKey struct {
	peer  int32
	port  uint16
	proto observe.Protocol
}

// sampleSize is how many connection fingerprints an edge keeps for
// recognising the same connections seen from the other node.
const sampleSize = 32

// NewBuilder returns a Builder using opts (zero value: defaults).
func NewBuilder(opts Options) *Builder {
	opts = opts.normalized()
	b := &Builder{
		opts:        opts,
		ids:         newIdentities(opts),
		edges:       map[edgeKey]*Edge{},
		listeners:   map[portKey]struct{}{},
		pending:     map[pendingKey]pendingFlows{},
		fan:         fanOutMaps{seen: map[portPair]struct{}{}, count: map[portKey]int{}},
		dns:         map[string]*DNSRecord{},
		workloadIPs: map[netip.Addr][]int32{},
	}
	if len(opts.NodeNames) > 0 {
		b.nodes = map[string]bool{}
		for _, n := range opts.NodeNames {
			b.nodes[n] = true
		}
	}
	return b
}

// Add folds one flow into the graph. The flow is not retained.
func (b *Builder) Add(f *observe.Flow) {
	b.cov.Flows++
	b.cov.widen(f.Time.UTC(), f.Time.UTC())
	if b.nodes != nil && !b.nodes[f.NodeName] {
		b.skip("node-filter")
		return
	}
	if f.L4.Protocol == observe.ProtoUnknown {
		b.skip("no-protocol")
		return
	}
	src, why := b.ids.resolve(&f.Source, f.SrcIP)
	if why != "" {
		b.skip(why)
		return
	}
	dst, why := b.ids.resolve(&f.Destination, f.DstIP)
	if why != "" {
		b.skip(why)
		return
	}
	if b.serviceFrontend(src, f.SourceService) || b.serviceFrontend(dst, f.DestinationService) {
		// The trace before Cilium's load-balancer translated a Service
		// address (the agent reports it FROM_ENDPOINT, the ClusterIP
		// and Service port as an outside address); the translated
		// trace carries the backend pod and the port it receives.
		b.skip("service-frontend")
		return
	}
	b.rememberWorkloadIP(src, f.SrcIP)
	b.rememberWorkloadIP(dst, f.DstIP)
	b.rememberDNSAnswer(f)

	dir := directionOf(f)
	if dir != opening && translatedSource(f) {
		// A reply Cilium already translated back to a Service's frontend
		// (Hubble restores the pod's address, not its port): the source
		// port is the Service port, which no policy ever sees. The
		// opening half carries the port the pod receives on.
		b.skip("translated-reply")
		return
	}
	if dir == undirected {
		if f.L4.Protocol.HasPorts() {
			b.cov.UndirectedFlows++
			b.addUndirected(f, src, dst)
			return
		}
		// ICMP errors and other portless messages: the sender is the
		// only side there is.
		dir = opening
	}
	if dir == answering {
		b.cov.ReplyFlows++
	}
	b.addDirected(f, src, dst, dir)
}

// AddLost records that events were lost, which a policy learned from this
// graph may be missing.
func (b *Builder) AddLost(l *observe.LostEvent) {
	if b.nodes != nil && l.NodeName != "" && !b.nodes[l.NodeName] {
		return
	}
	b.cov.LostNotices++
	if b.cov.LostEvents == nil {
		b.cov.LostEvents = map[string]uint64{}
	}
	b.cov.LostEvents[l.Source.String()] += l.NumLost
}

func (b *Builder) skip(reason string) {
	if b.cov.Skipped == nil {
		b.cov.Skipped = map[string]uint64{}
	}
	b.cov.Skipped[reason]++
}

// translatedSource says whether the flow's source address was translated
// on the way (Hubble's source_xlated), so its source port may be too.
func translatedSource(f *observe.Flow) bool {
	return f.SrcXlated.IsValid() && f.SrcXlated != f.SrcIP
}

// serviceFrontend says whether a flow's end is a Service's frontend
// address: Hubble names the Service, and Cilium has no identity for the
// address but world's.
func (b *Builder) serviceFrontend(peer int32, svc observe.Service) bool {
	if svc.Name == "" {
		return false
	}
	p := &b.ids.peers[peer]
	return p.Kind == KindExternal || p.Kind == KindReserved && p.Entity == EntityWorld
}

// addDirected folds a flow whose direction is known into its edge.
func (b *Builder) addDirected(f *observe.Flow, src, dst int32, dir flowDirection) {
	client, server := src, dst
	clientPort, serverPort := f.L4.SrcPort, f.L4.DstPort
	serverIP := f.DstIP
	service := f.DestinationService
	names := f.DestinationNames
	if dir == answering {
		client, server = dst, src
		clientPort, serverPort = f.L4.DstPort, f.L4.SrcPort
		serverIP = f.SrcIP
		service = f.SourceService
		names = f.SourceNames
	}
	k := edgeKey{from: client, to: server, proto: f.L4.Protocol}
	if isICMP(f.L4.Protocol) {
		k.icmpType = openingICMPType(f.L4.Protocol, f.L4.ICMPType)
	} else {
		k.port = serverPort
		b.listeners[portKey{peer: server, port: serverPort, proto: f.L4.Protocol}] = struct{}{}
	}
	e := b.edge(k, DirectionObserved)
	foldFlow(e, f.Time, f.Verdict)
	if dir == answering && verdictOf(f.Verdict)&allowedVerdicts != 0 {
		e.Answered++
	}
	if f.L4.Protocol.HasPorts() {
		e.sample, _ = addCapped(e.sample, fingerprint(f.L4.Protocol, clientPort, serverIP, serverPort), sampleSize)
	}
	max := b.opts.MaxL7
	if service.Name != "" {
		b.addEvidence(&e.Services, service.Namespace+"/"+service.Name, e)
	}
	for _, n := range names {
		b.addEvidence(&e.DNSNames, dnsName(n), e)
		if b.ids.peers[server].Kind == KindExternal {
			p := &b.ids.peers[server]
			p.names, _ = addCapped(p.names, dnsName(n), max)
		}
	}
	if f.L7 != nil {
		if h := f.L7.HTTP; h != nil && h.Method != "" {
			b.addEvidence(&e.HTTP, httpEvidence(h.Method, h.URL), e)
		}
		if d := f.L7.DNS; d != nil && d.Query != "" {
			b.addEvidence(&e.DNSQueries, dnsName(d.Query), e)
		}
		b.addL7(e, f)
	}
}

func (b *Builder) addEvidence(list *[]string, v string, e *Edge) {
	var cut bool
	*list, cut = addCapped(*list, v, b.opts.MaxL7)
	e.L7Truncated = e.L7Truncated || cut
}

// edge returns the edge for k, creating it with direction dir.
func (b *Builder) edge(k edgeKey, dir Direction) *Edge {
	e, ok := b.edges[k]
	if !ok {
		e = &Edge{From: PeerID(k.from), To: PeerID(k.to), Protocol: k.proto, Port: k.port, ICMPType: k.icmpType, Direction: dir, MirrorOf: NoPeer}
		b.edges[k] = e
	}
	if dir < e.Direction {
		e.Direction = dir
	}
	return e
}

func foldFlow(e *Edge, t time.Time, v flowpb.Verdict) {
	e.Count++
	vs := verdictOf(v)
	if vs == VerdictDropped {
		e.Dropped++
	}
	e.Verdicts |= vs
	foldTime(&e.FirstSeen, &e.LastSeen, t)
}

func foldTime(first, last *time.Time, t time.Time) {
	if t.IsZero() {
		return
	}
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if last.IsZero() || t.After(*last) {
		*last = t
	}
}

// fingerprint names one connection by what both nodes see the same even
// when the client's address is translated: protocol, client port, server
// address and port. It is a fixed function (no random seed), so
// snapshots from different learners compare.
func fingerprint(p observe.Protocol, clientPort uint16, serverIP netip.Addr, serverPort uint16) uint64 {
	a := serverIP.Unmap().As16()
	hi, lo := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	x := uint64(p)<<32 | uint64(clientPort)<<16 | uint64(serverPort)
	return mix64(hi ^ mix64(lo^mix64(x)))
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// rememberWorkloadIP records the address a workload, or the
// kube-apiserver, was seen with: the API server's addresses are what a
// NetworkPolicy must name to keep workloads' access to it.
func (b *Builder) rememberWorkloadIP(id int32, addr netip.Addr) {
	p := &b.ids.peers[id]
	if !addr.IsValid() || (p.Kind != KindWorkload && !(p.Kind == KindReserved && p.Entity == EntityKubeAPIServer)) {
		return
	}
	for int(id) >= len(b.lastIP) {
		b.lastIP = append(b.lastIP, netip.Addr{})
	}
	addr = addr.Unmap()
	if b.lastIP[id] == addr {
		return
	}
	b.lastIP[id] = addr
	owners := b.workloadIPs[addr]
	for _, o := range owners {
		if o == id {
			return
		}
	}
	if len(owners) < maxIPOwners {
		b.workloadIPs[addr] = append(owners, id)
	}
}

// maxDNSAnswers caps the addresses kept per DNS name.
const maxDNSAnswers = 64

func (b *Builder) rememberDNSAnswer(f *observe.Flow) {
	if f.L7 == nil || f.L7.DNS == nil || f.L7.Type != flowpb.L7FlowType_RESPONSE || len(f.L7.DNS.IPs) == 0 {
		return
	}
	name := dnsName(f.L7.DNS.Query)
	r, ok := b.dns[name]
	if !ok {
		r = &DNSRecord{Name: name}
		b.dns[name] = r
	}
	for _, ip := range f.L7.DNS.IPs {
		r.IPs, _ = addCapped(r.IPs, ip.Unmap().String(), maxDNSAnswers)
	}
	r.TTL = max(r.TTL, f.L7.DNS.TTL)
	foldTime(&r.FirstSeen, &r.LastSeen, f.Time)
}
