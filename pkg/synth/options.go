package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// Format selects which policy kinds are written.
type Format string

// The output formats.
const (
	FormatCilium     Format = "cilium"
	FormatKubernetes Format = "kubernetes"
	FormatBoth       Format = "both"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatCilium, FormatKubernetes, FormatBoth:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: use cilium, kubernetes or both", s)
}

// Cilium reports whether CiliumNetworkPolicy is written.
func (f Format) Cilium() bool { return f == FormatCilium || f == FormatBoth }

// Kubernetes reports whether NetworkPolicy is written.
func (f Format) Kubernetes() bool { return f == FormatKubernetes || f == FormatBoth }

// DNSSelector selects the cluster's DNS server when the flows do not show
// a labelled one.
type DNSSelector struct {
	Namespace string
	Labels    map[string]string
}

// DefaultDNSSelector is kube-dns as most distributions label it.
func DefaultDNSSelector() DNSSelector {
	return DNSSelector{Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}
}

// ParseDNSSelector reads "namespace/key=value[,key=value]".
func ParseDNSSelector(s string) (DNSSelector, error) {
	ns, sel, ok := strings.Cut(s, "/")
	if !ok || ns == "" || sel == "" {
		return DNSSelector{}, fmt.Errorf("DNS selector %q: want namespace/key=value[,key=value]", s)
	}
	out := DNSSelector{Namespace: ns, Labels: map[string]string{}}
	for _, kv := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return DNSSelector{}, fmt.Errorf("DNS selector %q: %q is not key=value", s, kv)
		}
		out.Labels[k] = v
	}
	return out, nil
}

// Generalize lists the ways the user allows policy broader than observed.
// The zero value allows nothing broader.
type Generalize struct {
	// WorldPrefixV4 and WorldPrefixV6, when non-zero, widen addresses
	// seen without a name to prefixes of this length.
	WorldPrefixV4 int
	WorldPrefixV6 int
	// WorldIngressEntity writes ingress from outside the cluster as the
	// world entity (any address) instead of the observed addresses.
	WorldIngressEntity bool
}

// ParseGeneralize reads comma-separated --generalize options:
// "world-prefix=24", "world-prefix6=64", "world-ingress".
func ParseGeneralize(values []string) (Generalize, error) {
	var g Generalize
	for _, v := range values {
		for _, opt := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(opt), "=")
			switch name {
			case "":
			case "world-prefix", "world-prefix6":
				bits, err := strconv.Atoi(arg)
				max := 32
				if name == "world-prefix6" {
					max = 128
				}
				if err != nil || bits < 1 || bits > max {
					return g, fmt.Errorf("--generalize %s=%q: want a prefix length from 1 to %d", name, arg, max)
				}
				if name == "world-prefix" {
					g.WorldPrefixV4 = bits
				} else {
					g.WorldPrefixV6 = bits
				}
			case "world-ingress":
				g.WorldIngressEntity = true
			default:
				return g, fmt.Errorf("unknown --generalize option %q: use world-prefix=N, world-prefix6=N or world-ingress", name)
			}
		}
	}
	return g, nil
}

// Options tune synthesis.
type Options struct {
	Format Format
	// Namespaces, when not empty, limits policies to these namespaces;
	// ExcludeNamespaces are never given policies.
	Namespaces        []string
	ExcludeNamespaces []string
	// DNS selects the cluster DNS server when the flows show none with
	// stable labels; DefaultDNSSelector when zero.
	DNS        DNSSelector
	Generalize Generalize
	// Public and NotPublic force the public-endpoint decision for a
	// workload or one of its ports, whatever the evidence says.
	Public    []EndpointRef
	NotPublic []EndpointRef
	// L7 turns on L7 rules (see l7.go).
	L7 L7Options
}

func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatCilium
	}
	if o.DNS.Namespace == "" {
		o.DNS = DefaultDNSSelector()
	}
	return o
}

// Manages reports whether netpolgen writes policies for a namespace.
func (o Options) Manages(namespace string) bool {
	for _, ns := range o.ExcludeNamespaces {
		if ns == namespace {
			return false
		}
	}
	if len(o.Namespaces) == 0 {
		return true
	}
	for _, ns := range o.Namespaces {
		if ns == namespace {
			return true
		}
	}
	return false
}
