#!/usr/bin/env bash
# What the export sinks cost the telemetry path (docs/ingest.md, ADR 0022), in one run: a fleet of
# FLEET machines over HOURS hours is POSTed with `pdm simulate --publish http://` (one request per
# hour) to a fresh `pdm serve` without sinks, then to one writing to a real influxd and
# redis-server on loopback (readings, risks, alerts), ROUNDS times each, alternating. Prints the
# readings per second of each run, the ratio with/without, and what the sinks wrote and dropped
# once their queues drained (nothing may be dropped).
#   FLEET=1000 HOURS=48 ROUNDS=3 bench/sink_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fleet=${FLEET:-1000}
hours=${HOURS:-48}
rounds=${ROUNDS:-3}
work=${WORK:-/tmp/pdm-sink-bench}
mkdir -p "$work"
pdm=${PDM_BIN:-$(bench/build_pdm.sh)}
python=/usr/bin/python3
cd "$work"
registry=$("$root/bench/fleet_model.sh" "$pdm" 20 60)
free_port() { $python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

influx_port=$(free_port)
rm -rf influx && mkdir -p influx
cat >influx/influxdb.conf <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$(free_port)"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  log-enabled = false
[monitor]
  store-enabled = false
EOF
/usr/bin/influxd -config influx/influxdb.conf >influx/log 2>&1 &
influxd=$!
redis_port=$(free_port)
/usr/bin/redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >redis.log 2>&1 &
redis=$!
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null || true
  kill "$influxd" "$redis" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$influx_port/ping" | grep -q 204 && break
  sleep 0.1
done

: >none.yaml
cat >sinks.yaml <<EOF
sinks:
  - {type: influxdb, name: historian, url: 'http://127.0.0.1:$influx_port', database: bench}
  - {type: redis, name: live, url: 'redis://127.0.0.1:$redis_port'}
EOF

start_server() {  # the config file
  "$pdm" serve --registry "$registry" --model fleet --port 0 --threads 2 --max-batch 100000 \
    --no-store-telemetry --config "$1" >serve.log 2>&1 &
  server=$!
  for _ in $(seq 100); do
    api=$(sed -n 's/^serving .* on \(http:\/\/[0-9.:]*\).*/\1/p' serve.log)
    [[ -n $api ]] && break
    sleep 0.1
  done
}
stop_server() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
}

results=()
for round in $(seq "$rounds"); do
  for config in none sinks; do
    start_server "$config.yaml"
    line=$("$pdm" simulate --machines "$fleet" --duration "${hours}h" --interval 1h --seed 5 \
      --out fleet --start 2025-03-01T00:00:00Z --publish "$api" --speed 0 | tail -1)
    # Wait for the sinks' queues to drain, then take their counts.
    sinks='[]'
    for _ in $(seq 300); do
      sinks=$(curl -sf "$api/api/v1/sources" | $python -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["sinks"]))')
      $python -c 'import json,sys; sys.exit(0 if all(s["queued"] == 0 for s in json.loads(sys.argv[1])) else 1)' "$sinks" && break
      sleep 0.1
    done
    result=$($python - "$line" "$config" "$round" "$sinks" <<'PY'
import json, re, sys
line, config, round_, sinks = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
m = re.search(r"published (\d+) readings in (\d+) messages .* in ([\d.]+) s", line)
readings, seconds = int(m[1]), float(m[3])
print(json.dumps({"round": round_, "sinks": config, "readings": readings, "seconds": seconds,
                  "readings_per_s": round(readings / seconds),
                  "written": {s["name"]: s["points_written"] for s in sinks},
                  "dropped": {s["name"]: s["points_dropped"] for s in sinks}}))
PY
)
    echo "$result"
    results+=("$result")
    stop_server
  done
done
printf '%s\n' "${results[@]}" >results.jsonl
$python - results.jsonl <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for r in range(1, max(x["round"] for x in runs) + 1):
    a = next(x for x in runs if x["round"] == r and x["sinks"] == "none")
    b = next(x for x in runs if x["round"] == r and x["sinks"] == "sinks")
    ratio = b["readings_per_s"] / a["readings_per_s"]
    print(f"round {r}: {a['readings_per_s']} readings/s without sinks, {b['readings_per_s']} with:"
          f" ratio {ratio:.2f}; written {b['written']}, dropped {b['dropped']}")
PY
