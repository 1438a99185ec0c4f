package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/visibility"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

type visibilityFlags struct {
	out               string
	namespaces        []string
	includeNamespaces []string
	excludeNamespaces []string
	dnsSelector       string
	http              []string
	mode              string
	conn              cluster.Options
}

func newVisibilityCommand(streams Streams) *cobra.Command {
	var f visibilityFlags
	cmd := &cobra.Command{
		Use:   "visibility --out DIR [--namespace NS...] [--http [NS/]PORT...]",
		Short: "Write the learning-mode policies that let Hubble see DNS names (and HTTP) before learning",
		Long: `Write learning-mode CiliumNetworkPolicies for review: per namespace, one
that selects every pod with default deny off in both directions, so it
denies nothing, and sends DNS queries to the cluster's DNS servers
through Cilium's DNS proxy. Hubble then reports the names pods resolve,
and learn writes outside services as toFQDNs names instead of addresses
that break when the address changes.

Apply them with kubectl apply -k DIR, learn, review, and remove them
(kubectl delete -k DIR) in the same change that applies the learned
policies, which carry their own DNS rules.

Namespaces come from --namespace, or from the cluster (--kubeconfig,
--context) when it answers: every namespace except kube-system,
kube-public, kube-node-lease and the DNS servers' own, unless named with
--include-namespace. The DNS servers are the pods the cluster's kube-dns
(or coredns) Service selects, or --dns-selector.

--http sends ingress on a port through Cilium's Envoy proxy, so Hubble
reports HTTP requests: name only ports that serve HTTP.

See docs/visibility.md.`,
		Example: `  netpolgen visibility --out learning-mode/
  netpolgen visibility --namespace shop,billing --cluster=false --out learning-mode/
  netpolgen visibility --http shop/8080 --out learning-mode/ && kubectl apply -k learning-mode/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.out == "" {
				return errors.New("--out DIR is required")
			}
			req, err := f.request(cmd.Flags().Changed("dns-selector"))
			if err != nil {
				return err
			}
			log := logger(cmd, streams)
			c, err := f.connect(cmd.Context(), log)
			if err != nil {
				return err
			}
			opts, err := visibility.Resolve(cmd.Context(), c, req, log)
			if err != nil {
				return fmt.Errorf("%w; nothing written", err)
			}
			files, err := visibility.Files(opts)
			if err != nil {
				return fmt.Errorf("%w; nothing written", err)
			}
			if err := visibility.Write(f.out, files); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "wrote learning-mode policies for %d namespaces (%s) to %s\n", len(opts.Namespaces), strings.Join(opts.Namespaces, ", "), f.out)
			fmt.Fprintf(streams.Out, "next: review them, kubectl apply -k %s, netpolgen learn; then remove them (kubectl delete -k %s) in the change that applies the learned policies\n", f.out, f.out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "directory to write the learning-mode policies to (a directory of their own)")
	fl.StringSliceVar(&f.namespaces, "namespace", nil, "cover exactly these namespaces (default: every namespace the cluster has, system and DNS namespaces aside)")
	fl.StringSliceVar(&f.includeNamespaces, "include-namespace", nil, "also cover these namespaces the default leaves out (e.g. kube-system; the DNS servers themselves stay unselected)")
	fl.StringSliceVar(&f.excludeNamespaces, "exclude-namespace", nil, "never cover these namespaces")
	fl.StringVar(&f.dnsSelector, "dns-selector", "kube-system/k8s-app=kube-dns", "the cluster DNS server pods, namespace/key=value[,key=value], as learn takes it (when the cluster is read, the default is the selector of its kube-dns or coredns Service)")
	fl.StringSliceVar(&f.http, "http", nil, "send ingress on this port through Envoy for HTTP visibility: PORT (every namespace) or NAMESPACE/PORT; repeatable")
	fl.StringVar(&f.mode, "cluster", "auto", "read namespaces and the DNS Service from the cluster (--kubeconfig, --context): true, false, or auto (when it answers)")
	fl.Lookup("cluster").NoOptDefVal = "true"
	addClusterFlags(cmd, &f.conn)
	return cmd
}

func (f *visibilityFlags) request(dnsGiven bool) (visibility.Request, error) {
	req := visibility.Request{Namespaces: f.namespaces, Include: f.includeNamespaces, Exclude: f.excludeNamespaces, DNSGiven: dnsGiven}
	var err error
	if req.HTTP, err = visibility.ParseHTTPPorts(f.http); err != nil {
		return req, fmt.Errorf("%w; nothing written", err)
	}
	if req.DNS, err = synth.ParseDNSSelector(f.dnsSelector); err != nil {
		return req, fmt.Errorf("--dns-selector: %w; nothing written", err)
	}
	return req, nil
}

// connect reads the cluster when --cluster asks for it, or in auto mode
// when it answers; nil when it is not used. Without named namespaces the
// cluster is the only source of them, so it must answer.
func (f *visibilityFlags) connect(ctx context.Context, log *slog.Logger) (*cluster.Client, error) {
	required := false
	switch f.mode {
	case "true":
		required = true
	case "false":
		return nil, nil
	case "auto":
	default:
		return nil, fmt.Errorf("--cluster must be true, false or auto, not %q", f.mode)
	}
	named := len(f.namespaces)+len(f.includeNamespaces) > 0
	conn := f.conn
	if !required && named && (conn.Timeout == 0 || conn.Timeout > autoTimeout) {
		conn.Timeout = autoTimeout
	}
	c, err := cluster.Connect(ctx, conn)
	switch {
	case err == nil:
		return c, nil
	case required:
		return nil, fmt.Errorf("%w; nothing written", err)
	case !named:
		return nil, fmt.Errorf("no namespaces: name them with --namespace, or let netpolgen read them from the cluster: %w; nothing written", err)
	}
	log.Warn("cluster not used: the namespaces are not checked (--cluster=false silences this)", "error", err, "dns_selector", f.dnsSelector)
	return nil, nil
}
