#!/usr/bin/env bash
# The dashboard's API calls on a 10,000-machine fleet: one `pdm serve` (telemetry stored in its
# SQLite store, as by default) is fed MACHINES machines (copies of a simulated fleet's 20
# machines, each with HOURS hourly readings, so that sparklines, sensor histories and the drift
# window are full), then wrk times each call the pages make, one connection at a time, and
# reports the median and the 99th percentile. The target (issue 22): every call within 50 ms.
#   bench/dashboard_api.sh                     # 10,000 machines, 48 readings each
#   MACHINES=1000 HOURS=24 DURATION=3 bench/dashboard_api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
machines=${MACHINES:-10000}
hours=${HOURS:-48}
duration=${DURATION:-5}
work=${WORK:-/tmp/pdm-dashboard-bench}
mkdir -p "$work"
pdm=$(bench/build_pdm.sh)
python=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk is missing: scripts/setup.sh" >&2; exit 1; }

cd "$work"
registry=$("$root/bench/fleet_model.sh" "$pdm" 20 60)
# A fresh store each run: the readings of the last run would be history of this one.
served=$work/served
rm -rf "$served"
cp -r "$registry" "$served"

log=$work/serve.log
"$pdm" serve --registry "$served" --port 0 --threads 2 --max-machines $((machines + 1)) \
  --watch-ms 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "^serving " "$log" && break
  sleep 0.1
done
port=$(sed -n 's/^serving .* on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$log")
[[ -n $port ]] || { cat "$log"; exit 1; }

$python - "$port" "$machines" "$hours" <<'PY'
import csv, http.client, json, sys, time
port, machines, hours = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open("sim/telemetry.csv")))
attributes = {}
for r in csv.DictReader(open("sim/machines.csv")):
    m = r.pop("machine_id")
    attributes[m] = {k: (v if k == "model" else float(v)) for k, v in r.items()}
by_time = {}
for r in rows:
    by_time.setdefault(r["timestamp"], []).append(r)
times = sorted(by_time)[24 * 30:24 * 30 + hours]  # from day 30: the fleet runs in, some alarms
copies = machines // 20
conn = http.client.HTTPConnection("127.0.0.1", port)
start, posted = time.time(), 0
for h, t in enumerate(times):
    batch = []
    for c in range(copies):
        for r in by_time[t]:
            m = f"{r['machine_id']}-{c:04d}"
            reading = {"machine": m, "time": t,
                       "values": {k: (float(v) if v != "" else None) for k, v in r.items()
                                  if k not in ("timestamp", "machine_id")}}
            if h == 0:
                reading["attributes"] = attributes[r["machine_id"]]
            batch.append(reading)
            if len(batch) == 1000:
                conn.request("POST", "/api/v1/telemetry", json.dumps({"readings": batch}),
                             {"Content-Type": "application/json"})
                answer = conn.getresponse().read()
                posted += len(batch)
                batch = []
    if batch:
        conn.request("POST", "/api/v1/telemetry", json.dumps({"readings": batch}),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        posted += len(batch)
print(f"fed {posted} readings of {copies * 20} machines in {time.time() - start:.0f} s",
      file=sys.stderr)
PY

base=http://127.0.0.1:$port
# wrk's latencies ("812.00us", "1.20ms", "1.01s") in milliseconds.
ms() {
  echo "$1" | awk '{ v = $1; f = 1
    if (v ~ /us$/) { sub(/us$/, "", v); f = 0.001 } else if (v ~ /ms$/) { sub(/ms$/, "", v) }
    else if (v ~ /s$/) { sub(/s$/, "", v); f = 1000 }
    printf "%.2f", v * f }'
}
first=$(curl -s "$base/api/v1/machines?limit=1" | $python -c 'import json,sys; print(json.load(sys.stdin)["machines"][0]["machine"])')
echo "| call (the page that makes it) | median ms | p99 ms | requests/s |"
echo "|---|---|---|---|"
for call in \
  "/api/v1/machines?limit=100|fleet, first page (riskiest first)" \
  "/api/v1/machines?limit=100&offset=5000&sort=machine|fleet, scrolled to the middle, by name" \
  "/api/v1/machines?limit=100&state=alarm|fleet, machines in alarm" \
  "/api/v1/machines?limit=100&model=A&q=-00|fleet, filtered by model and id" \
  "/api/v1/machines/$first|machine (risk, sensors, contributions)" \
  "/api/v1/alerts?state=active&limit=500|alerts, and the header's count" \
  "/api/v1/drift|drift (every feature with histograms)" \
  "/api/v1/performance|drift (performance estimate)" \
  "/api/v1/models/fleet/versions|models" \
  "/api/v1/models|header"; do
  path=${call%%|*}
  what=${call#*|}
  out=$(wrk -t1 -c1 -d"${duration}s" --latency "$base$path" 2>&1)
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  [[ -z $non2xx ]] || { echo "$path: $non2xx non-2xx answers" >&2; exit 1; }
  echo "| \`GET ${path//|/\\|}\` ($what) | $(ms "$p50") | $(ms "$p99") | $rps |"
done
