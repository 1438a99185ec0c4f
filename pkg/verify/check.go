package verify

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy"
	policyapi "github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// ruleLabel tags every policy entry loaded by Check with its index, so
// the rule origins Cilium attaches to a verdict name the rules that
// allowed it.
const (
	ruleLabelSource = "netpolgen"
	ruleLabelKey    = "netpolgen.io/rule"
	// namespaceLabelPrefix is how Cilium names a namespace's labels on
	// its pods' identities.
	namespaceLabelPrefix = "io.cilium.k8s.namespace.labels."
)

// PolicyRule is one allow rule as Cilium's engine holds it: one ingress
// or egress rule of one policy object.
type PolicyRule struct {
	// ID is the rule's index in Checked.Rules.
	ID        int
	Kind      string // CiliumNetworkPolicy or NetworkPolicy
	Namespace string
	Name      string
	Ingress   bool
	// Index counts the policy's allow rules of the same direction in
	// Cilium's parse order, from 0.
	Index int
	// Peers and Ports describe the rule in Cilium's selector syntax.
	Peers string
	Ports string
}

// Direction is "ingress" or "egress".
func (r PolicyRule) Direction() string {
	if r.Ingress {
		return "ingress"
	}
	return "egress"
}

func (r PolicyRule) String() string {
	return fmt.Sprintf("%s %s/%s %s rule %d", r.Kind, r.Namespace, r.Name, r.Direction(), r.Index)
}

// Connection is Cilium's verdict on one observed connection.
type Connection struct {
	Edge    synth.Edge
	Allowed bool
	// Side says which policy denies it, as Finding.Side; empty when
	// allowed.
	Side string
	// Inexpressible is set when the denied connection's peer cannot be
	// named by a NetworkPolicy and only NetworkPolicies are loaded.
	Inexpressible bool
	// Reason, when set, says why only NetworkPolicies cannot allow the
	// denied connection: a namespace they cannot select.
	Reason string
	// EgressRules and IngressRules are the IDs of the rules that allowed
	// each half; empty when no policy governs that half.
	EgressRules, IngressRules []int
}

// Selection says whether any policy selects a workload, per direction.
type Selection struct {
	Ingress, Egress bool
}

// Checked is what Check found.
type Checked struct {
	// Connections are the graph's port-carrying edges, in graph order.
	Connections []Connection
	// Rules are the loaded allow rules, by ID.
	Rules []PolicyRule
	// Selected says, for every workload of the graph, whether a policy
	// selects it.
	Selected map[synth.WorkloadRef]Selection
	// Unchecked counts edges no rule names (ICMP errors, protocols without
	// ports or types), which the engine
	// cannot look up.
	Unchecked int
	// IdentityNote, when set, says which workloads were checked with
	// identities made from their selectors (no observed labels).
	IdentityNote string
}

// Check looks up every observed connection of g through the same Cilium
// engine Verify uses, without the excess sweep, and reports which rules
// allowed each one and which workloads any policy selects. It is the
// per-connection view a continuous checker needs.
func Check(g *synth.Graph, ps *Policies, opts Options) (*Checked, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	setLocalhostMode(opts.LocalhostByPolicy)
	peers := graphPeers(g)
	ids, err := newIdentities(g, peers)
	if err != nil {
		return nil, err
	}
	eng, rules, err := newTaggedEngine(logger, ids.all, ps)
	if err != nil {
		return nil, err
	}
	out := &Checked{Rules: rules, Selected: map[synth.WorkloadRef]Selection{}, IdentityNote: ids.note()}
	// Each identity's policy is distilled once, as LookupFlow does per
	// call: a graph's connections share few identities, and distilling is
	// the expensive step.
	distilled := map[*identity.Identity]*subjectPolicy{}
	defer func() {
		for _, p := range distilled {
			eng.release(p)
		}
	}()
	policyOf := func(p synth.Peer, id *identity.Identity) (*subjectPolicy, error) {
		if sp := distilled[id]; sp != nil {
			return sp, nil
		}
		sp, err := eng.distill(id)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", p, err)
		}
		distilled[id] = sp
		return sp, nil
	}
	kubernetesOnly := len(ps.Cilium) == 0
	namespaces := newNamespaceSelection(g)
	for _, e := range g.Edges {
		if ok, _ := synth.Ruleable(e.Key().Port); !ok {
			out.Unchecked++
			continue
		}
		proto, err := u8Proto(e.Protocol)
		if err != nil {
			return nil, err
		}
		// Every identity the source was seen with against every one of
		// the destination's: allowed only when each pair is.
		var egressDenied, ingressDenied bool
		var egressRules, ingressRules []int
		for _, from := range ids.byPeer[e.From] {
			src, err := policyOf(e.From, from)
			if err != nil {
				return nil, err
			}
			for _, to := range ids.byPeer[e.To] {
				dst, err := policyOf(e.To, to)
				if err != nil {
					return nil, err
				}
				// Egress at the source, ingress at the destination, as LookupFlow.
				egress, egressMeta, _ := src.epp.Lookup(policy.EgressKey().WithIdentity(to.ID).WithPortProto(proto, e.Port))
				ingress, ingressMeta, _ := dst.epp.Lookup(policy.IngressKey().WithIdentity(from.ID).WithPortProto(proto, e.Port))
				egressDenied = egressDenied || egress.IsDeny()
				ingressDenied = ingressDenied || ingress.IsDeny()
				egressRules = unionInts(egressRules, ruleIDs(egressMeta))
				ingressRules = unionInts(ingressRules, ruleIDs(ingressMeta))
			}
		}
		c := Connection{Edge: e, Allowed: !egressDenied && !ingressDenied}
		if c.Allowed {
			c.EgressRules, c.IngressRules = egressRules, ingressRules
		} else {
			c.Side = side(egressDenied, ingressDenied)
			if kubernetesOnly {
				c.Reason = namespaces.unselectable(e)
			}
			c.Inexpressible = kubernetesOnly && c.Reason == "" && inexpressibleEdge(e, g)
		}
		out.Connections = append(out.Connections, c)
	}
	for _, p := range peers {
		if p.Kind != synth.PeerWorkload {
			continue
		}
		// A workload is selected in a direction only when every
		// identity it was seen with is: pods left out are unprotected.
		sel := Selection{Ingress: true, Egress: true}
		for _, id := range ids.byPeer[p] {
			pol, err := policyOf(p, id)
			if err != nil {
				return nil, err
			}
			sel.Ingress = sel.Ingress && pol.epp.SelectorPolicy.IngressPolicyEnabled
			sel.Egress = sel.Egress && pol.epp.SelectorPolicy.EgressPolicyEnabled
		}
		out.Selected[p.Workload] = sel
	}
	return out, nil
}

// unionInts merges two sorted lists of rule IDs.
func unionInts(a, b []int) []int {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	slices.Sort(a)
	return a
}

// newTaggedEngine is newEngine with every allow entry labelled by its
// rule ID, so verdicts can be traced back to rules.
func newTaggedEngine(logger *slog.Logger, ids identity.IdentityMap, ps *Policies) (*engine, []PolicyRule, error) {
	var rules []PolicyRule
	tag := func(kind, ns, name string, entries policytypes.PolicyEntries) {
		index := map[bool]int{}
		for _, en := range entries {
			if en.Verdict != policytypes.Allow || len(en.L3) == 0 && len(en.L4) == 0 {
				// Deny entries, and the empty rules of a default-deny
				// ("ingress: [{}]"), allow nothing: they are not rules
				// that can go stale.
				continue
			}
			r := PolicyRule{ID: len(rules), Kind: kind, Namespace: ns, Name: name, Ingress: en.Ingress, Index: index[en.Ingress],
				Peers: describeSelectors(en.L3), Ports: describePorts(en)}
			index[en.Ingress]++
			rules = append(rules, r)
			// Entries of one policy share their Labels slice: copy before
			// adding the tag.
			en.Labels = append(slices.Clone(en.Labels), labels.NewLabel(ruleLabelKey, strconv.Itoa(r.ID), ruleLabelSource))
		}
	}
	eng, err := newEngineWith(logger, ids, ps, tag)
	if err != nil {
		return nil, nil, err
	}
	return eng, rules, nil
}

// ruleIDs reads the rule tags out of a verdict's rule origins.
func ruleIDs(meta policy.RuleMeta) []int {
	var out []int
	for _, lbls := range meta.LabelArray() {
		for _, l := range lbls {
			if l.Key != ruleLabelKey || l.Source != ruleLabelSource {
				continue
			}
			if id, err := strconv.Atoi(l.Value); err == nil && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

func describeSelectors(sel policytypes.Selectors) string {
	if len(sel) == 0 {
		return "any peer"
	}
	parts := make([]string, 0, len(sel))
	for _, s := range sel {
		parts = append(parts, describeSelector(s))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// describeSelector writes a peer selector for people: an endpoint
// selector as its labels ("k8s-app=kube-dns namespace=kube-system",
// "entity host"), a name as "fqdn api.example.com", addresses as "cidr
// 192.0.2.10/32".
func describeSelector(s policytypes.Selector) string {
	if fq, ok := s.GetFQDNSelector(); ok {
		if fq.MatchName != "" {
			return "fqdn " + fq.MatchName
		}
		return "fqdn pattern " + fq.MatchPattern
	}
	if prefixes := s.GetCIDRPrefixes(); len(prefixes) > 0 {
		out := make([]string, 0, len(prefixes))
		for _, p := range prefixes {
			out = append(out, p.String())
		}
		return "cidr " + strings.Join(out, " ")
	}
	ls, ok := s.(*policytypes.LabelSelector)
	if !ok {
		return s.String()
	}
	data, err := ls.MarshalJSON()
	var parsed struct {
		MatchLabels      map[string]string `json:"matchLabels"`
		MatchExpressions []struct {
			Key      string   `json:"key"`
			Operator string   `json:"operator"`
			Values   []string `json:"values"`
		} `json:"matchExpressions"`
	}
	if err != nil || json.Unmarshal(data, &parsed) != nil {
		return s.String()
	}
	var terms []string
	for k, v := range parsed.MatchLabels {
		switch key := strings.TrimPrefix(k, "k8s:"); {
		case strings.HasPrefix(k, "reserved:"):
			terms = append(terms, "entity "+strings.TrimPrefix(k, "reserved:"))
		case key == podNamespaceLabel || key == namespaceNameLabel:
			terms = append(terms, "namespace="+v)
		case strings.HasPrefix(key, namespaceLabelPrefix):
			terms = append(terms, "namespace label "+strings.TrimPrefix(key, namespaceLabelPrefix)+"="+v)
		default:
			terms = append(terms, key+"="+v)
		}
	}
	for _, e := range parsed.MatchExpressions {
		terms = append(terms, fmt.Sprintf("%s %s (%s)", strings.TrimPrefix(e.Key, "k8s:"), e.Operator, strings.Join(e.Values, ",")))
	}
	if len(terms) == 0 {
		return "all endpoints"
	}
	slices.Sort(terms)
	return strings.Join(terms, " ")
}

func describePorts(en *policytypes.PolicyEntry) string {
	var parts []string
	for _, pr := range en.L4 {
		for _, p := range pr.Ports {
			s := p.Port + "/" + string(p.Protocol)
			switch {
			case p.Protocol == policyapi.ProtoICMP || p.Protocol == policyapi.ProtoICMPv6:
				s = string(p.Protocol) + " type " + p.Port
			case p.EndPort != 0:
				s = fmt.Sprintf("%s-%d/%s", p.Port, p.EndPort, p.Protocol)
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "any port"
	}
	return strings.Join(parts, ", ")
}
