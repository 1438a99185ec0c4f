package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/inspect"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

func newInspectCommand(streams Streams) *cobra.Command {
	var (
		output string
		strict bool
		files  []string
	)
	cmd := &cobra.Command{
		Use:   "inspect [FILE...]",
		Short: "Summarise flow captures before learning from them",
		Long: `Summarise one or more flow captures: flows, time span, nodes, namespaces,
verdicts, event types, lost events, malformed and skipped records, and
flows whose direction is not stated. Use "-" to read standard input.

Reads hubble observe -o json/jsonpb output, Hubble exporter files, legacy
bare-Flow lines and JSON arrays of flows, gzip-compressed or not.`,
		Example: `  hubble observe -o jsonpb --last 10000 > flows.json
  netpolgen inspect flows.json
  netpolgen inspect -o json hubble-flows-*.json.gz`,
		RunE: func(cmd *cobra.Command, args []string) error {
			args = append(files, args...)
			if len(args) == 0 {
				return fmt.Errorf("no capture to inspect: name files as arguments or with --from-file (\"-\" reads standard input)")
			}
			if output != "table" && output != "json" {
				return fmt.Errorf("unknown output format %q: use table or json", output)
			}
			sum := inspect.New()
			src := capture.NewSource(args, capture.Options{
				Strict:      strict,
				Stdin:       streams.In,
				OnMalformed: func(e *capture.LineError) { sum.AddMalformed(e) },
			})
			defer src.Close()
			err := observe.Feed(cmd.Context(), src, func(rec *observe.Record) bool {
				if rec.Kind == observe.KindFlow {
					sum.Add(&rec.Flow)
				}
				return true
			})
			if err != nil {
				return err
			}
			sum.Finish(src.Stats())
			if output == "json" {
				return sum.WriteJSON(streams.Out)
			}
			return sum.WriteTable(streams.Out)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringArrayVarP(&files, "from-file", "f", nil, "capture to read (repeatable, \"-\" for standard input)")
	cmd.Flags().BoolVar(&strict, "strict", false, "stop at the first malformed record instead of skipping it")
	return cmd
}
