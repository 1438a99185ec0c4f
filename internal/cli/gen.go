package cli

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/flowgen"
)

func newGenCommand(streams Streams) *cobra.Command {
	var (
		opts      flowgen.Options
		start     string
		out       string
		truthPath string
		scenario  string
		large     = flowgen.DefaultLargeConfig(10, 1000)
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Write a realistic synthetic flow capture and its ground truth",
		Long: `Write a seeded, deterministic capture of Hubble flows (one GetFlowsResponse
JSON object per line, as hubble observe -o jsonpb prints) for a demo
cluster, and optionally the ground truth of the connections it holds.
The same seed and flags always give the same bytes.`,
		Example: `  netpolgen gen --seed 1 --duration 30m --out flows.json --truth truth.json
  netpolgen gen --duration 24h --out flows.json.gz
  netpolgen gen --duration 0 --flows 1000000 --out 1m.json
  netpolgen gen --scenario large --namespaces 100 --workloads 10000 --duration 1h --out big.json.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			large.Seed = opts.Seed
			s, err := scenarioByName(scenario, large)
			if err != nil {
				return err
			}
			if start != "" {
				if opts.Start, err = time.Parse(time.RFC3339, start); err != nil {
					return fmt.Errorf("--start: %w", err)
				}
			}
			var w io.Writer = streams.Out
			var closers []io.Closer
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				w, closers = f, append(closers, f)
				if strings.HasSuffix(out, ".gz") {
					zw := gzip.NewWriter(f)
					w, closers = zw, append([]io.Closer{zw}, closers...)
				}
			}
			truth, genErr := flowgen.Generate(s, opts, w)
			for _, c := range closers {
				if err := c.Close(); err != nil && genErr == nil {
					genErr = err
				}
			}
			if genErr != nil {
				return genErr
			}
			if truthPath != "" {
				f, err := os.Create(truthPath)
				if err != nil {
					return err
				}
				if err := truth.WriteJSON(f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			if out != "" && out != "-" {
				logger(cmd, streams).Info("wrote a capture", "file", out, "flows", truth.Flows, "lost_events", truth.LostEvents)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&opts.Seed, "seed", 1, "random seed; the same seed gives the same capture")
	f.DurationVar(&opts.Duration, "duration", 30*time.Minute, "length of the captured window (0 with --flows: as long as it takes)")
	f.Uint64Var(&opts.MaxFlows, "flows", 0, "stop after about this many flows (a connection's flows are kept together)")
	f.StringVar(&start, "start", "", "capture start time, RFC 3339 (default "+flowgen.DefaultStart().Format(time.RFC3339)+")")
	f.BoolVar(&opts.Camel, "camel", false, "write lowerCamel JSON keys instead of Hubble's snake_case")
	f.StringVarP(&out, "out", "o", "-", "capture file to write (\"-\" for stdout; .gz compresses)")
	f.StringVar(&truthPath, "truth", "", "also write the ground-truth connections as JSON to this file")
	f.StringVar(&scenario, "scenario", "shop", "scenario to generate: shop (the bundled example), demo (the e2e demo app), l7 (HTTP, gRPC, Kafka and DNS records for L7 policy), shop-day1 and shop-day2 (two days of rollouts: learn one, verify the other) or large")
	f.IntVar(&large.Namespaces, "namespaces", large.Namespaces, "large: number of namespaces")
	f.IntVar(&large.Workloads, "workloads", large.Workloads, "large: number of workloads")
	f.IntVar(&large.Nodes, "nodes", 0, "large: number of nodes (default one per 50 workloads, at least 3)")
	f.Float64Var(&large.MeanFanOut, "fan-out", large.MeanFanOut, "large: mean number of services each workload calls (power-law distributed)")
	return cmd
}

func scenarioByName(name string, large flowgen.LargeConfig) (*flowgen.Scenario, error) {
	switch name {
	case "shop":
		return flowgen.Shop(), nil
	case "demo":
		return flowgen.Demo(), nil
	case "l7":
		return flowgen.L7(), nil
	case "shop-day1", "shop-day2":
		day1, day2 := flowgen.ShopDays()
		if name == "shop-day2" {
			return day2, nil
		}
		return day1, nil
	case "large":
		if large.Nodes == 0 {
			large.Nodes = flowgen.DefaultLargeConfig(large.Namespaces, large.Workloads).Nodes
		}
		return flowgen.Large(large)
	}
	return nil, fmt.Errorf("unknown scenario %q: use shop, shop-day1, shop-day2, demo, l7 or large", name)
}
