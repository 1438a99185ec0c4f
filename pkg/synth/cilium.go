package synth

import (
	"fmt"
	"strconv"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_metav1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

const (
	// ManagedByLabel and ManagedByValue mark every object netpolgen writes.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "netpolgen"
	// ciliumNamespaceLabel is the label Cilium gives every pod for its
	// namespace.
	ciliumNamespaceLabel = "k8s:io.kubernetes.pod.namespace"
	// k8sNamespaceNameLabel is the label Kubernetes gives every namespace.
	k8sNamespaceNameLabel = "kubernetes.io/metadata.name"
	// DefaultDenyName names the per-namespace default-deny policy.
	DefaultDenyName = "default-deny"
)

func objectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}}
}

// CiliumDefaultDeny selects every endpoint in the namespace and allows
// nothing: an empty ingress and egress rule turn enforcement on.
func CiliumDefaultDeny(namespace string) *ciliumv2.CiliumNetworkPolicy {
	return &ciliumv2.CiliumNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"},
		ObjectMeta: objectMeta(DefaultDenyName, namespace),
		Spec: &api.Rule{
			EndpointSelector: api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{}),
			Ingress:          []api.IngressRule{{}},
			Egress:           []api.EgressRule{{}},
		},
	}
}

// CiliumPolicy renders one workload's policy as a CiliumNetworkPolicy.
func (pl *Plan) CiliumPolicy(wp *WorkloadPolicy) (*ciliumv2.CiliumNetworkPolicy, error) {
	ns := wp.Workload.Namespace
	rule := &api.Rule{EndpointSelector: endpointSelector(wp.Workload.Selector, "", "")}
	for _, r := range splitICMP(wp.Ingress) {
		in, err := pl.ciliumIngress(r, ns)
		if err != nil {
			return nil, fmt.Errorf("policy %s: ingress: %w", wp.Workload.WorkloadRef, err)
		}
		rule.Ingress = append(rule.Ingress, in)
	}
	for _, r := range splitICMP(wp.Egress) {
		out, err := pl.ciliumEgress(r, ns)
		if err != nil {
			return nil, fmt.Errorf("policy %s: egress: %w", wp.Workload.WorkloadRef, err)
		}
		rule.Egress = append(rule.Egress, out)
	}
	// A workload seen with no allowed traffic still gets a policy saying
	// so: Cilium wants at least one rule, and an empty one selects no peer.
	if len(rule.Ingress) == 0 && len(rule.Egress) == 0 {
		rule.Ingress, rule.Egress = []api.IngressRule{{}}, []api.EgressRule{{}}
	}
	// A policy with no rules in one direction must still deny it: the
	// namespace default-deny does, and an explicit flag says so here too.
	yes := true
	rule.EnableDefaultDeny = api.DefaultDenyConfig{Ingress: &yes, Egress: &yes}
	cnp := &ciliumv2.CiliumNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"},
		ObjectMeta: objectMeta(wp.Workload.Name, ns),
		Spec:       rule,
	}
	if err := cnp.Spec.Sanitize(); err != nil {
		return nil, fmt.Errorf("policy %s: Cilium rejects the generated rule: %w", wp.Workload.WorkloadRef, err)
	}
	return cnp, nil
}

// endpointSelector selects pods by labels; namespace is added when the pod
// lives outside the policy's own namespace.
func endpointSelector(sel map[string]string, peerNS, policyNS string) api.EndpointSelector {
	labels := make(map[string]string, len(sel)+1)
	// Pod labels come from Kubernetes; naming the source keeps the
	// selector from matching same-named labels of another source.
	for k, v := range sel {
		labels["k8s:"+k] = v
	}
	if peerNS != "" && peerNS != policyNS {
		labels[ciliumNamespaceLabel] = peerNS
	}
	return api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{MatchLabels: labels})
}

func (pl *Plan) ciliumIngress(r Rule, ns string) (api.IngressRule, error) {
	var in api.IngressRule
	for _, p := range r.Peers {
		switch p.Kind {
		case PeerWorkload:
			in.FromEndpoints = append(in.FromEndpoints, endpointSelector(pl.Selectors[p.Workload], p.Workload.Namespace, ns))
		case PeerEntity:
			in.FromEntities = append(in.FromEntities, api.Entity(p.Entity))
		case PeerCIDR:
			in.FromCIDR = append(in.FromCIDR, api.CIDR(p.Prefix.String()))
		default:
			return in, fmt.Errorf("peer %s cannot be an ingress source", p)
		}
	}
	in.ToPorts, in.ICMPs = ciliumPorts(r)
	return in, nil
}

func (pl *Plan) ciliumEgress(r Rule, ns string) (api.EgressRule, error) {
	var out api.EgressRule
	if r.DNSSelector != nil {
		out.ToEndpoints = append(out.ToEndpoints, endpointSelector(r.DNSSelector.Labels, r.DNSSelector.Namespace, ns))
	}
	for _, p := range r.Peers {
		switch p.Kind {
		case PeerWorkload:
			out.ToEndpoints = append(out.ToEndpoints, endpointSelector(pl.Selectors[p.Workload], p.Workload.Namespace, ns))
		case PeerEntity:
			out.ToEntities = append(out.ToEntities, api.Entity(p.Entity))
		case PeerCIDR:
			out.ToCIDR = append(out.ToCIDR, api.CIDR(p.Prefix.String()))
		case PeerFQDN:
			out.ToFQDNs = append(out.ToFQDNs, api.FQDNSelector{MatchName: p.FQDN})
		default:
			return out, fmt.Errorf("unknown peer %s", p)
		}
	}
	out.ToPorts, out.ICMPs = ciliumPorts(r)
	return out, nil
}

// splitICMP gives the ICMP types of a rule a rule of their own: Cilium
// takes ICMP types or ports in one rule, never both.
func splitICMP(rules []Rule) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		ports, icmp := partitionICMP(r.Ports)
		if len(icmp) == 0 || len(ports) == 0 {
			out = append(out, r)
			continue
		}
		withPorts, withICMP := r, r
		withPorts.Ports, withICMP.Ports = ports, icmp
		withICMP.DNS = false
		out = append(out, withPorts, withICMP)
	}
	return out
}

// partitionICMP separates ICMP types from ports.
func partitionICMP(all []PortRange) (ports, icmp []PortRange) {
	for _, p := range all {
		if p.Protocol.IsICMP() {
			icmp = append(icmp, p)
		} else {
			ports = append(ports, p)
		}
	}
	return ports, icmp
}

// ciliumPorts renders a rule's ports, or its ICMP types when it has those
// (splitICMP keeps the two apart).
func ciliumPorts(r Rule) (api.PortRules, api.ICMPRules) {
	if len(r.Ports) > 0 && r.Ports[0].Protocol.IsICMP() {
		var fields []api.ICMPField
		for _, p := range r.Ports {
			family := api.IPv4Family
			if p.Protocol == observe.ProtoICMPv6 {
				family = api.IPv6Family
			}
			t := intstr.FromInt32(int32(p.Port))
			fields = append(fields, api.ICMPField{Family: family, Type: &t})
		}
		return nil, api.ICMPRules{{Fields: fields}}
	}
	pr := api.PortRule{}
	for _, p := range r.Ports {
		pr.Ports = append(pr.Ports, api.PortProtocol{Port: strconv.Itoa(int(p.Port)), EndPort: int32(p.End), Protocol: ciliumProtocol(p.Protocol)})
	}
	pr.Rules = ciliumL7(r)
	return api.PortRules{pr}, nil
}

func ciliumProtocol(p observe.Protocol) api.L4Proto {
	switch p {
	case observe.ProtoTCP:
		return api.ProtoTCP
	case observe.ProtoUDP:
		return api.ProtoUDP
	case observe.ProtoSCTP:
		return api.ProtoSCTP
	}
	return api.ProtoAny
}
