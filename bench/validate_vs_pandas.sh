#!/usr/bin/env bash
# Reads and validates a >= 1 GB simulated telemetry CSV with `pdm validate`, and reads the same file
# with pandas.read_csv (Debian's python3-pandas), alternating, in the same run. Reports MB/s, rows/s,
# peak RSS and the pdm/pandas speed ratio (medians), and appends them to bench/results/validate.md.
#   bench/validate_vs_pandas.sh            # 1600 machines x 365 d hourly: ~1.1 GB, 13.7 M rows
#   MACHINES=200 REPS=1 bench/validate_vs_pandas.sh   # a quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
machines=${MACHINES:-1600}
reps=${REPS:-3}
dir=${PDM_BENCH_DIR:-/tmp/pdm-bench}/fleet-$machines
pdm=build/release/src/cli/pdm
python=/usr/bin/python3
[[ -x $pdm ]] || { cmake --preset release >/dev/null && cmake --build --preset release; }
if [[ ! -f $dir/telemetry.csv ]]; then
  $pdm simulate --machines "$machines" --duration 365d --interval 1h --seed 1 --out "$dir" >/dev/null
fi
file=$dir/telemetry.csv
bytes=$(stat -c %s "$file")
cat "$file" >/dev/null  # both readers start from the page cache

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pdm_t=() pdm_1t=() pandas_t=() pdm_rss=() pdm_1t_rss=() pandas_rss=()
rows=0
for ((i = 0; i < reps; i++)); do
  out=$( { /usr/bin/time -f "%e %M" $pdm validate --spec "$dir/spec.yaml" --main-only --json \
             >/tmp/pdm-bench-validate.json; } 2>&1 || true)
  read -r t m <<<"$(tail -1 <<<"$out")"; pdm_t+=("$t"); pdm_rss+=("$m")
  rows=$(grep -m1 -o '"rows_read": [0-9]*' /tmp/pdm-bench-validate.json | grep -o '[0-9]*$')
  out=$( { /usr/bin/time -f "%e %M" $pdm validate --spec "$dir/spec.yaml" --main-only --json --threads 1 \
             >/dev/null; } 2>&1 || true)
  read -r t m <<<"$(tail -1 <<<"$out")"; pdm_1t+=("$t"); pdm_1t_rss+=("$m")
  # pandas is timed inside Python around read_csv alone (interpreter start and import excluded).
  out=$( { /usr/bin/time -f "%M" $python -c "
import sys, time
import pandas as pd
start = time.perf_counter()
df = pd.read_csv(sys.argv[1])
print(time.perf_counter() - start, len(df))" "$file"; } 2>&1)
  read -r t _ <<<"$(head -1 <<<"$out")"; m=$(tail -1 <<<"$out"); pandas_t+=("$t"); pandas_rss+=("$m")
done
p=$(printf '%s\n' "${pdm_t[@]}" | median)
p1=$(printf '%s\n' "${pdm_1t[@]}" | median)
q=$(printf '%s\n' "${pandas_t[@]}" | median)
prss=$(printf '%s\n' "${pdm_rss[@]}" | sort -g | tail -1)
p1rss=$(printf '%s\n' "${pdm_1t_rss[@]}" | sort -g | tail -1)
qrss=$(printf '%s\n' "${pandas_rss[@]}" | sort -g | tail -1)
mb=$(awk -v b="$bytes" 'BEGIN {printf "%.0f", b / 1e6}')
report=$(awk -v mb="$mb" -v rows="$rows" -v p="$p" -v p1="$p1" -v q="$q" -v prss="$prss" -v p1rss="$p1rss" \
  -v qrss="$qrss" -v reps="$reps" -v date="$(date -u +%F)" 'BEGIN {
  printf "| %s | %d MB, %.1f M rows | pdm validate (2 threads) | %.2f s | %.0f MB/s | %.2f M rows/s | %.0f MB | %.1fx |\n", date, mb, rows/1e6, p, mb/p, rows/p/1e6, prss/1024, q/p
  printf "| %s | %d MB, %.1f M rows | pdm validate --threads 1 | %.2f s | %.0f MB/s | %.2f M rows/s | %.0f MB | %.1fx |\n", date, mb, rows/1e6, p1, mb/p1, rows/p1/1e6, p1rss/1024, q/p1
  printf "| %s | %d MB, %.1f M rows | pandas.read_csv | %.2f s | %.0f MB/s | %.2f M rows/s | %.0f MB | 1.0x |\n", date, mb, rows/1e6, q, mb/q, rows/q/1e6, qrss/1024
}')
echo "median of $reps runs each, alternating; ratio = pandas time / pdm time (pdm: whole process; pandas: read_csv call)"
echo "| date | file | reader | time | MB/s | rows/s | peak RSS | vs pandas |"
echo "|---|---|---|---|---|---|---|---|"
echo "$report"
mkdir -p bench/results
{
  printf '\n## %s, commit %s, `REPS=%s MACHINES=%s bench/validate_vs_pandas.sh`\n\n' \
    "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$reps" "$machines"
  echo "| date | file | reader | time | MB/s | rows/s | peak RSS | vs pandas |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "$report"
} >>bench/results/validate.md
