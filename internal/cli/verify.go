package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

func newVerifyCommand(streams Streams) *cobra.Command {
	var (
		gflags            graphFlags
		policies          string
		fromFiles         []string
		load              []string
		namespaces        []string
		excludeNamespaces []string
	)
	cmd := &cobra.Command{
		Use:   "verify --policies DIR (--from-file FILE... | --load SNAPSHOT...)",
		Short: "Replay observed connections through Cilium's policy engine against policies",
		Long: `Check NetworkPolicies and CiliumNetworkPolicies offline with Cilium's own
policy engine: every observed connection must be allowed, and every
never-observed connection between the same identities and ports that the
policies allow is reported as excess. Exits 1 when an observed connection is
denied.

The excess sweep looks at workloads in the namespaces given by --namespace
(default all) minus --exclude-namespace.

The identity options (--keep-labels and the rest) and the namespaces default
to those the policies were learned with, read from netpolgen.options in the
policy directory, which learn writes; a flag given here wins.`,
		Example: `  netpolgen verify --policies policies/ --from-file flows.json
  netpolgen verify --policies policies/ --load learn.graph.json --exclude-namespace kube-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policies == "" {
				return errors.New("--policies DIR is required")
			}
			if len(fromFiles) == 0 && len(load) == 0 {
				return errors.New("give the observed traffic with --from-file or --load")
			}
			ps, err := verify.LoadDir(policies)
			if err != nil {
				return err
			}
			ps, learningMode := ps.WithoutLearningMode()
			log := logger(cmd, streams)
			learned, err := gflags.useLearnOptions(cmd, log, policies)
			if err != nil {
				return err
			}
			if learned != nil && !cmd.Flags().Changed("namespace") && !cmd.Flags().Changed("exclude-namespace") {
				// Sweep the namespaces that got policies.
				namespaces, excludeNamespaces = learned.Namespaces, learned.ExcludeNamespaces
			}
			if len(ps.Kubernetes)+len(ps.Cilium) == 0 {
				return fmt.Errorf("no NetworkPolicy or CiliumNetworkPolicy found under %s", policies)
			}
			g, err := gflags.buildGraph(cmd, streams, fromFiles, load)
			if err != nil {
				return err
			}
			scope := synth.Options{Namespaces: namespaces, ExcludeNamespaces: excludeNamespaces}
			sg := synth.FromGraph(g)
			res, err := verify.Verify(sg, ps, verify.Options{
				Subjects: func(r synth.WorkloadRef) bool { return scope.Manages(r.Namespace) },
				Logger:   engineLogger(log),
			})
			if err != nil {
				return err
			}
			l7, err := verifyL7Policies(sg, ps)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "read %d NetworkPolicies and %d CiliumNetworkPolicies from %d files\n", len(ps.Kubernetes), len(ps.Cilium), ps.Files)
			if learningMode > 0 {
				fmt.Fprintf(streams.Out, "left out %d learning-mode policies (%s=%s): they deny nothing and go away when these are applied\n", learningMode, synth.RoleLabel, synth.RoleVisibility)
			}
			writeVerifySummary(streams.Out, res)
			if res.IdentityNote != "" {
				fmt.Fprintf(streams.Out, "note: %s\n", res.IdentityNote)
			}
			writeL7Summary(streams.Out, l7)
			if !res.OK() {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d observed connections are denied", len(res.Denied))}
			}
			if l7 != nil && !l7.OK() {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d observed L7 requests are denied", len(l7.Denied))}
			}
			return nil
		},
	}
	gflags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&policies, "policies", "", "directory of policy YAML files (searched recursively)")
	fl.StringArrayVar(&fromFiles, "from-file", nil, "observed flows (repeatable; - for standard input)")
	fl.StringArrayVar(&load, "load", nil, "graph snapshot saved by learn --state or graph --save (repeatable)")
	fl.StringSliceVar(&namespaces, "namespace", nil, "namespaces whose workloads the excess sweep checks (default all)")
	fl.StringSliceVar(&excludeNamespaces, "exclude-namespace", nil, "namespaces the excess sweep skips")
	return cmd
}
