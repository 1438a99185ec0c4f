// Command benchtable measures netpolgen at cluster scale and prints one
// Markdown table: ingest throughput from files and over gRPC beside the
// baselines measured in the same run (protojson per line, the stock
// generated gRPC client, the real hubble CLI), peak RSS and bytes per edge,
// synthesis and verification time, policy count and YAML bytes. make bench
// runs it; docs/benchmarks.md keeps a committed result.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type config struct {
	dir       string
	sizes     []int
	netpolgen string // built binary, for peak-RSS runs in a child process
	peakrss   string
	hubble    string
	sample    int
	verifyMax int
}

func main() {
	var cfg config
	var sizes string
	flag.StringVar(&cfg.dir, "dir", ".cache/bench", "where captures and scratch files go")
	flag.StringVar(&sizes, "sizes", "1000,10000,100000", "cluster sizes in workloads")
	flag.StringVar(&cfg.netpolgen, "netpolgen", ".cache/bench/netpolgen", "netpolgen binary")
	flag.StringVar(&cfg.peakrss, "peakrss", ".cache/bench/peakrss", "peakrss binary")
	flag.StringVar(&cfg.hubble, "hubble", "", "the real hubble CLI, for its --input-file baseline (skipped when empty)")
	flag.IntVar(&cfg.sample, "sample", 200000, "flows in the sample the slower baselines read")
	flag.IntVar(&cfg.verifyMax, "verify-max", 100000, "largest cluster (workloads) to run verification on")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			fatalf("-sizes: %q is not a workload count >= 10", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	ctx := context.Background()
	var rows []row
	for _, n := range cfg.sizes {
		r, err := measure(ctx, cfg, n)
		if err != nil {
			fatalf("%d workloads: %v", n, err)
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "benchtable: %d workloads done\n", n)
	}
	fmt.Printf("Measured %s on %s/%s, %d CPUs, %s.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	writeTable(os.Stdout, rows)
	flat, err := flatRSS(cfg)
	if err != nil {
		fatalf("flat RSS: %v", err)
	}
	fmt.Println()
	fmt.Println(flat)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchtable: "+format+"\n", args...)
	os.Exit(1)
}

// flowsFor sizes a capture so most of a cluster's edges are seen while a
// run stays within minutes on a laptop.
func flowsFor(workloads int) int {
	return min(max(1_000_000, 40*workloads), 4_000_000)
}

func capturePath(cfg config, workloads int) string {
	return filepath.Join(cfg.dir, fmt.Sprintf("large-%d.json", workloads))
}
