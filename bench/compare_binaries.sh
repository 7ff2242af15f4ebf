#!/usr/bin/env bash
# Compares builds of one Google Benchmark binary on this noisy 2-core VM: runs them in turn,
# N rounds, each pinned to the same core, and prints the best (highest) value of a rate counter
# for each. The best of many short runs estimates the uncontended speed; a median does not
# settle within the machine's noise (other tenants steal whole periods).
#   bench/compare_binaries.sh OLD_BINARY NEW_BINARY [MORE...]
#   N=12 COUNTER=updates/s FILTER=BM_OnlineUpdate bench/compare_binaries.sh /tmp/old build/release/bench/features_benchmark
set -euo pipefail
rounds=${N:-12}
counter=${COUNTER:-updates/s}
filter=${FILTER:-.}
(($# >= 2)) || { echo "usage: $0 BINARY BINARY [BINARY...]" >&2; exit 2; }
declare -A best
for ((r = 0; r < rounds; r++)); do
  for b in "$@"; do
    v=$(taskset -c 1 "$b" --benchmark_filter="$filter" --benchmark_min_time=0.3 2>&1 |
        grep -o "${counter}=[0-9.]*[kMG]*" | head -1 | cut -d= -f2)
    [[ -n $v ]] || { echo "$b: no ${counter} counter in its output" >&2; exit 1; }
    v=$(awk -v v="$v" 'BEGIN { m = 1; if (v ~ /k$/) m = 1e3; if (v ~ /M$/) m = 1e6; if (v ~ /G$/) m = 1e9; printf "%.0f", v * m }')
    best[$b]=$(awk -v a="${best[$b]:-0}" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
  done
done
for b in "$@"; do printf '%s\tbest %s %s of %d runs\n' "$b" "${best[$b]}" "$counter" "$rounds"; done
