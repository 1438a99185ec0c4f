package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/pkg/graph"
)

func newMergeCommand(streams Streams) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge SNAPSHOT...",
		Short: "Merge graph snapshots into one",
		Long: `Merge graph snapshots written by "netpolgen graph --save": a checkpoint and
the run that resumed it, learners sharded over Hubble Relay by node
(--node-name), or learners on several clusters. The result does not
depend on the order of the inputs. All snapshots must use the same
identity rules (selector, ignore and keep labels, CIDR prefixes).`,
		Example: `  netpolgen merge node-a.graph.json node-b.graph.json -o cluster.graph.json
  netpolgen merge east.graph.json west.graph.json | netpolgen graph --load - -o text`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var merged *graph.Graph
			for _, path := range args {
				g, err := loadSnapshot(path, streams)
				if err != nil {
					return err
				}
				if merged == nil {
					merged = g
					continue
				}
				if merged, err = graph.Merge(merged, g); err != nil {
					return err
				}
			}
			if out == "" || out == "-" {
				return merged.Save(streams.Out)
			}
			return graph.SaveFile(out, merged)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the merged snapshot to this file (default standard output)")
	return cmd
}

// loadSnapshot reads a snapshot from a file, or standard input for "-".
func loadSnapshot(path string, streams Streams) (*graph.Graph, error) {
	if path == "-" {
		in := streams.In
		if in == nil {
			in = os.Stdin
		}
		return graph.Load(in, "standard input")
	}
	return graph.LoadFile(path)
}
