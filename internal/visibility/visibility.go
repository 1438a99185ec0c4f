// Package visibility writes netpolgen's learning-mode policies: per
// namespace, a CiliumNetworkPolicy that selects every pod, leaves default
// deny off in both directions (so it can never deny anything) and sends
// DNS queries to the cluster's DNS servers through Cilium's DNS proxy, so
// Hubble reports the names pods resolve and `netpolgen learn` can write
// toFQDNs instead of addresses. Chosen ports may also be sent through
// Envoy for HTTP visibility.
//
// Every object carries the managed-by label and the role label
// synth.RoleVisibility, which learn, diff and drift use to tell these
// policies apart from the policies that allow and deny.
package visibility

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_metav1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

const (
	// DNSPolicyName names the per-namespace DNS visibility policy.
	DNSPolicyName = "netpolgen-visibility"
	// HTTPPolicyName names the per-namespace HTTP visibility policy,
	// written only for namespaces with --http ports.
	HTTPPolicyName = "netpolgen-visibility-http"
	// FileName is the file holding a namespace's policies.
	FileName = "visibility.yaml"
	// marker is in every file this package writes, so a re-run knows
	// which files are its own.
	marker = synth.RoleLabel + ": " + synth.RoleVisibility

	ciliumNamespaceLabel = "k8s:io.kubernetes.pod.namespace"
	dnsPort              = "53"
)

// Options say what the learning-mode policies cover.
type Options struct {
	// Namespaces get one policy set each.
	Namespaces []string
	// DNS selects the cluster's DNS servers, as learn's --dns-selector.
	DNS synth.DNSSelector
	// HTTP are the ports sent through Envoy.
	HTTP []HTTPPort
}

// HTTPPort is a port whose ingress is sent through Envoy; an empty
// Namespace means every namespace.
type HTTPPort struct {
	Namespace string
	Port      uint16
}

func (p HTTPPort) String() string {
	if p.Namespace == "" {
		return strconv.Itoa(int(p.Port))
	}
	return p.Namespace + "/" + strconv.Itoa(int(p.Port))
}

// ParseHTTPPorts reads --http values: PORT (every namespace) or
// NAMESPACE/PORT, comma-separated or repeated.
func ParseHTTPPorts(values []string) ([]HTTPPort, error) {
	var out []HTTPPort
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			ns, port, scoped := strings.Cut(item, "/")
			if !scoped {
				ns, port = "", item
			} else if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				return nil, fmt.Errorf("--http %q: namespace %q is not a namespace name: %s", item, ns, msgs[0])
			}
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("--http %q: port %q is not a number from 1 to 65535; want PORT or NAMESPACE/PORT, e.g. 8080 or shop/8080", item, port)
			}
			out = append(out, HTTPPort{Namespace: ns, Port: uint16(n)})
		}
	}
	return out, nil
}

// Check finds what would make the policies wrong before anything is
// written: no namespace, a bad namespace name, an HTTP port scoped to a
// namespace that gets no policy, an empty DNS selector.
func (o Options) Check() error {
	if len(o.Namespaces) == 0 {
		return fmt.Errorf("no namespaces to write learning-mode policies for")
	}
	for _, ns := range o.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return fmt.Errorf("namespace %q is not a namespace name: %s", ns, msgs[0])
		}
	}
	if o.DNS.Namespace == "" || len(o.DNS.Labels) == 0 {
		return fmt.Errorf("no DNS selector: give --dns-selector namespace/key=value")
	}
	for _, p := range o.HTTP {
		if p.Namespace != "" && !contains(o.Namespaces, p.Namespace) {
			return fmt.Errorf("--http %s: namespace %q gets no learning-mode policy (namespaces: %s)", p, p.Namespace, strings.Join(o.Namespaces, ", "))
		}
	}
	return nil
}

// Policies returns a namespace's learning-mode policies: the DNS one, and
// the HTTP one when ports are chosen for it. Each passes Cilium's
// Sanitize.
func Policies(namespace string, opts Options) (dns, http *ciliumv2.CiliumNetworkPolicy, err error) {
	dns = newPolicy(DNSPolicyName, namespace, opts.DNS)
	dns.Spec.Egress = []api.EgressRule{{
		EgressCommonRule: api.EgressCommonRule{ToEndpoints: []api.EndpointSelector{dnsServers(opts.DNS)}},
		ToPorts: api.PortRules{{
			Ports: []api.PortProtocol{{Port: dnsPort, Protocol: api.ProtoUDP}, {Port: dnsPort, Protocol: api.ProtoTCP}},
			// Every name passes: the proxy is there to see, not to judge.
			Rules: &api.L7Rules{DNS: []api.PortRuleDNS{{MatchPattern: "*"}}},
		}},
	}}
	if err := dns.Spec.Sanitize(); err != nil {
		return nil, nil, fmt.Errorf("%s/%s: Cilium rejects it: %w", namespace, DNSPolicyName, err)
	}
	ports := httpPorts(namespace, opts.HTTP)
	if len(ports) == 0 {
		return dns, nil, nil
	}
	http = newPolicy(HTTPPolicyName, namespace, opts.DNS)
	rule := api.PortRule{Rules: &api.L7Rules{HTTP: []api.PortRuleHTTP{{}}}}
	for _, p := range ports {
		rule.Ports = append(rule.Ports, api.PortProtocol{Port: strconv.Itoa(int(p)), Protocol: api.ProtoTCP})
	}
	http.Spec.Ingress = []api.IngressRule{{
		IngressCommonRule: api.IngressCommonRule{FromEntities: api.EntitySlice{api.EntityAll}},
		ToPorts:           api.PortRules{rule},
	}}
	if err := http.Spec.Sanitize(); err != nil {
		return nil, nil, fmt.Errorf("%s/%s: Cilium rejects it: %w", namespace, HTTPPolicyName, err)
	}
	return dns, http, nil
}

// newPolicy selects every pod of the namespace except, in the DNS
// servers' own namespace, the DNS servers: their upstream queries are
// left alone. Default deny is off both ways, so the policy allows what
// its rules name and denies nothing.
func newPolicy(name, namespace string, dns synth.DNSSelector) *ciliumv2.CiliumNetworkPolicy {
	sel := &slim_metav1.LabelSelector{}
	if namespace == dns.Namespace {
		// A selector cannot say "not all of these labels"; leaving out
		// pods with any one of them leaves out at least the DNS servers.
		for _, k := range sortedKeys(dns.Labels) {
			sel.MatchExpressions = append(sel.MatchExpressions, slim_metav1.LabelSelectorRequirement{
				Key: "k8s:" + k, Operator: slim_metav1.LabelSelectorOpNotIn, Values: []string{dns.Labels[k]},
			})
		}
	}
	no := false
	return &ciliumv2.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			synth.ManagedByLabel: synth.ManagedByValue,
			synth.RoleLabel:      synth.RoleVisibility,
		}},
		Spec: &api.Rule{
			EndpointSelector:  api.NewESFromK8sLabelSelector("", sel),
			EnableDefaultDeny: api.DefaultDenyConfig{Ingress: &no, Egress: &no},
		},
	}
}

// dnsServers selects the DNS servers by their labels and namespace, as
// learn's DNS rule does.
func dnsServers(dns synth.DNSSelector) api.EndpointSelector {
	labels := map[string]string{ciliumNamespaceLabel: dns.Namespace}
	for k, v := range dns.Labels {
		labels["k8s:"+k] = v
	}
	return api.NewESFromK8sLabelSelector("", &slim_metav1.LabelSelector{MatchLabels: labels})
}

// httpPorts are the distinct ports chosen for a namespace, sorted.
func httpPorts(namespace string, all []HTTPPort) []uint16 {
	seen := map[uint16]bool{}
	var out []uint16
	for _, p := range all {
		if (p.Namespace == "" || p.Namespace == namespace) && !seen[p.Port] {
			seen[p.Port] = true
			out = append(out, p.Port)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Files renders the learning-mode policies: per namespace a
// visibility.yaml and a kustomization.yaml, and a kustomization.yaml
// for the directory, so `kubectl apply -k DIR` applies them all and
// `kubectl delete -k DIR` removes them. The same Options give the same
// bytes.
func Files(opts Options) ([]synth.File, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	namespaces := append([]string(nil), opts.Namespaces...)
	sort.Strings(namespaces)
	namespaces = dedup(namespaces)
	var files []synth.File
	for _, ns := range namespaces {
		dns, http, err := Policies(ns, opts)
		if err != nil {
			return nil, err
		}
		data, err := render(dns, http, opts.DNS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ns, err)
		}
		files = append(files,
			synth.File{Path: path.Join(ns, FileName), Data: data},
			synth.File{Path: path.Join(ns, "kustomization.yaml"), Data: kustomization([]string{FileName})})
	}
	files = append(files, synth.File{Path: "kustomization.yaml", Data: kustomization(namespaces)})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func render(dns, http *ciliumv2.CiliumNetworkPolicy, sel synth.DNSSelector) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# netpolgen learning mode (%s). Apply it before\n", marker)
	b.WriteString("# `netpolgen learn`; remove it in the same change that applies the learned\n")
	b.WriteString("# policies (they carry their own DNS rules). Default deny is off in both\n")
	b.WriteString("# directions, so it denies nothing. DNS queries to the cluster's DNS servers\n")
	b.WriteString("# (" + selectorText(sel) + ") pass Cilium's DNS proxy, so Hubble reports the\n")
	b.WriteString("# names pods resolve and learn writes toFQDNs rules instead of addresses that\n")
	b.WriteString("# break when they change.\n")
	data, err := synth.MarshalYAML(dns)
	if err != nil {
		return nil, err
	}
	b.Write(data)
	if http == nil {
		return b.Bytes(), nil
	}
	var ports []string
	for _, p := range http.Spec.Ingress[0].ToPorts[0].Ports {
		ports = append(ports, p.Port)
	}
	b.WriteString("---\n")
	fmt.Fprintf(&b, "# HTTP visibility: every connection to port %s of these pods is sent\n", strings.Join(ports, ", "))
	b.WriteString("# through Cilium's Envoy proxy, so Hubble reports each HTTP request. Envoy\n")
	b.WriteString("# parses the connection as HTTP: name only ports that serve HTTP, or their\n")
	b.WriteString("# clients break. Needs the agent's L7 proxy (--enable-l7-proxy, the default).\n")
	if data, err = synth.MarshalYAML(http); err != nil {
		return nil, err
	}
	b.Write(data)
	return b.Bytes(), nil
}

func kustomization(resources []string) []byte {
	var b bytes.Buffer
	b.WriteString("# " + marker + "\n")
	b.WriteString("# " + synth.ManagedByLabel + ": " + synth.ManagedByValue + "\n")
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	return b.Bytes()
}

// selectorText writes a DNS selector as --dns-selector takes it.
func selectorText(sel synth.DNSSelector) string {
	var kv []string
	for _, k := range sortedKeys(sel.Labels) {
		kv = append(kv, k+"="+sel.Labels[k])
	}
	return sel.Namespace + "/" + strings.Join(kv, ",")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func dedup(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
