package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/diff"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

func newDiffCommand(streams Streams) *cobra.Command {
	var (
		policies string
		against  string
		files    []string
		state    string
		load     []string
		output   string
		conn     cluster.Options
		gflags   graphFlags
	)
	cmd := &cobra.Command{
		Use:   "diff --policies DIR",
		Short: "Show what applying proposed policies would change, before applying them",
		Long: `Compare proposed policies with those in force, as a dry run: nothing is
applied or deleted.

Object diff: each proposed NetworkPolicy, CiliumNetworkPolicy and
CiliumClusterwideNetworkPolicy against the live object, after a server-side
dry-run apply (so defaults and validation are the server's) and ignoring
server-managed fields, as kubectl diff does. With --against DIR the current
policies are read from manifests instead of a cluster. Policies in force
but not proposed are listed; netpolgen never deletes them.

Semantic diff (with --from-file, or --load: the graph learn --state saved): every observed connection's verdict under
the current policies and under the current policies with the proposed ones
applied, through the same Cilium policy engine as verify: newly denied
(would break), newly allowed, unchanged.

The captures are folded with the identity options (--keep-labels and the
rest) the policies were learned with, read from netpolgen.options in the
policy directory, which learn writes; a flag given here wins.

Exit status: 0 no change, 1 changes, 2 error, like diff.`,
		Example: `  netpolgen diff --policies policies/
  netpolgen diff --policies policies/ --from-file flows.json -o markdown
  netpolgen diff --policies policies/ --against deployed/ --from-file flows.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policies == "" {
				return fmt.Errorf("--policies DIR is required: the proposed policies, as netpolgen learn writes them")
			}
			if output != "text" && output != "markdown" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text, markdown or json", output)
			}
			if state != "" {
				load = append(load, state) // --state is --load's old name
			}
			if len(load) > 0 && len(files) > 0 {
				return fmt.Errorf("use --from-file or --load, not both")
			}
			proposed, err := diff.LoadDir(policies)
			if err != nil {
				return err
			}
			if _, err := gflags.useLearnOptions(cmd, logger(cmd, streams), policies); err != nil {
				return err
			}
			gopts, err := gflags.options()
			if err != nil {
				return err
			}
			in := diff.Inputs{
				Proposed: proposed, AgainstDir: against, Cluster: conn,
				Captures: files, Stdin: streams.In, GraphOptions: gopts,
			}
			if len(load) > 0 {
				g, err := mergeSnapshots(nil, load, streams)
				if err != nil {
					return fmt.Errorf("--load: %w", err)
				}
				in.Graph = synth.FromGraph(g)
			}
			report, err := diff.Run(cmd.Context(), in)
			if err != nil {
				return err
			}
			if err := report.Write(streams.Out, output); err != nil {
				return err
			}
			if report.Changed() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policies, "policies", "", "directory of proposed policies (required)")
	f.StringVar(&against, "against", "", "directory of the policies in force, instead of reading the cluster")
	f.StringArrayVarP(&files, "from-file", "f", nil, "capture of observed flows for the semantic diff (repeatable, \"-\" for standard input)")
	f.StringArrayVar(&load, "load", nil, "graph snapshot (learn --state, graph --save) for the semantic diff, instead of --from-file (repeatable)")
	f.StringVar(&state, "state", "", "old name of --load")
	oldName(f, "state", "--load")
	f.StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	addClusterFlags(cmd, &conn)
	gflags.registerIdentity(cmd)
	return cmd
}

// addClusterFlags adds kubectl's connection flags.
func addClusterFlags(cmd *cobra.Command, opts *cluster.Options) {
	f := cmd.Flags()
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)")
	f.StringVar(&opts.Context, "context", "", "kubeconfig context to use (default: the current context)")
	f.DurationVar(&opts.Timeout, "request-timeout", 30*time.Second, "timeout of each request to the API server")
}
