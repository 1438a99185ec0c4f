#!/usr/bin/env bash
# make bench: the Go benchmarks (each reports its speed-up against a
# baseline measured in the same run), then the cluster-scale table of
# internal/cmd/benchtable (ingest, memory, synthesis and verification at
# 1k, 10k and 100k workloads, beside the baselines, measured in one run).
# SIZES, SAMPLE and VERIFY_MAX tune the table; BENCH filters the Go
# benchmarks; TABLE=0 skips the table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/bench
mkdir -p "$out"

echo "== Go benchmarks"
go test -run '^$' -bench "${BENCH:-.}" -benchmem ./... | tee "$out/go-bench.txt" | grep -E '^(Benchmark|ok|FAIL|pkg:)'

[ "${TABLE:-1}" = 1 ] || exit 0
echo
echo "== Cluster-scale table"
go build -o "$out/netpolgen" ./cmd/netpolgen
go build -o "$out/peakrss" ./internal/cmd/peakrss
make -s hubble
go run ./internal/cmd/benchtable -dir "$out" -netpolgen "$out/netpolgen" -peakrss "$out/peakrss" \
  -hubble "$(make -s --no-print-directory print-hubble-bin)" \
  -sizes "${SIZES:-1000,10000,100000}" -sample "${SAMPLE:-200000}" -verify-max "${VERIFY_MAX:-100000}" |
  tee "$out/table.md"
