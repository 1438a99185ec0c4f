package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/diff"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// learnClusterFlags connect learn to the cluster it learns for: pods the
// flows show only as addresses get their workload, the kube-apiserver its
// addresses, and --diff compares the result with the policies in force.
type learnClusterFlags struct {
	// mode is true, false or auto: auto reads the cluster when learning
	// live from Hubble and a kubeconfig reaches one, and goes on without
	// it otherwise; a capture alone never contacts a cluster unasked.
	mode    string
	diff    bool
	against string
	conn    cluster.Options
}

func (f *learnClusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "cluster", "auto", "read the cluster (--kubeconfig, --context) to name pods seen only as addresses and to learn the kube-apiserver's addresses: true, false, or auto (when learning live from Hubble and the cluster answers)")
	fl.Lookup("cluster").NoOptDefVal = "true"
	fl.BoolVar(&f.diff, "diff", false, "after writing, show the object and semantic diff against the cluster's policies (or --diff-against DIR), as netpolgen diff does")
	fl.StringVar(&f.against, "diff-against", "", "with --diff: directory of the policies in force, instead of the cluster")
	addClusterFlags(cmd, &f.conn)
}

// autoTimeout bounds how long --cluster=auto waits for a cluster that
// may not be there.
const autoTimeout = 5 * time.Second

// snapshot reads the cluster when --cluster (or --diff without
// --diff-against) needs it, or, in auto mode, when learning live and the
// cluster answers; nil when it is not used.
func (f *learnClusterFlags) snapshot(cmd *cobra.Command, log *slog.Logger, live bool) (*cluster.Snapshot, error) {
	required := f.diff && f.against == ""
	switch f.mode {
	case "true":
		required = true
	case "false":
		if required {
			return nil, errors.New("--diff needs the cluster (or --diff-against DIR), but --cluster=false")
		}
		return nil, nil
	case "auto":
		if !required && !live {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("--cluster must be true, false or auto, not %q", f.mode)
	}
	conn := f.conn
	if !required && (conn.Timeout == 0 || conn.Timeout > autoTimeout) {
		conn.Timeout = autoTimeout
	}
	snap, err := readCluster(cmd, conn)
	if err != nil && !required {
		log.Warn("cluster not used: pods seen only as addresses stay flagged in REPORT.md (--cluster=false silences this)", "error", err)
		return nil, nil
	}
	return snap, err
}

func readCluster(cmd *cobra.Command, conn cluster.Options) (*cluster.Snapshot, error) {
	c, err := cluster.Connect(cmd.Context(), conn)
	if err != nil {
		return nil, err
	}
	return c.Read(cmd.Context())
}

// enricher names pods from a snapshot, saying what the cluster adds.
func (f *learnClusterFlags) enricher(log *slog.Logger, snap *cluster.Snapshot) *cluster.Enricher {
	if snap == nil {
		return nil
	}
	log.Info("read the cluster", "server", snap.Server, "pods", len(snap.Pods.All()), "host_network_pods", len(snap.Pods.HostNetworkPods()),
		"policies_in_force", len(snap.Policies), "kube_apiserver", fmt.Sprint(snap.APIServerAddrs()))
	for _, a := range snap.Absent {
		log.Info("the cluster does not serve a policy resource", "resource", a)
	}
	logLearningMode(log, snap)
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
