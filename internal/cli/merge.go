package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/pkg/graph"
)

func newMergeCommand(streams Streams) *cobra.Command {
	var (
		save, out string
		load      []string
	)
	cmd := &cobra.Command{
		Use:   "merge [--load] SNAPSHOT... [--save FILE]",
		Short: "Merge graph snapshots into one",
		Long: `Merge graph snapshots written by "netpolgen graph --save": a checkpoint and
the run that resumed it, learners sharded over Hubble Relay by node
(--node-name), or learners on several clusters. The result does not
depend on the order of the inputs. All snapshots must use the same
identity rules (selector, ignore and keep labels, CIDR prefixes).`,
		Example: `  netpolgen merge node-a.graph.json node-b.graph.json --save cluster.graph.json
  netpolgen merge east.graph.json west.graph.json | netpolgen graph --load - -o text`,
		RunE: func(_ *cobra.Command, args []string) error {
			// Snapshots are --load in every command; merge also takes
			// them as arguments, as it always has.
			load = append(load, args...)
			if len(load) == 0 {
				return errors.New("no snapshot to merge: name them as arguments or with --load")
			}
			if save == "" {
				save = out // --output is --save's old name
			}
			merged, err := mergeSnapshots(nil, load, streams)
			if err != nil {
				return err
			}
			if save == "" || save == "-" {
				return merged.Save(streams.Out)
			}
			return graph.SaveFile(save, merged)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&load, "load", nil, "snapshot to merge (repeatable, \"-\" for standard input); arguments are snapshots too")
	fs.StringVar(&save, "save", "", "write the merged snapshot to this file (default standard output)")
	fs.StringVarP(&out, "output", "o", "", "old name of --save")
	oldName(fs, "output", "--save")
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
