#!/usr/bin/env bash
# Every figure in BENCHMARKS.md, in one run: the Go benchmarks (each prints its figure next to the
# raw limit measured in the same run), then peak RSS of the real binary. Takes about 15 minutes on
# 2 cores. Usage: scripts/bench.sh [OUTPUT_FILE]; the raw output goes to out/bench-results.txt
# (git-ignored) by default: it is a result, not a source file; the figures live in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/bench-results.txt}
mkdir -p "$(dirname "$out")"
export CGO_ENABLED=1
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(go version) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  go test -run '^$' -bench . -benchtime 3x -timeout 90m ./internal/bench
  bash scripts/bench-rss.sh 1000000 100000
} 2>&1 | tee "$out"
