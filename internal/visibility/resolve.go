package visibility

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Request is what the user asked for, before the cluster is consulted.
type Request struct {
	// Namespaces, when given, are exactly the namespaces covered;
	// Include adds namespaces the default leaves out; Exclude drops some.
	Namespaces, Include, Exclude []string
	// DNS is --dns-selector; DNSGiven says the user gave it, so the
	// cluster's DNS Service is not asked.
	DNS      synth.DNSSelector
	DNSGiven bool
	HTTP     []HTTPPort
}

// SystemNamespaces are left out of learning mode unless included: their
// components are not what a user learns policy for, and the DNS servers'
// own upstream traffic is not to be sent through the DNS proxy.
func SystemNamespaces() []string { return []string{"kube-node-lease", "kube-public", "kube-system"} }

// Resolve turns a request into Options. With a cluster (c not nil), the
// named namespaces must exist, the default is every namespace but the
// system ones and the DNS servers' own, and the DNS servers are the pods
// the cluster DNS Service selects (or, given --dns-selector, it must
// select a pod). Without one, the namespaces must be named. log hears
// what was read from the cluster.
func Resolve(ctx context.Context, c *cluster.Client, req Request, log *slog.Logger) (Options, error) {
	opts := Options{DNS: req.DNS, HTTP: req.HTTP}
	named := append(append([]string(nil), req.Namespaces...), req.Include...)
	if c == nil {
		if len(named) == 0 {
			return opts, errors.New("no namespaces: name them with --namespace, or let netpolgen read them from the cluster (--kubeconfig, --context)")
		}
		opts.Namespaces = named
	} else {
		var err error
		if opts.DNS, err = clusterDNS(ctx, c, req, log); err != nil {
			return opts, err
		}
		if opts.Namespaces, err = clusterNamespaces(ctx, c, req, opts.DNS.Namespace); err != nil {
			return opts, err
		}
	}
	opts.Namespaces = without(opts.Namespaces, req.Exclude)
	if len(opts.Namespaces) == 0 {
		return opts, errors.New("no namespaces left to cover after --exclude-namespace")
	}
	return opts, opts.Check()
}

// clusterDNS finds the DNS server pods: the kube-dns/coredns Service's
// selector, or the --dns-selector given, which must select a pod.
func clusterDNS(ctx context.Context, c *cluster.Client, req Request, log *slog.Logger) (synth.DNSSelector, error) {
	if req.DNSGiven {
		n, err := c.CountPods(ctx, req.DNS.Namespace, req.DNS.Labels)
		if err != nil {
			return req.DNS, err
		}
		if n == 0 {
			return req.DNS, fmt.Errorf("--dns-selector %s: no pod in namespace %s has these labels in the cluster at %s; give the labels of the cluster's DNS server pods", selectorText(req.DNS), req.DNS.Namespace, c.Server())
		}
		return req.DNS, nil
	}
	svc, err := c.FindDNSService(ctx, req.DNS.Namespace)
	if err != nil {
		return req.DNS, err
	}
	sel := synth.DNSSelector{Namespace: svc.Namespace, Labels: svc.Selector}
	log.Info("the DNS servers are the pods the cluster DNS Service selects", "server", c.Server(), "service", svc.Namespace+"/"+svc.Name, "selector", selectorText(sel))
	return sel, nil
}

// clusterNamespaces checks the named namespaces exist, or lists the
// cluster's, leaving out system namespaces and the DNS servers' own
// unless included.
func clusterNamespaces(ctx context.Context, c *cluster.Client, req Request, dnsNamespace string) ([]string, error) {
	all, err := c.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	for _, ns := range all {
		exists[ns] = true
	}
	named := append(append([]string(nil), req.Namespaces...), req.Include...)
	for _, ns := range named {
		if !exists[ns] {
			return nil, fmt.Errorf("namespace %q does not exist in the cluster at %s", ns, c.Server())
		}
	}
	if len(req.Namespaces) > 0 {
		return named, nil
	}
	leftOut := map[string]bool{dnsNamespace: true}
	for _, ns := range SystemNamespaces() {
		leftOut[ns] = true
	}
	for _, ns := range req.Include {
		leftOut[ns] = false
	}
	var out []string
	for _, ns := range all {
		if !leftOut[ns] {
			out = append(out, ns)
		}
	}
	return out, nil
}

// without drops some names from a list, sorted and without repeats.
func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		if !contains(drop, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return dedup(out)
}
