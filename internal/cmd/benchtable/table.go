package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

func writeTable(w io.Writer, rows []row) {
	header := []string{"workloads", "flows", "file ingest (flows/s)", "vs protojson", "vs hubble CLI",
		"gRPC ingest (flows/s)", "vs stock client", "fold (flows/s)", "peak RSS", "edges", "bytes/edge",
		"synthesis", "verify", "policies", "YAML"}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---:|", len(header)))
	for _, r := range rows {
		hubble := "not run"
		if r.hubbleRate > 0 {
			hubble = ratio(r.fileRate, r.hubbleRate)
		}
		verify := fmt.Sprintf("not run (> %d workloads)", r.workloads-1)
		if r.verified {
			verify = r.verifyTime.Round(time.Millisecond).String()
			if !r.verifyOK {
				verify += " (FAILED)"
			}
		}
		cells := []string{
			fmt.Sprint(r.workloads), fmt.Sprint(r.flows),
			rate(r.fileRate), ratio(r.fileRate, r.protojsonRate), hubble,
			rate(r.grpcRate), ratio(r.grpcRate, r.stockRate),
			rate(r.foldRate), mib(r.peakRSS), fmt.Sprint(r.edges), fmt.Sprintf("%.0f", r.bytesPerEdge),
			r.synthTime.Round(time.Millisecond).String(), verify,
			fmt.Sprint(r.policies), mib(int64(r.yamlBytes)),
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Baselines, each measured in the same run on a sample of the same capture: protojson.Unmarshal of each line into")
	fmt.Fprintln(w, "GetFlowsResponse; the stock generated gRPC client decoding every message, over loopback from `netpolgen replay`;")
	fmt.Fprintln(w, "`hubble observe --input-file FILE -o jsonpb --all` (the real CLI, same cilium version) reading and printing the file.")
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// flatRSS shows that memory follows the graph, not the flow count: the
// same scenario's flows, 1M, 10M and 20M of them, streamed from the
// generator into netpolgen graph without touching disk.
func flatRSS(cfg config) (string, error) {
	var b strings.Builder
	b.WriteString("Peak RSS of `netpolgen graph` over a fixed graph (the shop scenario), flows streamed from `netpolgen gen`:\n\n")
	b.WriteString("| flows | peak RSS | vs 1M | vs the row above |\n|---:|---:|---:|---:|\n")
	var base, prev int64
	for _, n := range []int{1_000_000, 10_000_000, 20_000_000} {
		gen := fmt.Sprintf("%q gen --duration 0 --flows %d -o - 2>/dev/null", cfg.netpolgen, n)
		rss, err := peakRSS(cfg, gen, cfg.netpolgen, "graph", "-o", "text", "-")
		if err != nil {
			return "", err
		}
		if base == 0 {
			base, prev = rss, rss
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", n, mib(rss), ratio(float64(rss), float64(base)), ratio(float64(rss), float64(prev)))
		prev = rss
	}
	return b.String(), nil
}
