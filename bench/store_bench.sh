#!/usr/bin/env bash
# Telemetry insert throughput (rows/s) into SQLite and into a real PostgreSQL 15 on loopback,
# started here in a temporary directory with its default durability settings and stopped after.
#   REPS=3 bench/store_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-3}
scripts/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target store_benchmark >/dev/null
pg_dir=$(mktemp -d /tmp/pdm-bench-pg.XXXXXX)
trap 'scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
PDM_BENCH_POSTGRES_URL=$(scripts/postgres.sh start "$pg_dir")
export PDM_BENCH_POSTGRES_URL
build/release/bench/store_benchmark --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true --benchmark_counters_tabular=true "$@"
