package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	relaypb "github.com/cilium/cilium/api/v1/relay"
	"github.com/spf13/pflag"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// hubbleFlags are the hubble CLI's connection, query and filter flags,
// with the same names and defaults, for commands that read a live Hubble
// server or Relay.
type hubbleFlags struct {
	server         string
	tls            hubble.TLSOptions
	timeout        time.Duration
	requestTimeout time.Duration

	portForward     bool
	portForwardPort uint16
	kubeContext     string
	kubeconfig      string
	kubeNamespace   string

	since, until string
	follow       bool
	last, first  uint64

	namespaces, fromNamespaces, toNamespaces []string
	pods, fromPods, toPods                   []string
	labels, fromLabels, toLabels             []string
	nodeNames, verdicts                      []string

	quiet bool
}

// registerConnection adds the flags that say where Hubble is and how to
// talk to it. --kubeconfig and --request-timeout are left out when the
// command already has kubectl's (see shareKube).
func (f *hubbleFlags) registerConnection(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", hubble.DefaultServer, "address of a Hubble server or Relay (tls://host:port implies --tls)")
	fs.BoolVar(&f.tls.Enabled, "tls", false, "connect with TLS (implied by a tls:// address or a client certificate)")
	fs.BoolVar(&f.tls.AllowInsecure, "tls-allow-insecure", false, "with --tls: do not verify the server's certificate")
	fs.StringSliceVar(&f.tls.CAFiles, "tls-ca-cert-files", nil, "with --tls: CA certificates (PEM) to verify the server with")
	fs.StringVar(&f.tls.CertFile, "tls-client-cert-file", "", "client certificate (PEM) for mutual TLS; implies --tls")
	fs.StringVar(&f.tls.KeyFile, "tls-client-key-file", "", "with --tls: client key (PEM) for mutual TLS")
	fs.StringVar(&f.tls.ServerName, "tls-server-name", "", "with --tls: the name to verify the server's certificate against")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to try to connect before giving up")
	if fs.Lookup("request-timeout") == nil {
		fs.DurationVar(&f.requestTimeout, "request-timeout", 12*time.Second, "timeout of non-streaming requests such as server status")
	}
	fs.BoolVarP(&f.portForward, "port-forward", "P", false, "forward the hubble-relay port from the cluster first, as hubble observe -P does")
	fs.Uint16Var(&f.portForwardPort, "port-forward-port", 0, "with -P: local port to forward from (0 picks a free one)")
	fs.StringVar(&f.kubeContext, "kube-context", "", "with -P: kubeconfig context to use")
	if fs.Lookup("kubeconfig") == nil {
		fs.StringVar(&f.kubeconfig, "kubeconfig", "", "with -P: kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	}
	fs.StringVar(&f.kubeNamespace, "kube-namespace", "kube-system", "with -P: namespace hubble-relay runs in")
}

// shareKube fills what a command's kubectl flags already say: one
// --kubeconfig, one request timeout, and --context when --kube-context is
// not given.
func (f *hubbleFlags) shareKube(kubeconfig, context string, requestTimeout time.Duration) {
	if f.kubeconfig == "" {
		f.kubeconfig = kubeconfig
	}
	if f.kubeContext == "" {
		f.kubeContext = context
	}
	if f.requestTimeout == 0 {
		f.requestTimeout = requestTimeout
	}
}

// registerProgress adds --quiet.
func (f *hubbleFlags) registerProgress(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not print the progress line on standard error")
}

// options turns the flags into the live source's options.
func (f *hubbleFlags) options(now time.Time) (hubble.Options, error) {
	o := hubble.Options{
		Server: f.server, TLS: f.tls, DialTimeout: f.timeout, RequestTimeout: f.requestTimeout,
		Follow: f.follow, Number: f.last,
	}
	if f.first > 0 {
		if f.last > 0 {
			return o, errors.New("--first and --last go one at a time")
		}
		o.Number, o.First = f.first, true
	}
	var err error
	if o.Since, err = parseHubbleTime("since", f.since, now); err != nil {
		return o, err
	}
	if o.Until, err = parseHubbleTime("until", f.until, now); err != nil {
		return o, err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Until.Before(o.Since) {
		return o, fmt.Errorf("--until %s is before --since %s", f.until, f.since)
	}
	o.Whitelist, err = f.whitelist()
	return o, err
}

// parseHubbleTime reads a --since/--until value: an RFC 3339 time (with
// or without fraction or zone), a date, or a duration ago.
func parseHubbleTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (30m)", flag, v)
}

// whitelist builds the FlowFilters as the hubble CLI does: directional
// criteria go in every filter; either-direction ones (--namespace, --pod,
// --label) make one filter for the source side and one for the
// destination side, so a flow matches when either side does.
func (f *hubbleFlags) whitelist() ([]*flowpb.FlowFilter, error) {
	base := &flowpb.FlowFilter{NodeName: f.nodeNames}
	for _, v := range f.verdicts {
		n, ok := flowpb.Verdict_value[strings.ToUpper(v)]
		if !ok {
			return nil, fmt.Errorf("--verdict %q: want one of FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED", v)
		}
		base.Verdict = append(base.Verdict, flowpb.Verdict(n))
	}
	base.SourcePod = append(namespacePatterns(f.fromNamespaces), f.fromPods...)
	base.DestinationPod = append(namespacePatterns(f.toNamespaces), f.toPods...)
	base.SourceLabel, base.DestinationLabel = f.fromLabels, f.toLabels

	eitherPods := append(namespacePatterns(f.namespaces), f.pods...)
	if len(eitherPods) == 0 && len(f.labels) == 0 {
		if isEmptyFilter(base) {
			return nil, nil
		}
		return []*flowpb.FlowFilter{base}, nil
	}
	src, dst := cloneFilter(base), cloneFilter(base)
	src.SourcePod = append(src.SourcePod, eitherPods...)
	src.SourceLabel = append(src.SourceLabel, f.labels...)
	dst.DestinationPod = append(dst.DestinationPod, eitherPods...)
	dst.DestinationLabel = append(dst.DestinationLabel, f.labels...)
	return []*flowpb.FlowFilter{src, dst}, nil
}

// namespacePatterns turns namespaces into the "namespace/" pod patterns
// Hubble matches namespaces with.
func namespacePatterns(namespaces []string) []string {
	out := make([]string, 0, len(namespaces))
	for _, ns := range namespaces {
		out = append(out, strings.TrimSuffix(ns, "/")+"/")
	}
	return out
}

func cloneFilter(f *flowpb.FlowFilter) *flowpb.FlowFilter {
	return &flowpb.FlowFilter{
		NodeName: f.NodeName, Verdict: f.Verdict,
		SourcePod: append([]string(nil), f.SourcePod...), DestinationPod: append([]string(nil), f.DestinationPod...),
		SourceLabel: append([]string(nil), f.SourceLabel...), DestinationLabel: append([]string(nil), f.DestinationLabel...),
	}
}

func isEmptyFilter(f *flowpb.FlowFilter) bool {
	return len(f.NodeName) == 0 && len(f.Verdict) == 0 && len(f.SourcePod) == 0 && len(f.DestinationPod) == 0 &&
		len(f.SourceLabel) == 0 && len(f.DestinationLabel) == 0
}

// open connects to Hubble, first forwarding the relay port with -P. The
// returned close ends the stream and the forward.
func (f *hubbleFlags) open(ctx context.Context, log *slog.Logger) (*hubble.Source, func(), error) {
	opts, err := f.options(time.Now())
	if err != nil {
		return nil, nil, err
	}
	stopForward := func() {}
	if f.portForward {
		addr, stop, err := forwardRelay(ctx, f.kubeconfig, f.kubeContext, f.kubeNamespace, f.portForwardPort)
		if err != nil {
			return nil, nil, err
		}
		log.Info("forwarding to hubble-relay", "addr", addr, "namespace", f.kubeNamespace)
		opts.Server, stopForward = addr, stop
	}
	if !f.quiet {
		opts.OnNodeStatus = func(n observe.NodeStatus) {
			level := slog.LevelWarn
			if n.State == relaypb.NodeState_NODE_CONNECTED {
				level = slog.LevelInfo
			}
			log.Log(ctx, level, "Hubble Relay: nodes "+nodeStateWords(n), "nodes", strings.Join(n.NodeNames, ","), "message", n.Message)
		}
	}
	src, err := hubble.NewSource(ctx, opts)
	if err != nil {
		stopForward()
		return nil, nil, err
	}
	return src, func() { src.Close(); stopForward() }, nil
}

func nodeStateWords(n observe.NodeStatus) string {
	switch n.State.String() {
	case "NODE_CONNECTED":
		return "connected"
	case "NODE_UNAVAILABLE":
		return "unavailable: their flows are missing until they are back"
	case "NODE_GONE":
		return "gone"
	case "NODE_ERROR":
		return "in error"
	}
	return "in an unknown state"
}

// showProgress draws the progress line of a live source on standard
// error, unless --quiet, until the returned function is called.
func (f *hubbleFlags) showProgress(streams Streams, log *slog.Logger, src ProgressSource, duration time.Duration) (stop func()) {
	if f.quiet {
		return func() {}
	}
	p := &Progress{W: streams.Err, TTY: isTerminal(streams.Err), Log: log, Duration: duration}
	p.Start(src)
	return p.Stop
}

// isTerminal reports whether w is a terminal, where a status line can be
// redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
