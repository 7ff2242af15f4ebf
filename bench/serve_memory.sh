#!/usr/bin/env bash
# Resident memory of a whole `pdm serve` process following a fleet live (issue 6: RSS with
# 10,000 machines' online state < 200 MB). A model is trained on a small simulated fleet (8
# sensors, windows 3h / 24h / 7d, event features), served, and fed MACHINES machines x HOURS
# hourly readings through POST /api/v1/telemetry; the server's VmRSS is read from /proc before
# and after, and pdm_online_machines from /metrics.
# FEATURES=bench (default): the feature workload of the feature benchmarks (windows 3h / 24h / 7d,
# statistics mean std min max count slope; 200 hours fill the 7-day windows). FEATURES=sim: the
# simulator's own spec (8 statistics, a 30-day baseline window: 720 hourly records a sensor once
# full). CHUNK: readings per request.
#   MACHINES=10000 HOURS=200 CHUNK=1000 FEATURES=bench bench/serve_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
machines=${MACHINES:-10000}
hours=${HOURS:-200}
work=${WORK:-/tmp/pdm-serve-memory}
port=${PORT:-18011}
chunk=${CHUNK:-1000}
features=${FEATURES:-bench}
mkdir -p "$work"
pdm=$(bench/build_pdm.sh)

cd "$work"
[[ -d sim ]] || "$pdm" simulate --machines 12 --duration 60d --interval 2h --out sim >/dev/null
spec=sim/spec.yaml
if [[ $features == bench ]]; then
  spec=sim/spec-bench.yaml
  /usr/bin/python3 - <<'PY'
import re
text = open("sim/spec.yaml").read()
head, _, _ = text.partition("\nfeatures:\n")
tail = text[text.index("\nvalidation:"):]
open("sim/spec-bench.yaml", "w").write(head + """
features:
  windows: [3h, 24h, 7d]
  stats: [mean, std, min, max, count, slope]
  events: {windows: [24h, 7d]}""" + tail)
PY
fi
# One model per feature workload and binary (an older pdm's model may lack what this one keeps).
registry=registry-$features-$(sha256sum "$pdm" | cut -c1-16)
if [[ ! -f $registry/complete ]]; then
  rm -rf "$registry" "run-$features"
  "$pdm" train --spec "$spec" --models xgb --cv 2 --out "run-$features" --register --name fleet \
    --registry "$registry" >"train-$features.log" 2>&1
  "$pdm" models promote fleet 1 --alias production --registry "$registry" >/dev/null
  touch "$registry/complete"
fi

"$pdm" serve --registry "$registry" --model fleet --port "$port" --threads 2 --max-batch "$chunk" \
  --no-store-telemetry >serve.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
before=$(rss)
start=$(date +%s.%N)
/usr/bin/python3 - "$port" "$machines" "$hours" "$chunk" <<'PY'
import http.client, json, random, sys
port, machines, hours, chunk = (int(a) for a in sys.argv[1:5])
rng = random.Random(1)
conn = http.client.HTTPConnection("127.0.0.1", port)
base = 1.75e9
sensors = {"air_temperature": 25, "process_temperature": 60, "bearing_temperature": 70,
           "vibration_rms": 3, "pressure": 6, "rotational_speed": 1500, "torque": 40,
           "current": 20}
for h in range(hours):
    for first in range(0, machines, chunk):
        readings = []
        for m in range(first, min(first + chunk, machines)):
            values = {k: round(v * (1 + 0.05 * rng.gauss(0, 1)), 3) for k, v in sensors.items()}
            values["load_setpoint"] = 60
            reading = {"machine": "M%05d" % m, "time": base + 3600 * h, "values": values}
            if h == 0:
                reading["attributes"] = {"model": "ABC"[m % 3], "age_days": 1000 + m % 500,
                                         "rated_speed_rpm": 1500, "rated_power_kw": 75}
            readings.append(reading)
        body = json.dumps({"readings": readings})
        conn.request("POST", "/api/v1/telemetry", body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        answer = json.loads(reply.read())
        if reply.status != 200 or answer["refused"] != 0:
            sys.exit("telemetry refused: %d %s" % (reply.status, json.dumps(answer)[:400]))
PY
seconds=$(echo "$(date +%s.%N) - $start" | bc)
after=$(rss)
online=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^pdm_online_machines/ {print $2}')
readings=$((machines * hours))
echo "features: $features ($(grep -c . "run-$features/model/pipeline.json" >/dev/null; \
  /usr/bin/python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['features']))" \
  "run-$features/model/pipeline.json") model inputs), $chunk readings a request"
echo "machines followed (pdm_online_machines): $online"
echo "readings posted: $readings in ${seconds%.*} s ($(echo "$readings / $seconds" | bc) readings/s)"
echo "VmRSS of pdm serve: $before MB with the model loaded, $after MB after $machines machines"
