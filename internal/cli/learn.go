package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/pipeline"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// synthFlags are the policy options learn takes.
type synthFlags struct {
	format            string
	namespaces        []string
	excludeNamespaces []string
	dnsSelector       string
	generalize        []string
	public, notPublic []string
}

func (f *synthFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "cilium", "policy kinds to write: cilium, kubernetes or both")
	fl.StringSliceVar(&f.namespaces, "namespace", nil, "write policies only for these namespaces (default all)")
	fl.StringSliceVar(&f.excludeNamespaces, "exclude-namespace", nil, "never write policies for these namespaces")
	fl.StringVar(&f.dnsSelector, "dns-selector", "kube-system/k8s-app=kube-dns", "the cluster DNS server, used when the flows show no labelled one: namespace/key=value[,key=value]")
	fl.StringSliceVar(&f.generalize, "generalize", nil, "allow broader than observed: world-prefix=N, world-prefix6=N (widen addresses to /N), world-ingress (ingress from any outside address)")
	fl.StringSliceVar(&f.public, "public-endpoint", nil, "allow ingress from any outside address to this workload, or one port of it, whatever the evidence: namespace/workload[:port[/UDP]] (repeatable)")
	fl.StringSliceVar(&f.notPublic, "no-public-endpoint", nil, "keep ingress from outside to this workload, or one port of it, to the addresses seen, whatever the evidence: namespace/workload[:port[/UDP]] (repeatable)")
}

func (f *synthFlags) options() (synth.Options, error) {
	format, err := synth.ParseFormat(f.format)
	if err != nil {
		return synth.Options{}, err
	}
	dns, err := synth.ParseDNSSelector(f.dnsSelector)
	if err != nil {
		return synth.Options{}, err
	}
	gen, err := synth.ParseGeneralize(f.generalize)
	if err != nil {
		return synth.Options{}, err
	}
	opts := synth.Options{Format: format, Namespaces: f.namespaces, ExcludeNamespaces: f.excludeNamespaces, DNS: dns, Generalize: gen}
	for _, flag := range []struct {
		name   string
		values []string
		into   *[]synth.EndpointRef
	}{{"--public-endpoint", f.public, &opts.Public}, {"--no-public-endpoint", f.notPublic, &opts.NotPublic}} {
		for _, v := range flag.values {
			ref, err := synth.ParseEndpointRef(v)
			if err != nil {
				return synth.Options{}, fmt.Errorf("%s: %w", flag.name, err)
			}
			*flag.into = append(*flag.into, ref)
		}
	}
	return opts, nil
}

func newLearnCommand(streams Streams) *cobra.Command {
	var (
		gflags    graphFlags
		sflags    synthFlags
		lflags    l7Flags
		cflags    learnClusterFlags
		fromFiles []string
		hflags    hubbleFlags
		duration  time.Duration
		every     time.Duration
		state     string
		out       string
	)
	cmd := &cobra.Command{
		Use:   "learn --out DIR (--from-file FILE... | [--server ADDR | -P] --duration D)",
		Short: "Learn least-privilege policies from flows, verify them, and write them for review",
		Long: `Learn which workloads talk to each other, from captures or a live Hubble
server, and write a default-deny per namespace plus one policy per workload
allowing exactly what was observed, as CiliumNetworkPolicy, NetworkPolicy or
both. The result is verified through Cilium's own policy engine before it
is written; REPORT.md in the output directory is meant to be pasted as a
pull-request body. The exit status is 1 when an observed connection would
be denied.

Without --from-file it follows Hubble (--server, default localhost:4245, or
-P to port-forward hubble-relay first, with the hubble CLI's TLS flags)
for --duration, with a progress line on standard error unless --quiet.
With --state, the learned graph is saved there (every --checkpoint, and at
the end) and loaded again on the next run, so learning can resume; --state
alone re-synthesizes from the saved graph.

See docs/synth.md for the rules and the --generalize options.`,
		Example: `  netpolgen learn --from-file examples/shop-flows.json.gz --out policies/
  netpolgen learn --duration 24h --state learn.graph.json --out policies/
  netpolgen learn -P --duration 2h --out policies/
  netpolgen learn --from-file flows.json --format both --exclude-namespace kube-system --out policies/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out DIR is required")
			}
			hflags.shareKube(cflags.conn.Kubeconfig, cflags.conn.Context, cflags.conn.Timeout)
			live := cmd.Flags().Changed("server") || hflags.portForward || duration > 0
			if len(fromFiles) > 0 && live {
				return errors.New("use --from-file, or --server/-P/--duration, not both")
			}
			if len(fromFiles) == 0 && !live {
				// Nothing said: follow the default server, unless a saved
				// state is to be re-synthesized.
				_, err := os.Stat(state)
				live = state == "" || err != nil
			}
			sopts, err := sflags.options()
			if err != nil {
				return err
			}
			gopts, err := gflags.options()
			if err != nil {
				return err
			}
			if err := lflags.apply(&sopts, &gopts); err != nil {
				return err
			}
			log := logger(cmd, streams)
			snap, err := cflags.snapshot(cmd, log, live)
			if err != nil {
				return err
			}
			g, err := learnGraph(cmd.Context(), streams, log, gopts, learnSource{files: fromFiles, live: live, hubble: &hflags, duration: duration, every: every, state: state, strict: gflags.strict, enrich: cflags.enricher(log, snap)})
			if err != nil {
				return err
			}
			logMalformedL7(log, g)
			res, err := synthesize(g, sopts, out, snap)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "wrote %d policies in %d namespaces to %s (REPORT.md)\n", res.policies, res.namespaces, out)
			writeRemovedLine(streams.Out, res.removed)
			writeVerifySummary(streams.Out, res.verify)
			writeL7Summary(streams.Out, res.l7)
			writeOutsideLine(streams.Out, res.outside, sopts.Format)
			if err := cflags.showDiff(cmd, streams.Out, out, res.graph); err != nil {
				return err
			}
			if !res.verify.OK() {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d observed connections would be denied; see %s", len(res.verify.Denied), filepath.Join(out, "REPORT.md"))}
			}
			if res.l7 != nil && !res.l7.OK() {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d observed L7 requests would be denied; see %s", len(res.l7.Denied), filepath.Join(out, "REPORT.md"))}
			}
			return nil
		},
	}
	gflags.register(cmd)
	sflags.register(cmd)
	lflags.register(cmd)
	cflags.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&fromFiles, "from-file", nil, "learn from this capture (repeatable; - for standard input)")
	hflags.registerConnection(fl)
	hflags.registerProgress(fl)
	fl.DurationVar(&duration, "duration", 0, "how long to follow Hubble (e.g. 24h; 0 until interrupted)")
	fl.DurationVar(&every, "checkpoint", 5*time.Minute, "with --server and --state: how often to save the state")
	fl.StringVar(&state, "state", "", "load the learned graph from this file if it exists, and save it there")
	fl.StringVar(&out, "out", "", "directory to write policies and REPORT.md to")
	return cmd
}

type learnSource struct {
	files []string
	// live follows Hubble as hubble's flags say.
	live     bool
	hubble   *hubbleFlags
	duration time.Duration
	every    time.Duration
	state    string
	strict   bool
	// enrich names pods seen only as addresses (nil: no cluster).
	enrich *cluster.Enricher
}

// learnGraph reads flows into a graph through the pipeline's folder:
// resumed from --state when it exists, saved there at each checkpoint.
func learnGraph(ctx context.Context, streams Streams, log *slog.Logger, opts graph.Options, ls learnSource) (*graph.Graph, error) {
	f, err := pipeline.NewFolder(pipeline.FoldOptions{Graph: opts, State: ls.state, Every: ls.every, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	switch {
	case len(ls.files) > 0:
		src := capture.NewSource(ls.files, capture.Options{Strict: ls.strict, Stdin: streams.In})
		defer src.Close()
		if err := f.Capture(ctx, ls.enrich.Source(src), src.Position); err != nil {
			return nil, err
		}
	case ls.live:
		if err := learnLive(ctx, streams, log, f, ls, opts.NodeNames); err != nil {
			return nil, err
		}
	case f.Graph() == nil:
		return nil, errors.New("nothing to learn from: give --from-file, --server/-P, or an existing --state")
	}
	return f.Graph(), nil
}

// learnLive follows a Hubble server for the duration, from where the
// state ends, drawing the progress line.
func learnLive(ctx context.Context, streams Streams, log *slog.Logger, f *pipeline.Folder, ls learnSource, nodes []string) error {
	if ls.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ls.duration)
		defer cancel()
	}
	h := *ls.hubble
	h.follow, h.since = true, f.ResumePoint().Format(time.RFC3339Nano)
	// Learners sharded by node let Hubble do the filtering.
	h.nodeNames = nodes
	src, closeSrc, err := h.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeSrc()
	defer h.showProgress(streams, log, src, ls.duration)()
	return f.Live(ctx, ls.enrich.Source(src))
}

type synthResult struct {
	policies, namespaces int
	verify               *verify.Result
	l7                   *verify.L7Result
	graph                *synth.Graph
	outside              synth.Outside
	removed              []string // an earlier run's files this one retired
}

// synthesize writes policies, verifies them and writes the report. A
// cluster snapshot, when given, supplies the kube-apiserver's addresses.
func synthesize(g *graph.Graph, opts synth.Options, out string, snap *cluster.Snapshot) (*synthResult, error) {
	l, err := pipeline.Learn(g, opts, snap)
	if err != nil {
		return nil, err
	}
	removed, err := writeLearned(out, append(l.Files, learnOptionsFile(g.Options, opts)))
	if err != nil {
		return nil, err
	}
	return &synthResult{removed: removed, policies: len(l.Plan.Policies), namespaces: len(l.Plan.Namespaces), verify: l.Verified, l7: l.VerifiedL7, graph: l.Graph, outside: synth.OutsideDestinations(l.Plan)}, nil
}

func writeVerifySummary(w io.Writer, r *verify.Result) {
	public := ""
	if len(r.Public) > 0 {
		public = fmt.Sprintf(", %d outside peers of public endpoints", len(r.Public))
	}
	fmt.Fprintf(w, "verify: %d of %d observed connections allowed; excess %d of %d never-observed combinations (%d by design%s)\n",
		r.Allowed, r.Observed, len(r.Excess), r.Candidates, len(r.ByDesign), public)
	for _, f := range r.Denied {
		fmt.Fprintf(w, "  DENIED %s\n", f)
	}
	for _, f := range r.Inexpressible {
		fmt.Fprintf(w, "  not expressible in NetworkPolicy: %s\n", f)
	}
	for _, f := range r.Excess {
		fmt.Fprintf(w, "  EXCESS %s\n", f)
	}
}
