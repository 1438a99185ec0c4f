#!/usr/bin/env bash
# make bench: Go benchmarks (each reports its speed-up against a baseline
# measured in the same run), then peak RSS of file ingest at 100k and 1M
# generated flows, to show memory stays flat as the flow count grows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/bench
mkdir -p "$out"

echo "== Go benchmarks"
go test -run '^$' -bench "${BENCH:-.}" -benchmem ./... | tee "$out/go-bench.txt" | grep -E '^(Benchmark|ok|FAIL|pkg:)'

echo
echo "== Peak RSS of 'netpolgen inspect' over generated captures"
go build -o "$out/netpolgen" ./cmd/netpolgen
go build -o "$out/peakrss" ./internal/cmd/peakrss
printf '| flows | capture bytes | peak RSS | RSS vs 100k |\n|---:|---:|---:|---:|\n'
base=""
for n in 100000 1000000; do
  f="$out/shop-$n.json"
  [ -s "$f" ] || "$out/netpolgen" gen --duration 0 --flows "$n" -o "$f" 2>/dev/null
  rss=$("$out/peakrss" -- "$out/netpolgen" inspect "$f" 2>/dev/null)
  [ -n "$base" ] || base=$rss
  printf '| %s | %s | %s MiB | %sx |\n' "$n" "$(stat -c %s "$f")" "$((rss / 1048576))" \
    "$(awk -v a="$rss" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
done
