package synth

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// KubernetesDefaultDeny selects every pod in the namespace and allows
// nothing in either direction.
func KubernetesDefaultDeny(namespace string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(DefaultDenyName, namespace),
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// KubernetesPolicy renders one workload's policy as a NetworkPolicy. It
// returns warnings for peers NetworkPolicy cannot name (entities without
// known addresses); those rules are left out.
func (pl *Plan) KubernetesPolicy(wp *WorkloadPolicy) (*networkingv1.NetworkPolicy, []string, error) {
	ns := wp.Workload.Namespace
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(wp.Workload.Name, ns),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: copyLabels(wp.Workload.Selector)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	var warnings []string
	ingress, egress := withoutICMP(wp.Ingress, &warnings), withoutICMP(wp.Egress, &warnings)
	for _, r := range ingress {
		peers, warn := pl.kubernetesPeers(r, ns, true)
		warnings = append(warnings, warn...)
		if len(peers) == 0 {
			continue
		}
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: kubernetesPorts(r.Ports)})
	}
	for _, r := range egress {
		peers, warn := pl.kubernetesPeers(r, ns, false)
		warnings = append(warnings, warn...)
		if len(peers) == 0 {
			continue
		}
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: kubernetesPorts(r.Ports)})
	}
	for i := range warnings {
		warnings[i] = fmt.Sprintf("NetworkPolicy %s: %s", wp.Workload.WorkloadRef, warnings[i])
	}
	if err := ValidateNetworkPolicy(np); err != nil {
		return nil, nil, fmt.Errorf("policy %s: %w", wp.Workload.WorkloadRef, err)
	}
	return np, warnings, nil
}

// withoutICMP drops the ICMP types NetworkPolicy cannot express, and a
// rule left with no ports at all: written without ports it would allow
// every port.
func withoutICMP(rules []Rule, warnings *[]string) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		ports, icmp := partitionICMP(r.Ports)
		if len(icmp) > 0 {
			*warnings = append(*warnings, fmt.Sprintf("%s with %s: NetworkPolicy cannot express ICMP; left out (the CiliumNetworkPolicy allows it)", rangesText(icmp), peersText(r.Peers)))
		}
		if len(ports) == 0 {
			continue
		}
		r.Ports = ports
		out = append(out, r)
	}
	return out
}

func (pl *Plan) kubernetesPeers(r Rule, ns string, ingress bool) ([]networkingv1.NetworkPolicyPeer, []string) {
	var peers []networkingv1.NetworkPolicyPeer
	var warnings []string
	if r.DNSSelector != nil {
		peers, warnings = pl.appendPodPeer(peers, warnings, r.DNSSelector.Labels, r.DNSSelector.Namespace, ns, r.Ports)
	}
	var blocks []netip.Prefix
	for _, p := range r.Peers {
		switch p.Kind {
		case PeerWorkload:
			peers, warnings = pl.appendPodPeer(peers, warnings, pl.Selectors[p.Workload], p.Workload.Namespace, ns, r.Ports)
		case PeerCIDR:
			blocks = append(blocks, p.Prefix)
		case PeerFQDN:
			ips := pl.NameIPs[p.FQDN]
			if len(ips) == 0 {
				warnings = append(warnings, fmt.Sprintf("%s on %s: no address seen for the name, and NetworkPolicy cannot match names; left out", p.FQDN, rangesText(r.Ports)))
			}
			for _, ip := range ips {
				blocks = append(blocks, netip.PrefixFrom(ip, ip.BitLen()))
			}
		case PeerEntity:
			b, warn := pl.entityBlocks(p.Entity, r.Ports, ingress)
			blocks = append(blocks, b...)
			if warn != "" {
				warnings = append(warnings, warn)
			}
		}
	}
	for _, b := range dedupPrefixes(blocks) {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: b.String(), Except: pl.clusterExcept(b)}})
	}
	return peers, warnings
}

// entityBlocks expresses a Cilium entity as address blocks.
func (pl *Plan) entityBlocks(e Entity, ports []PortRange, ingress bool) ([]netip.Prefix, string) {
	if e == EntityHost && ingress {
		return nil, fmt.Sprintf("host on %s: NetworkPolicy cannot name the node; Cilium lets a node reach its own pods unless allow-localhost=policy, so kubelet probes keep working", rangesText(ports))
	}
	if e == EntityWorld {
		return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, ""
	}
	ips := pl.EntityIPs[e]
	if len(ips) == 0 && e == EntityKubeAPIServer {
		return nil, fmt.Sprintf("%s on %s: NetworkPolicy cannot select the kube-apiserver entity, and neither the flows nor the cluster gave its addresses (learn --cluster reads them from the default/kubernetes EndpointSlice); left out, so this workload loses the Kubernetes API under NetworkPolicy: use --cluster or the CiliumNetworkPolicy format", e, rangesText(ports))
	}
	if len(ips) == 0 {
		return nil, fmt.Sprintf("%s on %s: NetworkPolicy cannot select the %s entity and its addresses were not seen; use the CiliumNetworkPolicy format for it; left out", e, rangesText(ports), e)
	}
	blocks := make([]netip.Prefix, 0, len(ips))
	for _, ip := range ips {
		blocks = append(blocks, netip.PrefixFrom(ip, ip.BitLen()))
	}
	note := ""
	if e != EntityKubeAPIServer {
		note = fmt.Sprintf("%s on %s: written as ipBlocks of its observed addresses; Cilium matches node addresses in ipBlocks only with policy-cidr-match-mode=nodes", e, rangesText(ports))
	} else {
		note = fmt.Sprintf("%s on %s: written as ipBlocks of its observed endpoints; Cilium matches them only when the API server runs outside the cluster or with policy-cidr-match-mode=nodes", e, rangesText(ports))
	}
	return blocks, note
}

// clusterExcept lists the cluster ranges inside a block: a block as wide
// as 0.0.0.0/0 must not also allow the cluster's own pods and Services.
func (pl *Plan) clusterExcept(b netip.Prefix) []string {
	var out []string
	for _, c := range pl.ClusterCIDRs {
		if c.Bits() > b.Bits() && b.Contains(c.Addr()) {
			out = append(out, c.Masked().String())
		}
	}
	return out
}

// appendPodPeer adds a peer selecting pods by labels. A peer in another
// namespace needs a namespaceSelector, which selects by the namespace
// labels Cilium puts on the pods' identities: when the identities seen
// show none that singles the namespace out, the peer is left out with a
// warning, since a selector that matches nothing would only pretend.
func (pl *Plan) appendPodPeer(peers []networkingv1.NetworkPolicyPeer, warnings []string, sel map[string]string, peerNS, policyNS string, ports []PortRange) ([]networkingv1.NetworkPolicyPeer, []string) {
	p := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: copyLabels(sel)}}
	if peerNS != policyNS {
		nsSel, ok := pl.NamespaceSelections[peerNS]
		if !ok {
			nsSel = NamespaceSelection{Labels: map[string]string{k8sNamespaceNameLabel: peerNS}}
		}
		if nsSel.Labels == nil {
			return peers, append(warnings, fmt.Sprintf("%s on %s: %s; left out", labelsText(sel, peerNS), rangesText(ports), nsSel.Note))
		}
		if nsSel.Note != "" {
			warnings = append(warnings, fmt.Sprintf("%s on %s: %s", labelsText(sel, peerNS), rangesText(ports), nsSel.Note))
		}
		p.NamespaceSelector = &metav1.LabelSelector{MatchLabels: copyLabels(nsSel.Labels)}
	}
	return append(peers, p), warnings
}

// labelsText names pods by namespace and labels: "kube-system/k8s-app=kube-dns".
func labelsText(sel map[string]string, ns string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + sel[k]
	}
	return ns + "/" + strings.Join(keys, ",")
}

func kubernetesPorts(ranges []PortRange) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ranges))
	for _, r := range ranges {
		proto := kubernetesProtocol(r.Protocol)
		port := intstr.FromInt32(int32(r.Port))
		np := networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port}
		if r.End != 0 {
			end := int32(r.End)
			np.EndPort = &end
		}
		out = append(out, np)
	}
	return out
}

func kubernetesProtocol(p observe.Protocol) corev1.Protocol {
	switch p {
	case observe.ProtoUDP:
		return corev1.ProtocolUDP
	case observe.ProtoSCTP:
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func dedupPrefixes(ps []netip.Prefix) []netip.Prefix {
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
	out := ps[:0]
	for i, p := range ps {
		if i == 0 || p != ps[i-1] {
			out = append(out, p)
		}
	}
	return out
}

func peersText(ps []Peer) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func rangesText(rs []PortRange) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += r.String()
	}
	return s
}
