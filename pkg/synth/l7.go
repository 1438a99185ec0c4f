package synth

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/policy/api"

	"github.com/netpolgen/netpolgen/internal/l7/names"
	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// L7Options turn on L7 rules (CiliumNetworkPolicy only).
type L7Options struct {
	// Enabled writes HTTP rules for ports Hubble saw HTTP requests on and
	// DNS rules listing the names each workload resolved.
	Enabled bool
	// ExactDNS lists every resolved name with matchName, never a family
	// pattern.
	ExactDNS bool
}

// HTTPRule is one allowed HTTP route, as Cilium's PortRuleHTTP fields:
// regular expressions Envoy matches against the whole value.
type HTTPRule struct {
	Method, Path, Host string
}

// DNSMatch is one name a DNS rule allows: a name, or a matchPattern.
type DNSMatch struct {
	Name    string
	Pattern bool
}

// L7Plan is what the L7 rules were written from, for the report.
type L7Plan struct {
	// Tables are the HTTP route tables written as rules.
	Tables []RouteTable
	// DNS are the names each resolver's DNS rule allows.
	DNS []ResolverNames
	// Kafka are the Kafka topics seen, on ports that stay L3/L4.
	Kafka []KafkaPort
	// NoL7 are in-cluster TCP connections Hubble saw no L7 records for;
	// their ports stay L3/L4.
	NoL7 []ConnKey
	// Collapsed are tables whose routes were folded to common prefixes.
	Collapsed []string
	// Verification is what verify found about the L7 rules, or nil.
	Verification *L7Verification
}

// L7Verification is the L7 verification as the report states it.
type L7Verification struct {
	Observed, Allowed int
	Denied            []string
	Candidates        int
	Excess            []string
}

// RouteTable is the route table of one client on one port of a server:
// a workload (an ingress rule) or an outside peer (an egress rule of the
// client).
type RouteTable struct {
	Server Peer
	Client Peer
	Port   PortKey
	Routes []routes.Route
	// Host is the Host rule, when every request named the same Service.
	Host string
	// Collapsed counts routes folded into prefixes by the route bound.
	Collapsed int
	Requests  uint64
}

// ResolverNames is what one workload may resolve.
type ResolverNames struct {
	Workload WorkloadRef
	// Matches are the DNS rule's entries; Families the observed names
	// each pattern stands for.
	Matches  []DNSMatch
	Families []names.Family
	// Any says the rule allows every name, and Why says why.
	Any bool
	Why string
}

// KafkaPort is the Kafka use of one client on one port.
type KafkaPort struct {
	Server WorkloadRef
	Client Peer
	Port   PortKey
	Uses   []graph.KafkaUse
}

// applyL7 gives the plan's rules L7 detail from the graph's L7 tables:
// ingress HTTP rules per client and port, and DNS rules naming what each
// resolver looked up.
func applyL7(pl *Plan, g *Graph, opts Options) {
	byConn := map[ConnKey]*graph.L7{}
	for _, e := range g.Edges {
		if e.L7 != nil {
			byConn[e.Key()] = e.L7
		}
	}
	l7 := &L7Plan{}
	for _, wp := range pl.Policies {
		wp.Ingress = l7.split(wp, wp.Ingress, true, byConn)
		wp.Egress = l7.split(wp, wp.Egress, false, byConn)
		l7.dns(wp, g, byConn, opts.L7)
	}
	for _, e := range g.Edges {
		if e.To.Kind != PeerWorkload || e.Protocol != observe.ProtoTCP || !opts.Manages(e.To.Workload.Namespace) {
			continue
		}
		if l := byConn[e.Key()]; l != nil && len(l.Kafka) > 0 {
			l7.Kafka = append(l7.Kafka, KafkaPort{Server: e.To.Workload, Client: e.From, Port: e.Key().Port, Uses: l.Kafka})
		}
		if l := byConn[e.Key()]; l == nil || (l.Routes == nil && len(l.Kafka) == 0) {
			l7.NoL7 = append(l7.NoL7, e.Key())
		}
	}
	sort.Slice(l7.NoL7, func(i, j int) bool { return connLess(l7.NoL7[i], l7.NoL7[j]) })
	for _, t := range l7.Tables {
		if t.Collapsed > 0 {
			msg := fmt.Sprintf("%s -> %s %s: %d routes above the route bound were folded into common prefixes (\"/**\" in the route table): raise --l7-max-routes to keep them apart",
				t.Client, t.Server, t.Port, t.Collapsed)
			l7.Collapsed = append(l7.Collapsed, msg)
			pl.Warnings = append(pl.Warnings, msg)
		}
	}
	if opts.Format.Kubernetes() && len(l7.Tables) > 0 {
		pl.Warnings = append(pl.Warnings, "--l7 with --format both: Cilium enforces the NetworkPolicies too, and their L3/L4 allow of a port lets every request past that port's HTTP rules; "+
			"apply only the CiliumNetworkPolicies (--format cilium) for L7 least privilege. Verification counts the requests this lets through as excess.")
	}
	pl.L7 = l7
}

func connLess(a, b ConnKey) bool {
	if x, y := a.To.String(), b.To.String(); x != y {
		return x < y
	}
	if a.Port != b.Port {
		return a.Port.String() < b.Port.String()
	}
	return a.From.String() < b.From.String()
}

// split moves each (peer, port) of a workload's rules that has a route
// table out of its rule into a rule of its own carrying the routes:
// Cilium applies L7 rules to every peer a rule names, so peers share an
// L7 rule only when their routes are the same. Ingress takes client
// workloads (the server's proxy checks them); egress takes outside names
// and addresses, where the client's egress proxy is the only place such
// requests can be checked. The rest of a split rule keeps its other
// fields; DNS rules stay as they are.
func (l7 *L7Plan) split(wp *WorkloadPolicy, rules []Rule, ingress bool, byConn map[ConnKey]*graph.L7) []Rule {
	self := WorkloadPeer(wp.Workload.Namespace, wp.Workload.Name)
	type l7Key struct {
		class string
		port  PortKey
		rules string
	}
	l7Rules := map[l7Key]*Rule{}
	var keys []l7Key
	var out []Rule
	changed := false
	for _, r := range rules {
		if r.DNS || r.DNSSelector != nil {
			out = append(out, r)
			continue
		}
		rest := map[Peer]map[PortKey]bool{}
		hit := false
		for _, peer := range r.Peers {
			for _, pr := range r.Ports {
				for _, port := range expand(pr) {
					conn, eligible := ConnKey{From: peer, To: self, Port: port}, peer.Kind == PeerWorkload
					if !ingress {
						conn, eligible = ConnKey{From: self, To: peer, Port: port}, peer.Kind == PeerFQDN || peer.Kind == PeerCIDR
					}
					l := byConn[conn]
					if !eligible || port.Protocol != observe.ProtoTCP || l == nil || l.Routes == nil || l.Routes.Len() == 0 {
						addPort(rest, peer, port)
						continue
					}
					hit = true
					table := RouteTable{Server: conn.To, Client: conn.From, Port: port, Routes: l.Routes.Routes(),
						Collapsed: l.Routes.Collapsed(), Requests: l.Routes.Requests()}
					if ingress {
						table.Host = hostRule(l.Routes, wp, port)
					}
					l7.Tables = append(l7.Tables, table)
					http := httpRules(table)
					key := l7Key{ruleClass(peer), port, fmt.Sprint(http)}
					if l7Rules[key] == nil {
						l7Rules[key] = &Rule{Ports: []PortRange{{Protocol: port.Protocol, Port: port.Port}}, HTTP: http}
						keys = append(keys, key)
					}
					l7Rules[key].Peers = append(l7Rules[key].Peers, peer)
				}
			}
		}
		if !hit {
			out = append(out, r)
			continue
		}
		changed = true
		for _, g := range groupRules(rest) {
			nr := r
			nr.Peers, nr.Ports = g.Peers, g.Ports
			out = append(out, nr)
		}
	}
	if !changed {
		return rules
	}
	for _, k := range keys {
		r := l7Rules[k]
		sortPeers(r.Peers)
		out = append(out, *r)
	}
	// DNS rules first, as synthesis writes them; the others in rule order.
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := out[i].DNS || out[i].DNSSelector != nil, out[j].DNS || out[j].DNSSelector != nil
		if di || dj {
			return di && !dj
		}
		return ruleLess(out[i], out[j])
	})
	return out
}

// expand lists the ports of a range (ranges hold observed ports only).
func expand(pr PortRange) []PortKey {
	if pr.End == 0 {
		return []PortKey{{pr.Protocol, pr.Port}}
	}
	out := make([]PortKey, 0, int(pr.End-pr.Port)+1)
	for p := int(pr.Port); p <= int(pr.End); p++ {
		out = append(out, PortKey{pr.Protocol, uint16(p)})
	}
	return out
}

func httpRules(t RouteTable) []HTTPRule {
	out := make([]HTTPRule, 0, len(t.Routes))
	for _, r := range t.Routes {
		out = append(out, HTTPRule{Method: r.Method, Path: r.Path, Host: t.Host})
	}
	return out
}

// hostRule is the Host rule for a table: when every request named the
// same Service that fronts the port, any spelling of that Service's name
// (short, with namespace, fully qualified) with any port; otherwise none.
func hostRule(t *routes.Table, wp *WorkloadPolicy, port PortKey) string {
	host := t.Host()
	if host == "" {
		return ""
	}
	name, _, _ := strings.Cut(host, ":")
	ns := wp.Workload.Namespace
	for _, e := range wp.Evidence {
		if e.To.Kind != PeerWorkload || e.To.Workload != wp.Workload.WorkloadRef || e.Protocol != port.Protocol || e.Port != port.Port {
			continue
		}
		for _, svc := range e.Services {
			sns, sname, ok := strings.Cut(svc, "/")
			if !ok || sns != ns {
				continue
			}
			for _, spelled := range []string{sname, sname + "." + ns, sname + "." + ns + ".svc", sname + "." + ns + ".svc.cluster.local"} {
				if name == spelled {
					return regexp.QuoteMeta(sname) + `(\.` + regexp.QuoteMeta(ns) + `(\.svc(\.cluster\.local)?)?)?(:[0-9]+)?`
				}
			}
		}
	}
	return ""
}

// dns sets the names on a workload's DNS rules: every name it looked up,
// families as patterns; or any name, with why, when the lookups are not
// all known.
func (l7 *L7Plan) dns(wp *WorkloadPolicy, g *Graph, byConn map[ConnKey]*graph.L7, opts L7Options) {
	hasDNS := false
	for _, r := range wp.Egress {
		hasDNS = hasDNS || r.DNS
	}
	if !hasDNS {
		return
	}
	self := WorkloadPeer(wp.Workload.Namespace, wp.Workload.Name)
	rn := ResolverNames{Workload: wp.Workload.WorkloadRef}
	var looked []string
	seen := false
	for _, e := range g.Edges {
		if e.From != self || e.Port != dnsPort {
			continue
		}
		l := byConn[e.Key()]
		if l == nil || len(l.Lookups) == 0 {
			continue
		}
		seen = true
		looked = append(looked, l.Lookups...)
		if l.LookupsTruncated {
			rn.Any, rn.Why = true, fmt.Sprintf("it looked up more than %d names; the rule cannot list them all", graph.MaxLookups)
		}
	}
	// Names it reached by toFQDNs must resolve too, even when their
	// lookups fell before the capture.
	for _, r := range wp.Egress {
		for _, p := range r.Peers {
			if p.Kind == PeerFQDN && seen {
				looked = append(looked, p.FQDN)
			}
		}
	}
	switch {
	case rn.Any:
	case !seen:
		rn.Any, rn.Why = true, "Hubble saw none of its DNS queries (no DNS visibility: see netpolgen visibility)"
	default:
		fams, rest := []names.Family(nil), uniqueSorted(looked)
		if !opts.ExactDNS {
			fams, rest = names.Families(looked, 0)
		}
		rn.Families = fams
		for _, f := range fams {
			rn.Matches = append(rn.Matches, DNSMatch{Name: f.Pattern, Pattern: true})
		}
		for _, n := range rest {
			rn.Matches = append(rn.Matches, DNSMatch{Name: n})
		}
		for i := range wp.Egress {
			if wp.Egress[i].DNS {
				wp.Egress[i].DNSNames = rn.Matches
			}
		}
	}
	l7.DNS = append(l7.DNS, rn)
}

func uniqueSorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	n := 0
	for i, v := range out {
		if i == 0 || v != out[n-1] {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// ciliumL7 renders a rule's L7 part: the DNS names it may resolve (any,
// when unknown), or its HTTP routes.
func ciliumL7(r Rule) *api.L7Rules {
	switch {
	case r.DNS && len(r.DNSNames) > 0:
		var dns []api.PortRuleDNS
		for _, m := range r.DNSNames {
			if m.Pattern {
				dns = append(dns, api.PortRuleDNS{MatchPattern: m.Name})
			} else {
				dns = append(dns, api.PortRuleDNS{MatchName: m.Name})
			}
		}
		return &api.L7Rules{DNS: dns}
	case r.DNS:
		// Every name is allowed at the DNS proxy: without L7 rules (learn
		// --l7) the resolver's lookups are not listed, and the server
		// itself is already limited to port 53.
		return &api.L7Rules{DNS: []api.PortRuleDNS{{MatchPattern: "*"}}}
	case len(r.HTTP) > 0:
		http := make([]api.PortRuleHTTP, 0, len(r.HTTP))
		for _, h := range r.HTTP {
			http = append(http, api.PortRuleHTTP{Method: h.Method, Path: h.Path, Host: h.Host})
		}
		return &api.L7Rules{HTTP: http}
	}
	return nil
}
