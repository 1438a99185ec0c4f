package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/pkg/cluster"
	"github.com/netpolgen/netpolgen/pkg/diff"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// learnClusterFlags connect learn to the cluster it learns for: pods the
// flows show only as addresses get their workload, the kube-apiserver its
// addresses, and --diff compares the result with the policies in force.
type learnClusterFlags struct {
	use     bool
	diff    bool
	against string
	conn    cluster.Options
}

func (f *learnClusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.use, "cluster", false, "read the cluster (--kubeconfig, --context) to name pods seen only as addresses and to learn the kube-apiserver's addresses")
	fl.BoolVar(&f.diff, "diff", false, "after writing, show the object and semantic diff against the cluster's policies (or --diff-against DIR), as netpolgen diff does")
	fl.StringVar(&f.against, "diff-against", "", "with --diff: directory of the policies in force, instead of the cluster")
	addClusterFlags(cmd, &f.conn)
}

// wantsCluster reports whether learn reads the cluster.
func (f *learnClusterFlags) wantsCluster() bool { return f.use || (f.diff && f.against == "") }

// snapshot reads the cluster when asked to; nil when not.
func (f *learnClusterFlags) snapshot(cmd *cobra.Command) (*cluster.Snapshot, error) {
	if !f.wantsCluster() {
		return nil, nil
	}
	c, err := cluster.Connect(cmd.Context(), f.conn)
	if err != nil {
		return nil, err
	}
	return c.Read(cmd.Context())
}

// enricher names pods from a snapshot, saying what the cluster adds.
func (f *learnClusterFlags) enricher(streams Streams, snap *cluster.Snapshot) *cluster.Enricher {
	if snap == nil {
		return nil
	}
	fmt.Fprintf(streams.Err, "cluster %s: %d pods (%d on the host network), %d policies in force, kube-apiserver at %v\n",
		snap.Server, len(snap.Pods.All()), len(snap.Pods.HostNetworkPods()), len(snap.Policies), snap.APIServerAddrs())
	for _, a := range snap.Absent {
		fmt.Fprintf(streams.Err, "cluster: %s\n", a)
	}
	return cluster.NewEnricher(snap.Pods)
}

// showDiff prints the diff of the written policies when --diff is set.
func (f *learnClusterFlags) showDiff(cmd *cobra.Command, w io.Writer, out string, g *synth.Graph) error {
	if !f.diff {
		return nil
	}
	proposed, err := diff.LoadDir(out)
	if err != nil {
		return err
	}
	rep, err := diff.Run(cmd.Context(), diff.Inputs{Proposed: proposed, AgainstDir: f.against, Cluster: f.conn, Graph: g})
	if err != nil {
		return fmt.Errorf("--diff: %w", err)
	}
	return rep.WriteText(w)
}
