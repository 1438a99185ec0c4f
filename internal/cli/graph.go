package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// graphFlags are the identity and input options shared by graph-building
// commands.
type graphFlags struct {
	opts         graph.Options
	clusterCIDRs []string
	strict       bool
}

func (f *graphFlags) register(cmd *cobra.Command) {
	f.registerIdentity(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.opts.NodeNames, "node-name", nil, "keep only flows observed on these nodes (for learners sharded by node)")
	fl.BoolVar(&f.strict, "strict", false, "stop at the first malformed record instead of skipping it")
}

// registerIdentity adds the options that decide peers' identities.
func (f *graphFlags) registerIdentity(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.opts.SelectorLabels, "selector-labels", nil, "label keys a selector prefers, in order (default app.kubernetes.io/name,app,k8s-app,name)")
	fl.StringSliceVar(&f.opts.IgnoreLabels, "ignore-labels", nil, "more label keys to drop from identities (a trailing * matches a prefix)")
	fl.StringSliceVar(&f.opts.KeepLabels, "keep-labels", nil, "label keys to keep and add to selectors (e.g. version splits releases)")
	fl.IntVar(&f.opts.CIDRPrefixV4, "cidr-prefix-v4", 0, "aggregate world IPv4 addresses into prefixes of this length (0 keeps /32)")
	fl.IntVar(&f.opts.CIDRPrefixV6, "cidr-prefix-v6", 0, "aggregate world IPv6 addresses into prefixes of this length (0 keeps /128)")
	fl.StringSliceVar(&f.clusterCIDRs, "cluster-cidr", nil, "pod or service ranges: world addresses inside them are flagged as in-cluster")
}

func (f *graphFlags) options() (graph.Options, error) {
	opts := f.opts
	for _, s := range f.clusterCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return opts, fmt.Errorf("--cluster-cidr %q: %w", s, err)
		}
		opts.ClusterCIDRs = append(opts.ClusterCIDRs, p)
	}
	for _, v := range []struct {
		name string
		bits int
		max  int
	}{{"--cidr-prefix-v4", opts.CIDRPrefixV4, 32}, {"--cidr-prefix-v6", opts.CIDRPrefixV6, 128}} {
		if v.bits < 0 || v.bits > v.max {
			return opts, fmt.Errorf("%s %d: must be between 0 and %d", v.name, v.bits, v.max)
		}
	}
	return opts, nil
}

// buildGraph folds the captures in paths into a graph and merges the
// snapshots in load into it.
func (f *graphFlags) buildGraph(cmd *cobra.Command, streams Streams, paths, load []string) (*graph.Graph, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	var g *graph.Graph
	if len(paths) > 0 || len(load) == 0 {
		src := capture.NewSource(paths, capture.Options{Strict: f.strict, Stdin: streams.In})
		defer src.Close()
		if g, err = graph.Build(cmd.Context(), src, opts); err != nil {
			return nil, err
		}
	}
	return mergeSnapshots(g, load, streams)
}

// mergeSnapshots merges the snapshots at paths ("-" is standard input)
// into g, which may be nil.
func mergeSnapshots(g *graph.Graph, paths []string, streams Streams) (*graph.Graph, error) {
	for _, path := range paths {
		snap, err := loadSnapshot(path, streams)
		if err != nil {
			return nil, err
		}
		if g == nil {
			g = snap
			continue
		}
		if g, err = graph.Merge(g, snap); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return g, nil
}

func newGraphCommand(streams Streams) *cobra.Command {
	var (
		flags  graphFlags
		output string
		save   string
		load   []string
		files  []string
	)
	cmd := &cobra.Command{
		Use:   "graph [--from-file] FILE... | --load SNAPSHOT",
		Short: "Fold flows into a service map of workload identities and connections",
		Long: `Fold flow captures into the communication graph policy is learned from:
workload identities with stable selectors, and one edge per connection
kind from the side that opened it to the port it opened. Draw it as DOT
(Graphviz), Mermaid, JSON or text, and save it as a snapshot to resume or
merge later. Use "-" to read standard input.

See docs/graph.md for the identity and direction rules.`,
		Example: `  netpolgen graph flows.json | dot -Tsvg > map.svg
  netpolgen graph -o mermaid flows.json
  netpolgen graph --save day1.graph.json flows-day1.json
  netpolgen graph --load day1.graph.json --save day2.graph.json flows-day2.json
  netpolgen graph --keep-labels version -o text flows.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Captures are --from-file in every command; graph also
			// takes them as arguments, as it always has.
			files = append(files, args...)
			if len(files) == 0 && len(load) == 0 {
				// An empty graph and exit 0 would read as "no traffic".
				return errors.New("no input: give capture files (- for standard input) or --load a snapshot")
			}
			write, err := graphWriter(output)
			if err != nil {
				return err
			}
			g, err := flags.buildGraph(cmd, streams, files, load)
			if err != nil {
				return err
			}
			if save != "" {
				if err := graph.SaveFile(save, g); err != nil {
					return err
				}
			}
			return write(g, streams.Out)
		},
	}
	flags.register(cmd)
	cmd.Flags().StringArrayVarP(&files, "from-file", "f", nil, "capture to read (repeatable, \"-\" for standard input); arguments are captures too")
	cmd.Flags().StringVarP(&output, "output", "o", "dot", "output format: dot, mermaid, json, text or snapshot")
	cmd.Flags().StringVar(&save, "save", "", "also save the graph as a snapshot file")
	cmd.Flags().StringArrayVar(&load, "load", nil, "merge a saved snapshot into the graph (repeatable), e.g. to resume a learning run")
	return cmd
}

// graphWriter returns the writer for an output format.
func graphWriter(format string) (func(*graph.Graph, io.Writer) error, error) {
	switch format {
	case "dot":
		return (*graph.Graph).WriteDOT, nil
	case "mermaid":
		return (*graph.Graph).WriteMermaid, nil
	case "json":
		return (*graph.Graph).WriteJSON, nil
	case "text":
		return (*graph.Graph).WriteText, nil
	case "snapshot":
		return (*graph.Graph).Save, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use dot, mermaid, json, text or snapshot", format)
}
