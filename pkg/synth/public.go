package synth

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// The evidence thresholds that make a (workload, port) a public endpoint.
// A partner or an office NAT reaches a port from one to a handful of
// addresses, usually inside one or two provider blocks, and keeps coming
// back all window long; the internet arrives from many unrelated networks,
// and most of its clients come and go.
const (
	// publicMinSources and publicMinNetworks: this many distinct outside
	// addresses, from this many distinct /16 (IPv6 /32) networks, is a
	// public endpoint whatever the clients' habits.
	publicMinSources  = 8
	publicMinNetworks = 3
	// churnMinSources, churnMinNetworks and churnMinShare: fewer addresses
	// still make a public endpoint when at least half of them were
	// transient, seen over less than transientShare of the window.
	churnMinSources  = 4
	churnMinNetworks = 2
	churnMinShare    = 0.5
	transientShare   = 0.1
)

// EndpointRef names a workload, or one port of it ("ns/name",
// "ns/name:443", "ns/name:53/UDP"), for the --public-endpoint flags.
type EndpointRef struct {
	Workload WorkloadRef
	// Port is zero for every port of the workload.
	Port PortKey
}

func (r EndpointRef) String() string {
	if r.Port.Port == 0 {
		return r.Workload.String()
	}
	return fmt.Sprintf("%s:%d/%s", r.Workload, r.Port.Port, r.Port.Protocol)
}

// ParseEndpointRef reads "namespace/workload[:port[/protocol]]"; the
// protocol defaults to TCP.
func ParseEndpointRef(s string) (EndpointRef, error) {
	bad := func(why string) (EndpointRef, error) {
		return EndpointRef{}, fmt.Errorf("endpoint %q: %s; want namespace/workload[:port[/TCP|UDP|SCTP]]", s, why)
	}
	ref, port, hasPort := strings.Cut(s, ":")
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return bad("no namespace/workload")
	}
	out := EndpointRef{Workload: WorkloadRef{ns, name}}
	if !hasPort {
		return out, nil
	}
	num, proto, _ := strings.Cut(port, "/")
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return bad("the port is not a number from 1 to 65535")
	}
	out.Port = PortKey{Protocol: observe.ProtoTCP, Port: uint16(n)}
	switch strings.ToUpper(proto) {
	case "", "TCP":
	case "UDP":
		out.Port.Protocol = observe.ProtoUDP
	case "SCTP":
		out.Port.Protocol = observe.ProtoSCTP
	default:
		return bad("unknown protocol " + proto)
	}
	return out, nil
}

// Exposure is cluster evidence that a workload's port is meant to be
// reached from outside: a LoadBalancer or NodePort Service, an Ingress or
// a Gateway route in front of it.
type Exposure struct {
	Workload WorkloadRef
	Port     PortKey
	// By names the object, e.g. "Service shop/web (LoadBalancer)".
	By string
}

// PublicDecision is what synthesis decided about ingress from outside the
// cluster to one port of a workload, and why.
type PublicDecision struct {
	Endpoint EndpointRef
	// Public ports are allowed from any outside address; the others from
	// the observed addresses only.
	Public bool
	// Sources, Networks and Transient describe the public outside
	// addresses seen: how many, in how many /16 (IPv6 /32) networks, and
	// how many were seen over less than a tenth of the learning window.
	// Private counts private addresses (RFC 1918, CGNAT, ULA), which are
	// the same organisation's machines and never make a port public.
	Sources, Networks, Transient, Private int
	Flows                                 uint64
	// Why is the evidence in words; Reverse the flag that undoes it.
	Why, Reverse string
}

// publicDecisions decides every (workload, port) that took ingress from
// outside the cluster.
func (b *builder) publicDecisions() map[EndpointRef]*PublicDecision {
	type evidence struct {
		sources   map[netip.Prefix]bool
		networks  map[netip.Prefix]bool
		transient int
		private   int
		flows     uint64
	}
	span := b.g.Window.End.Sub(b.g.Window.Start)
	byPort := map[EndpointRef]*evidence{}
	for _, e := range b.g.Edges {
		src, ok := b.outsideSource(e.From)
		if !ok || e.To.Kind != PeerWorkload {
			continue
		}
		ref := EndpointRef{Workload: e.To.Workload, Port: PortKey{e.Protocol, e.Port}}
		ev := byPort[ref]
		if ev == nil {
			ev = &evidence{sources: map[netip.Prefix]bool{}, networks: map[netip.Prefix]bool{}}
			byPort[ref] = ev
		}
		ev.flows += e.Flows
		if ev.sources[src] {
			continue
		}
		ev.sources[src] = true
		if privateAddr(src.Addr()) {
			// Machines of the same organisation (another VPC, an office
			// network) are not internet clients, however many networks
			// they span.
			ev.private++
			continue
		}
		ev.networks[network(src.Addr())] = true
		if transient(e, span) {
			ev.transient++
		}
	}
	exposed := map[EndpointRef][]string{}
	for _, x := range b.g.Exposures {
		ref := EndpointRef{Workload: x.Workload, Port: x.Port}
		exposed[ref] = append(exposed[ref], x.By)
	}
	out := make(map[EndpointRef]*PublicDecision, len(byPort))
	for ref, ev := range byPort {
		d := &PublicDecision{Endpoint: ref, Sources: len(ev.sources) - ev.private, Private: ev.private, Networks: len(ev.networks), Transient: ev.transient, Flows: ev.flows}
		seen := fmt.Sprintf("%s in %s (/16, IPv6 /32), %d of them transient, %d flows",
			plural(d.Sources, "outside address", "outside addresses"), plural(d.Networks, "network", "networks"), d.Transient, d.Flows)
		if d.Private > 0 {
			seen += fmt.Sprintf("; %s not counted", plural(d.Private, "private address", "private addresses"))
		}
		forced, public := b.forcedPublic(ref)
		switch {
		case forced != "":
			d.Public, d.Why = public, forced+" ("+seen+")"
		case b.opts.Generalize.WorldIngressEntity:
			d.Public, d.Why = true, "--generalize world-ingress ("+seen+")"
		case len(exposed[ref]) > 0:
			sort.Strings(exposed[ref])
			d.Public, d.Why = true, "exposed by "+strings.Join(exposed[ref], ", ")+" ("+seen+")"
		case d.Sources >= publicMinSources && d.Networks >= publicMinNetworks:
			d.Public, d.Why = true, seen+fmt.Sprintf(": at least %d addresses from at least %d networks", publicMinSources, publicMinNetworks)
		case d.Sources >= churnMinSources && d.Networks >= churnMinNetworks && float64(d.Transient) >= churnMinShare*float64(d.Sources):
			d.Public, d.Why = true, seen+fmt.Sprintf(": at least %d addresses from at least %d networks, at least half of them transient", churnMinSources, churnMinNetworks)
		case d.Private > 0 && d.Sources < churnMinSources:
			d.Why = seen + ": the organisation's own machines, not internet clients; kept to the addresses seen"
		case d.Sources > 0 && b.ingressController(ref.Workload) != "":
			d.Public, d.Why = true, "an ingress controller or gateway ("+b.ingressController(ref.Workload)+"), whose job is to take the internet's traffic ("+seen+")"
		default:
			d.Why = seen + ": few, stable sources; kept to the addresses seen"
		}
		if d.Public {
			d.Reverse = "--no-public-endpoint " + ref.String()
		} else {
			d.Reverse = "--public-endpoint " + ref.String()
		}
		out[ref] = d
	}
	return out
}

// forcedPublic applies --public-endpoint and --no-public-endpoint: a
// port-specific flag beats a workload-wide one, and "no" beats "yes".
func (b *builder) forcedPublic(ref EndpointRef) (string, bool) {
	for _, exact := range []bool{true, false} {
		want := ref
		if !exact {
			want.Port = PortKey{}
		}
		for _, r := range b.opts.NotPublic {
			if r == want {
				return "--no-public-endpoint " + r.String(), false
			}
		}
		for _, r := range b.opts.Public {
			if r == want {
				return "--public-endpoint " + r.String(), true
			}
		}
	}
	return "", false
}

// outsideSource is the address block of an ingress source outside the
// cluster, or false for any other peer.
func (b *builder) outsideSource(p Peer) (netip.Prefix, bool) {
	switch p.Kind {
	case PeerCIDR:
		return p.Prefix, true
	case PeerFQDN:
		if ips := b.g.NameIPs[p.FQDN]; len(ips) > 0 {
			return netip.PrefixFrom(ips[0], ips[0].BitLen()), true
		}
	}
	return netip.Prefix{}, false
}

// privateAddr reports addresses no internet client has: RFC 1918, shared
// (CGNAT) 100.64.0.0/10, IPv6 unique-local, loopback and link-local.
func privateAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

// network is the block an address's owner most likely holds: a /16 of
// IPv4, a /32 of IPv6 (an ISP's or a cloud's allocation).
func network(a netip.Addr) netip.Prefix {
	bits := 16
	if a.Is6() && !a.Is4In6() {
		bits = 32
	}
	p, _ := a.Unmap().Prefix(bits)
	return p
}

// transient says whether an address was seen only briefly: over less than
// a tenth of the window, or at one instant when the window has no span.
func transient(e Edge, window time.Duration) bool {
	seen := e.Last.Sub(e.First)
	if window <= 0 {
		return seen <= 0
	}
	return seen < time.Duration(float64(window)*transientShare)
}

// sortedDecisions lists decisions by workload and port, for the report.
func sortedDecisions(m map[EndpointRef]*PublicDecision) []PublicDecision {
	out := make([]PublicDecision, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Endpoint, out[j].Endpoint
		if a.Workload != b.Workload {
			return refLess(a.Workload, b.Workload)
		}
		if a.Port.Protocol != b.Port.Protocol {
			return a.Port.Protocol < b.Port.Protocol
		}
		return a.Port.Port < b.Port.Port
	})
	return out
}

// unusedEndpointFlags warns about --public-endpoint and
// --no-public-endpoint values that matched no ingress from outside: they
// change nothing, and a typo should not pass unnoticed.
func (b *builder) unusedEndpointFlags() {
	check := func(flag string, refs []EndpointRef) {
		for _, r := range refs {
			used := false
			for ref := range b.public {
				used = used || ref == r || (r.Port == PortKey{} && ref.Workload == r.Workload)
			}
			if !used {
				b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf("%s %s: no ingress from outside the cluster was seen there; it changes nothing", flag, r))
			}
		}
	}
	check("--public-endpoint", b.opts.Public)
	check("--no-public-endpoint", b.opts.NotPublic)
}

// hintMinAddrs is how many addresses of one /24 (IPv6 /48) a workload must
// reach on one port before the report suggests widening to the block.
const hintMinAddrs = 3

// egressHints finds workloads reaching several unnamed outside addresses
// of one block on one port: a service behind rotating addresses, which
// --generalize world-prefix would cover. Synthesis never widens on its own.
func (b *builder) egressHints() []string {
	type key struct {
		from  WorkloadRef
		port  PortKey
		block netip.Prefix
	}
	count := map[key]int{}
	for _, e := range b.g.Edges {
		if e.From.Kind != PeerWorkload || e.To.Kind != PeerCIDR || !e.To.Prefix.IsSingleIP() || !b.opts.Manages(e.From.Workload.Namespace) {
			continue
		}
		bits := 24
		if e.To.Prefix.Addr().Is6() {
			bits = 48
		}
		block, _ := e.To.Prefix.Addr().Prefix(bits)
		count[key{e.From.Workload, PortKey{e.Protocol, e.Port}, block}]++
	}
	var out []string
	for k, n := range count {
		if n < hintMinAddrs {
			continue
		}
		flag := fmt.Sprintf("world-prefix=%d", k.block.Bits())
		if k.block.Addr().Is6() {
			flag = fmt.Sprintf("world-prefix6=%d", k.block.Bits())
		}
		out = append(out, fmt.Sprintf("%s reached %d addresses of %s on %s without a DNS name: if the service moves within that block, `--generalize %s` covers it (not applied).", k.from, n, k.block, k.port, flag))
	}
	sort.Strings(out)
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ingressController names the label that makes a workload an ingress
// controller or gateway ("app.kubernetes.io/name=ingress-nginx"), or "".
// Such a workload that takes traffic from outside is the cluster's front
// door, so the few clients a learning window saw are not all it will
// ever have.
func (b *builder) ingressController(ref WorkloadRef) string {
	for i := range b.g.Workloads {
		w := &b.g.Workloads[i]
		if w.WorkloadRef != ref {
			continue
		}
		for _, key := range [...]string{"app.kubernetes.io/name", "app", "k8s-app", "istio"} {
			if v, ok := w.Selector[key]; ok && ingressControllerName(v) {
				return key + "=" + v
			}
		}
	}
	return ""
}

// ingressControllerName reports the app names the community charts of
// ingress controllers and gateways give their proxies.
func ingressControllerName(name string) bool {
	switch name {
	case "ingress-nginx", "nginx-ingress", "traefik", "contour", "envoy", "envoy-gateway",
		"haproxy-ingress", "kubernetes-ingress", "kong", "istio-ingressgateway", "ingressgateway",
		"emissary-ingress", "ambassador", "skipper-ingress":
		return true
	}
	return false
}
