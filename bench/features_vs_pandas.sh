#!/usr/bin/env bash
# Feature engine against pandas on >= 10 M simulated readings: 8 sensors x rolling 3h / 24h / 7d
# x mean, std, min, max, count, slope (144 features), in the same run, alternating.
#   pdm:    build/release/bench/features_throughput (batch: all cores; online: one core)
#   pandas: bench/features_pandas.py, groupby(machine).rolling(window), Debian's python3-pandas
# Both read the same validated rows (duplicates dropped, out-of-range values missing); neither
# side's timing includes reading the CSV. The per-feature sums of both sides are compared, so
# the two compute the same features. Appends the results to bench/results/features.md.
#   bench/features_vs_pandas.sh                       # 1200 machines x 365 d hourly: 10.5 M rows
#   MACHINES=100 REPS=1 bench/features_vs_pandas.sh   # a quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
machines=${MACHINES:-1200}
reps=${REPS:-3}
dir=${PDM_BENCH_DIR:-/tmp/pdm-bench}/features-$machines
python=/usr/bin/python3
[[ -x build/release/bench/features_throughput ]] ||
  { cmake --preset release >/dev/null && cmake --build --preset release; }
if [[ ! -f $dir/telemetry.csv ]]; then
  build/release/src/cli/pdm simulate --machines "$machines" --duration 365d --interval 1h --seed 1 \
    --out "$dir" >/dev/null
fi
cat "$dir/telemetry.csv" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
batch=() online=() pandas=() pdm_rss=() pandas_rss=()
for ((i = 0; i < reps; i++)); do
  out=$( { /usr/bin/time -f "%M" build/release/bench/features_throughput "$dir/spec.yaml" \
             >/tmp/pdm-features-bench.json; } 2>&1)
  pdm_rss+=("$(tail -1 <<<"$out")")
  batch+=("$($python -c 'import json,sys; print(json.load(open(sys.argv[1]))["batch_seconds"])' /tmp/pdm-features-bench.json)")
  online+=("$($python -c 'import json,sys; print(json.load(open(sys.argv[1]))["online_seconds"])' /tmp/pdm-features-bench.json)")
  out=$( { /usr/bin/time -f "%M" $python bench/features_pandas.py "$dir/telemetry.csv" \
             >/tmp/pandas-features-bench.json; } 2>&1)
  pandas_rss+=("$(tail -1 <<<"$out")")
  pandas+=("$($python -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' /tmp/pandas-features-bench.json)")
done
# The same features: per-feature sums agree (slope: pandas' moment formula loses digits).
check=$($python - /tmp/pdm-features-bench.json /tmp/pandas-features-bench.json <<'PY'
import json, sys
pdm, pd = (json.load(open(p))["sums"] for p in sys.argv[1:3])
assert set(pdm) == set(pd), sorted(set(pdm) ^ set(pd))
worst = {}
for name, (s, n) in pdm.items():
    ps, pn = pd[name]
    assert n == pn, f"{name}: {n} defined values in pdm, {pn} in pandas"
    stat = name.split("_")[-2]
    rel = abs(s - ps) / max(abs(ps), 1e-9 * n, 1e-300)
    worst[stat] = max(worst.get(stat, 0), rel)
limit = {"slope": 1e-3}
bad = {k: v for k, v in worst.items() if v > limit.get(k, 1e-9)}
assert not bad, f"sums differ: {bad}"
print(", ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items())))
PY
)
rows=$($python -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' /tmp/pdm-features-bench.json)
b=$(printf '%s\n' "${batch[@]}" | median)
o=$(printf '%s\n' "${online[@]}" | median)
q=$(printf '%s\n' "${pandas[@]}" | median)
prss=$(printf '%s\n' "${pdm_rss[@]}" | sort -g | tail -1)
qrss=$(printf '%s\n' "${pandas_rss[@]}" | sort -g | tail -1)
report=$(awk -v rows="$rows" -v b="$b" -v o="$o" -v q="$q" -v prss="$prss" -v qrss="$qrss" \
  -v threads="$(nproc)" 'BEGIN {
  printf "| %.1f M | pdm batch (%d threads) | %.2f s | %.2f M rows/s | %.1fx |\n", rows/1e6, threads, b, rows/b/1e6, q/b
  printf "| %.1f M | pdm online (1 thread, one reading at a time) | %.2f s | %.2f M updates/s | %.1fx |\n", rows/1e6, o, rows/o/1e6, q/o
  printf "| %.1f M | pandas groupby().rolling() | %.2f s | %.2f M rows/s | 1.0x |\n", rows/1e6, q, rows/q/1e6
  printf "\npeak RSS (whole process, includes the loaded data): pdm %.0f MB, pandas %.0f MB\n", prss/1024, qrss/1024
}')
echo "median of $reps runs each, alternating; ratio = pandas time / pdm time; 144 features"
echo "| readings | engine | time | throughput | vs pandas |"
echo "|---|---|---|---|---|"
echo "$report"
echo "same features: largest relative difference of per-feature sums by statistic: $check"
mkdir -p bench/results
{
  printf '\n## %s, commit %s, `REPS=%s MACHINES=%s bench/features_vs_pandas.sh`\n\n' \
    "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$reps" "$machines"
  echo "| readings | engine | time | throughput | vs pandas |"
  echo "|---|---|---|---|---|"
  echo "$report"
  echo
  echo "same features: largest relative difference of per-feature sums by statistic: $check"
} >>bench/results/features.md
