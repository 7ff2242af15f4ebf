#!/usr/bin/env bash
# REST telemetry throughput of the server alone (issue 21's target: 200k readings/s on 2 cores
# with 1,000-reading bodies): a simulated fleet (FLEET machines, HOURS hourly readings of 8
# sensors and the load setpoint) is made into bodies of one hour each before the clock starts,
# then CLIENTS keep-alive connections POST them in turn to a fresh `pdm serve` of the shared fleet
# model (`--no-store-telemetry`, scored, drift on). Readings/s = readings sent / wall time. Each
# binary given is measured ROUNDS times, alternating; extra `pdm serve` flags in SERVE_FLAGS.
#   FLEET=1000 HOURS=200 ROUNDS=3 bench/telemetry_rest.sh [PDM_BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fleet=${FLEET:-1000}
hours=${HOURS:-200}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-2}
work=${WORK:-/tmp/pdm-telemetry-bench}
python=/usr/bin/python3
mkdir -p "$work"
binaries=("$@")
((${#binaries[@]} > 0)) || binaries=("${PDM_BIN:-$(bench/build_pdm.sh)}")
cd "$work"
declare -A registry  # each binary its own: an older pdm may not read a newer store
for pdm in "${binaries[@]}"; do registry[$pdm]=$("$root/bench/fleet_model.sh" "$pdm" 20 60); done
if [[ ! -f "fleet-$fleet-$hours/telemetry.csv" ]]; then
  "${binaries[0]}" simulate --machines "$fleet" --duration "${hours}h" --interval 1h --seed 5 \
    --start 2025-03-01T00:00:00Z --out "fleet-$fleet-$hours" >/dev/null
fi
server=
trap '[[ -n $server ]] && kill "$server" 2>/dev/null || true' EXIT
for ((round = 1; round <= rounds; round++)); do
  for pdm in "${binaries[@]}"; do
    # shellcheck disable=SC2086
    "$pdm" serve --registry "${registry[$pdm]}" --model fleet --port 0 --threads 2 --max-batch 100000 \
      --no-store-telemetry ${SERVE_FLAGS:-} >serve.log 2>&1 &
    server=$!
    api=
    for _ in $(seq 100); do
      api=$(sed -n 's/^serving .* on \(http:\/\/[0-9.:]*\).*/\1/p' serve.log)
      [[ -n $api ]] && break
      sleep 0.1
    done
    $python - "$api" "fleet-$fleet-$hours/telemetry.csv" "$clients" "$pdm" <<'PY'
import csv, http.client, json, sys, threading, time, urllib.parse
api, path, clients, binary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
by_time = {}
with open(path) as f:
    for row in csv.DictReader(f):
        values = {k: float(v) for k, v in row.items()
                  if k not in ("timestamp", "machine_id") and v != ""}
        by_time.setdefault(row["timestamp"], []).append(
            {"machine": row["machine_id"], "time": row["timestamp"], "values": values})
readings = sum(len(r) for r in by_time.values())
url = urllib.parse.urlparse(api)
# A machine's readings must arrive in time order: client c sends, hour after hour, the readings
# of the machines it owns (every clients-th machine).
machines = sorted({r["machine"] for rs in by_time.values() for r in rs})
owner = {m: i % clients for i, m in enumerate(machines)}
parts = [[json.dumps({"readings": [r for r in rs if owner[r["machine"]] == c]}).encode()
          for _, rs in sorted(by_time.items())] for c in range(clients)]
bodies = parts[0]
answers = {"accepted": 0, "refused": 0, "failed": 0}
lock = threading.Lock()
def send(c):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    for body in parts[c]:
        conn.request("POST", "/api/v1/telemetry", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        out = json.loads(r.read())
        with lock:
            if r.status == 200:
                answers["accepted"] += out["accepted"]
                answers["refused"] += out["refused"]
            else:
                answers["failed"] += 1
start = time.perf_counter()
threads = [threading.Thread(target=send, args=(c,)) for c in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
print(json.dumps({"binary": binary, "readings": readings, "bodies": len(bodies),
                  "seconds": round(seconds, 3), "readings_per_s": round(readings / seconds),
                  **answers}))
PY
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
  done
done
