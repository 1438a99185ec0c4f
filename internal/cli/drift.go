package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/drift"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// driftFlags are drift's own flags; the Hubble connection and graph
// flags are shared with the other commands.
type driftFlags struct {
	once              bool
	policies          string
	cluster           bool
	fromFiles         []string
	since             string
	interval          time.Duration
	staleAfter        string
	reportDir         string
	metricsAddr       string
	state             string
	excludeNamespaces []string
}

func newDriftCommand(streams Streams) *cobra.Command {
	var (
		f      driftFlags
		gflags graphFlags
		hflags hubbleFlags
	)
	cmd := &cobra.Command{
		Use:   "drift (--policies DIR | --cluster) (--server ADDR | --from-file FILE... --once)",
		Short: "Keep checking live traffic against the policies: uncovered, stale and unprotected",
		Long: `Follow Hubble (or a replay) and check every connection against the policy
set with Cilium's own policy engine, as verify does. Every --interval the
report in --report-dir (drift-report.md and drift-report.json, written
atomically) lists:

  uncovered    observed traffic the policies deny, including flows Hubble
               reports dropped, each with the smallest policy change that
               allows it, as YAML to review
  stale        allow rules no connection exercised for --stale-after (in
               flow time)
  unprotected  workloads and namespaces with traffic but no policy

Each new finding is one JSON log line on standard error. Prometheus metrics
and /healthz are served on --metrics-addr. With --state the learned graph,
rule history and gaps are checkpointed every interval, so a restart forgets
nothing; Hubble outages and lost events show in the report as gaps.

The policies are a directory (--policies, re-read every interval) or the
live cluster's NetworkPolicies and CiliumNetworkPolicies (--cluster,
watched with informers, so changes apply at once).

With --policies, the identity options (--keep-labels and the rest) default
to those in netpolgen.options in that directory, which learn writes; a flag
given here wins.

--once reads a capture (--from-file) or what Hubble holds now, writes the
report and exits 1 when uncovered traffic exists. See docs/drift.md.`,
		Example: `  netpolgen drift --once --policies policies/ --from-file flows.json --report-dir drift/
  netpolgen drift --cluster --server hubble-relay.kube-system:80 --state /var/lib/netpolgen/drift.json
  netpolgen drift --policies policies/ -P --interval 1m --stale-after 14d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrift(cmd, streams, f, gflags, hflags)
		},
	}
	gflags.register(cmd)
	fs := cmd.Flags()
	hflags.registerConnection(fs)
	fs.BoolVar(&f.once, "once", false, "process the capture (or what Hubble holds now), write the report and exit; 1 when uncovered traffic exists")
	fs.StringVar(&f.policies, "policies", "", "directory of policy YAML files to check against (searched recursively, re-read every interval)")
	fs.BoolVar(&f.cluster, "cluster", false, "check against the cluster's NetworkPolicies and CiliumNetworkPolicies, watched live (uses --kubeconfig, --kube-context, or the in-cluster service account)")
	fs.StringArrayVar(&f.fromFiles, "from-file", nil, "read flows from this capture instead of Hubble (repeatable; - for standard input)")
	fs.StringVar(&f.since, "since", "", "with --server: start from this flow time (RFC 3339 or a duration ago); default: where --state left off, else now")
	fs.DurationVar(&f.interval, "interval", drift.DefaultInterval, "how often to refresh the report and the checkpoint")
	fs.StringVar(&f.staleAfter, "stale-after", "7d", "an allow rule not exercised for this long (flow time; 7d, 36h) is stale")
	fs.StringVar(&f.reportDir, "report-dir", "drift-report", "directory for drift-report.md and drift-report.json")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9090", "serve /metrics and /healthz here (not with --once unless given; empty disables)")
	fs.StringVar(&f.state, "state", "", "checkpoint file: loaded at start if it exists, saved every interval")
	fs.StringSliceVar(&f.excludeNamespaces, "exclude-namespace", nil, "never report these namespaces as unprotected")
	return cmd
}

func runDrift(cmd *cobra.Command, streams Streams, f driftFlags, gflags graphFlags, hflags hubbleFlags) error {
	ctx := cmd.Context()
	live := len(f.fromFiles) == 0
	switch {
	case (f.policies == "") == !f.cluster:
		return errors.New("give the policies to check against: --policies DIR or --cluster")
	case !live && !f.once:
		return errors.New("--from-file reads a finished capture: add --once, or follow Hubble with --server")
	case !live && cmd.Flags().Changed("server"):
		return errors.New("use --from-file or --server, not both")
	case f.interval <= 0:
		return errors.New("--interval must be positive")
	}
	staleAfter, err := parseDays(f.staleAfter)
	if err != nil {
		return fmt.Errorf("--stale-after: %w", err)
	}
	logger := logger(cmd, streams)
	if f.policies != "" {
		if _, err := gflags.useLearnOptions(cmd, logger, f.policies); err != nil {
			return err
		}
	}
	gopts, err := gflags.options()
	if err != nil {
		return err
	}
	policies, err := driftPolicies(ctx, f, hflags)
	if err != nil {
		return err
	}
	if _, err := policies.Policies(); err != nil {
		return err
	}
	opts := drift.Options{
		Follow: !f.once, Policies: policies, Graph: gopts, Interval: f.interval, StaleAfter: staleAfter,
		ReportDir: f.reportDir, StatePath: f.state, Logger: logger,
		SkipUnprotected: func(ns string) bool { return slices.Contains(f.excludeNamespaces, ns) },
	}
	if live {
		opts.SourceName = "Hubble at " + hflags.server
		if opts.Open, err = liveOpener(streams, hflags, f, !f.once); err != nil {
			return err
		}
	} else {
		opts.SourceName = strings.Join(f.fromFiles, ", ")
		opts.Open = func(context.Context, time.Time, drift.SourceHooks) (observe.Source, error) {
			return capture.NewSource(f.fromFiles, capture.Options{Strict: gflags.strict, Stdin: streams.In}), nil
		}
	}
	runner, err := drift.NewRunner(opts)
	if err != nil {
		return err
	}
	if f.metricsAddr != "" && (!f.once || cmd.Flags().Changed("metrics-addr")) {
		stop, err := serveMetrics(f.metricsAddr, runner.Handler())
		if err != nil {
			return err
		}
		defer stop()
		logger.Info("drift metrics", "addr", f.metricsAddr)
	}
	rep, err := runner.Run(ctx)
	if rep != nil {
		fmt.Fprintf(streams.Out, "drift: %s; report in %s\n", rep.Summary(), f.reportDir)
	}
	if err != nil {
		return err
	}
	if f.once && rep != nil && len(rep.Uncovered) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d uncovered connections; see %s/%s", len(rep.Uncovered), f.reportDir, drift.MarkdownReport)}
	}
	return nil
}

// driftPolicies is the directory, or informers on the cluster.
func driftPolicies(ctx context.Context, f driftFlags, hflags hubbleFlags) (drift.PolicySource, error) {
	if f.policies != "" {
		return drift.NewDirSource(f.policies), nil
	}
	// The same resolution and messages as learn --cluster and diff.
	cfg, where, err := cluster.RESTConfig(cluster.Options{Kubeconfig: hflags.kubeconfig, Context: hflags.kubeContext, ContextFlag: "--kube-context"})
	if err != nil {
		return nil, fmt.Errorf("--cluster: %w", err)
	}
	// Informers hold their watches open for minutes: a per-request
	// timeout would cut every one of them.
	cfg.Timeout = 0
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--cluster (%s): %w", where, err)
	}
	return drift.NewClusterSource(ctx, client, fmt.Sprintf("cluster %s (%s)", cfg.Host, where), 30*time.Second)
}

// liveOpener opens the Hubble stream, through a port-forward with -P,
// resuming from since; drift calls it again after the stream fails.
func liveOpener(streams Streams, hflags hubbleFlags, f driftFlags, follow bool) (func(context.Context, time.Time, drift.SourceHooks) (observe.Source, error), error) {
	base, err := hflags.options(time.Now())
	if err != nil {
		return nil, err
	}
	first, err := parseHubbleTime("since", f.since, time.Now())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, since time.Time, hooks drift.SourceHooks) (observe.Source, error) {
		opts := base
		opts.Follow, opts.OnReconnect = follow, hooks.OnReconnect
		opts.Since = since
		if since.IsZero() {
			opts.Since = first
		}
		stopForward := func() {}
		if hflags.portForward {
			addr, stop, err := forwardRelay(ctx, hflags.kubeconfig, hflags.kubeContext, hflags.kubeNamespace, hflags.portForwardPort)
			if err != nil {
				return nil, err
			}
			opts.Server, stopForward = addr, stop
		}
		src, err := hubble.NewSource(ctx, opts)
		if err != nil {
			stopForward()
			return nil, err
		}
		return &forwardedSource{Source: src, stop: stopForward}, nil
	}, nil
}

// forwardedSource ends its port-forward when closed.
type forwardedSource struct {
	*hubble.Source
	stop func()
}

func (s *forwardedSource) Close() error {
	err := s.Source.Close()
	s.stop()
	return err
}

func serveMetrics(addr string, h http.Handler) (func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// parseDays reads a duration that may also be whole days ("7d").
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days (7d) or a duration (36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of days (7d) or a duration (36h)", s)
	}
	return d, nil
}
