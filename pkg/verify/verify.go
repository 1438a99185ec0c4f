package verify

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/option"
	policytypes "github.com/cilium/cilium/pkg/policy/types"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Options tune verification.
type Options struct {
	// Subjects limits the excess sweep to these workloads; nil means
	// every workload. Either way the sweep looks only at the directions a
	// policy selects the workload for: an unselected direction allows
	// everything by Cilium's rules, which is no policy's excess.
	Subjects func(synth.WorkloadRef) bool
	Logger   *slog.Logger
	// LocalhostByPolicy checks the node's own traffic to its pods against
	// policy, as Cilium does with allow-localhost=policy. By default it is
	// allowed, as Cilium does in Kubernetes (allow-localhost=auto).
	LocalhostByPolicy bool

	// exhaustive makes the excess sweep look up every candidate instead
	// of only those an allow entry covers; tests compare the two.
	exhaustive bool
}

// Finding is one connection verification has something to say about.
type Finding struct {
	From, To synth.Peer
	Port     synth.PortKey
	// Side is "egress" when From's policy decides, "ingress" when To's
	// does, "both" when both deny.
	Side string
	// Reason, when set, says why the connection cannot be allowed in the
	// policy format checked (a namespace NetworkPolicy cannot select).
	Reason string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s -> %s %s (%s)", f.From, f.To, f.Port, f.Side)
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// Result is what verification found.
type Result struct {
	// Observed counts the observed connections checked; Allowed those
	// the policies allow.
	Observed, Allowed int
	// Denied are observed connections the policies deny: each one would
	// break on enforcement.
	Denied []Finding
	// Inexpressible are denied observed connections whose peer the
	// policy format cannot name (a Cilium entity in a NetworkPolicy); the
	// report lists them with the warning the synthesis raised.
	Inexpressible []Finding
	// Candidates counts the never-observed (subject, peer, port)
	// combinations the excess sweep asked about.
	Candidates int
	// Excess are never-observed connections the policies allow.
	Excess []Finding
	// ByDesign are never-observed connections allowed on purpose: DNS on
	// TCP as well as UDP.
	ByDesign []Finding
	// Public are never-observed outside peers allowed into a port the
	// policy opens to any outside address: the public-endpoint decision
	// (REPORT.md, "Ingress from outside the cluster"), not excess.
	Public []Finding
	// HostAllowed counts never-observed connections from the node to its
	// own pods, which Cilium allows whatever the policy says unless
	// allow-localhost=policy: the agent's setting, not excess of the policy.
	HostAllowed int
	// Unchecked are observed edges no rule names (ICMP errors, protocols
	// without ports or types), which the engine
	// cannot look up.
	Unchecked int
	// IdentityNote, when set, says which workloads were checked with
	// identities made from their selectors because the graph recorded
	// no identity labels for them.
	IdentityNote string
}

// observedVerdict judges an observed connection for every identity it
// was seen with: each label set of the source against each of the
// destination. It reports whether any pair is denied at the source
// (egress) or at the destination (ingress).
func observedVerdict(cache *verdicts, froms, tos []*identity.Identity, e synth.Edge) (egressDenied, ingressDenied bool, err error) {
	for _, from := range froms {
		for _, to := range tos {
			v, err := cache.lookup(from, to, e.Protocol, e.Port)
			if err != nil {
				return false, false, err
			}
			egressDenied = egressDenied || v.Egress != policytypes.DecisionAllowed
			ingressDenied = ingressDenied || v.Ingress != policytypes.DecisionAllowed
		}
	}
	return egressDenied, ingressDenied, nil
}

// OK reports whether every observed connection is allowed.
func (r *Result) OK() bool { return len(r.Denied) == 0 }

// Verify checks policies against the graph they were learned from.
func Verify(g *synth.Graph, ps *Policies, opts Options) (*Result, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	subjects := opts.Subjects
	if subjects == nil {
		subjects = func(synth.WorkloadRef) bool { return true }
	}
	setLocalhostMode(opts.LocalhostByPolicy)
	peers := graphPeers(g)
	ids, err := newIdentities(g, peers)
	if err != nil {
		return nil, err
	}
	eng, err := newEngine(logger, ids.all, ps)
	if err != nil {
		return nil, err
	}
	kubernetesOnly := len(ps.Cilium) == 0
	namespaces := newNamespaceSelection(g)
	res := &Result{IdentityNote: ids.note()}
	cache := newVerdicts(eng)
	defer cache.release()

	observed := map[synth.ConnKey]bool{}
	var ports []synth.PortKey
	seenPort := map[synth.PortKey]bool{}
	dnsServers := map[synth.Peer]bool{}
	resolvers := map[synth.Peer]bool{}
	for _, e := range g.Edges {
		if ok, _ := synth.Ruleable(e.Key().Port); !ok {
			res.Unchecked++
			continue
		}
		k := e.Key()
		if observed[k] {
			continue
		}
		observed[k] = true
		if !seenPort[k.Port] {
			seenPort[k.Port] = true
			ports = append(ports, k.Port)
		}
		if isDNS(k.Port) {
			dnsServers[e.To] = true
			resolvers[e.From] = true
		}
		if e.To.Kind == synth.PeerFQDN {
			resolvers[e.From] = true
		}
		res.Observed++
		egressDenied, ingressDenied, err := observedVerdict(cache, ids.byPeer[e.From], ids.byPeer[e.To], e)
		if err != nil {
			return nil, fmt.Errorf("verify %s -> %s %s: %w", e.From, e.To, k.Port, err)
		}
		if !egressDenied && !ingressDenied {
			res.Allowed++
			continue
		}
		f := Finding{From: e.From, To: e.To, Port: k.Port, Side: side(egressDenied, ingressDenied)}
		if kubernetesOnly {
			f.Reason = namespaces.unselectable(e)
		}
		if kubernetesOnly && f.Reason == "" && inexpressibleEdge(e, g) {
			res.Inexpressible = append(res.Inexpressible, f)
		} else {
			res.Denied = append(res.Denied, f)
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Protocol != ports[j].Protocol {
			return ports[i].Protocol < ports[j].Protocol
		}
		return ports[i].Port < ports[j].Port
	})
	// The DNS rule allows both protocols, so both are candidates.
	for _, extra := range []synth.PortKey{{Protocol: observe.ProtoUDP, Port: 53}, {Protocol: observe.ProtoTCP, Port: 53}} {
		if len(resolvers) > 0 && !seenPort[extra] {
			seenPort[extra] = true
			ports = append(ports, extra)
		}
	}
	sweep := newExcessSweep(cache, ids, peers, ports, observed, res)
	sweep.hostAlways, sweep.exhaustive = !opts.LocalhostByPolicy, opts.exhaustive
	sweep.dnsServers, sweep.resolvers = dnsServers, resolvers
	for _, p := range peers {
		if p.Kind != synth.PeerWorkload || !subjects(p.Workload) {
			continue
		}
		if err := sweep.subject(p); err != nil {
			return nil, err
		}
	}
	sortFindings(res.Excess)
	sortFindings(res.ByDesign)
	sortFindings(res.Public)
	return res, nil
}

func sortFindings(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].String() < fs[j].String() })
}

func side(egressDenied, ingressDenied bool) string {
	switch {
	case egressDenied && ingressDenied:
		return "both"
	case egressDenied:
		return "egress"
	}
	return "ingress"
}

func isDNS(p synth.PortKey) bool {
	return p.Port == 53 && (p.Protocol == observe.ProtoUDP || p.Protocol == observe.ProtoTCP)
}

// inexpressibleEdge says whether NetworkPolicy has no way to allow an
// edge: it cannot name one of its peers, or the edge is ICMP.
func inexpressibleEdge(e synth.Edge, g *synth.Graph) bool {
	return inexpressible(e.From, g) || inexpressible(e.To, g) || e.Protocol.IsICMP()
}

// inexpressible says whether NetworkPolicy has no way to name a peer.
func inexpressible(p synth.Peer, g *synth.Graph) bool {
	switch p.Kind {
	case synth.PeerEntity:
		// The kube-apiserver's known addresses are ipBlocks.
		return p.Entity != synth.EntityWorld && len(g.EntityIPs[p.Entity]) == 0
	case synth.PeerFQDN:
		return len(g.NameIPs[p.FQDN]) == 0
	}
	return false
}

// graphPeers lists every peer of the graph once, workloads first, in a
// stable order.
func graphPeers(g *synth.Graph) []synth.Peer {
	seen := map[synth.Peer]bool{}
	var out []synth.Peer
	add := func(p synth.Peer) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, w := range g.Workloads {
		add(synth.WorkloadPeer(w.Namespace, w.Name))
	}
	for _, e := range g.Edges {
		add(e.From)
		add(e.To)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].String() < out[j].String()
	})
	return out
}

// Summary is the result as the synthesis report states it.
func (r *Result) Summary() *synth.Verification {
	lines := func(fs []Finding) []string {
		out := make([]string, 0, len(fs))
		for _, f := range fs {
			out = append(out, f.String())
		}
		return out
	}
	return &synth.Verification{
		Observed: r.Observed, Allowed: r.Allowed, Candidates: r.Candidates,
		Denied: lines(r.Denied), Inexpressible: lines(r.Inexpressible),
		Excess: lines(r.Excess), ByDesign: lines(r.ByDesign), Public: lines(r.Public), HostAllowed: r.HostAllowed,
		IdentityNote: r.IdentityNote,
	}
}

// FromFiles collects generated files into policies, skipping
// kustomizations and the report.
func FromFiles(files []synth.File) (*Policies, error) {
	ps := &Policies{}
	for _, f := range files {
		base := f.Path[strings.LastIndex(f.Path, "/")+1:]
		if base == "kustomization.yaml" || !strings.HasSuffix(base, ".yaml") {
			continue
		}
		if err := ps.Add(f.Path, f.Data); err != nil {
			return nil, err
		}
		ps.Files++
	}
	return ps, nil
}

// setLocalhostMode sets the one agent option the policy engine reads from
// Cilium's process-wide configuration: whether the host may always reach
// its local pods. Cilium resolves allow-localhost=auto to always in
// Kubernetes, and the engine must agree with the cluster it models.
func setLocalhostMode(byPolicy bool) {
	mode := option.AllowLocalhostAlways
	if byPolicy {
		mode = option.AllowLocalhostPolicy
	}
	option.Config.UnsafeDaemonConfigOption.AllowLocalhost = mode
}
