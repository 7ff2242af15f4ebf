#!/usr/bin/env bash
# Telemetry over MQTT against the same over REST, end to end, in one run (docs/ingest.md).
# A fleet of FLEET machines is simulated over HOURS hours (hourly) and sent with `pdm simulate
# --publish` at full speed to a fresh `pdm serve` of the shared fleet model each time:
#   - mqtt-batch: one MQTT message per hour holding every machine's readings (a gateway that
#     batches), to a real mosquitto on loopback, into the server's MQTT source;
#   - mqtt-single: one MQTT message per machine and hour (a device that publishes its own);
#   - rest: one POST /api/v1/telemetry per hour with every machine's readings.
# For MQTT the time is the server's: from the end of the first message it took to the end of the
# last (polled every 20 ms on GET /api/v1/sources), and the readings counted are those of the
# other messages; for REST the publisher's time (each POST waits for its answer).
#   FLEET=1000 HOURS=48 bench/mqtt_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fleet=${FLEET:-1000}
hours=${HOURS:-48}
work=${WORK:-/tmp/pdm-mqtt-bench}
mkdir -p "$work"
pdm=${PDM_BIN:-$(bench/build_pdm.sh)}
python=/usr/bin/python3
cd "$work"
registry=$("$root/bench/fleet_model.sh" "$pdm" 20 60)

port=$($python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p broker
cat >broker/mosquitto.conf <<EOF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 10000000
max_inflight_messages 100
EOF
[[ $(id -u) == 0 ]] && echo "user root" >>broker/mosquitto.conf
/usr/sbin/mosquitto -c broker/mosquitto.conf >broker/log 2>&1 &
broker=$!
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null || true
  kill "$broker" 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.5

cat >server.yaml <<EOF
sources:
  - type: mqtt
    name: bench
    url: mqtt://127.0.0.1:$port
    topics: [bench/#]
    client_id: pdm-bench
    clean_session: true
EOF

start_server() {
  "$pdm" serve --registry "$registry" --model fleet --port 0 --threads 2 --max-batch 100000 \
    --no-store-telemetry --config server.yaml >serve.log 2>&1 &
  server=$!
  for _ in $(seq 100); do
    api=$(sed -n 's/^serving .* on \(http:\/\/[0-9.:]*\).*/\1/p' serve.log)
    [[ -n $api ]] && break
    sleep 0.1
  done
  for _ in $(seq 100); do
    curl -sf "$api/api/v1/sources" | grep -q '"connected":true' && break
    sleep 0.1
  done
}
stop_server() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
}

simulate() {  # the publish target and topic; prints pdm simulate's summary line
  "$pdm" simulate --machines "$fleet" --duration "${hours}h" --interval 1h --seed 5 --out fleet \
    --start 2025-03-01T00:00:00Z --publish "$1" --topic "$2" --speed 0 | tail -1
}

results=()
for mode in mqtt-batch mqtt-single rest; do
  start_server
  case $mode in
    mqtt-batch) target=mqtt://127.0.0.1:$port topic=bench/all ;;
    mqtt-single) target=mqtt://127.0.0.1:$port topic='bench/{machine}' ;;
    rest) target=$api topic=unused ;;
  esac
  if [[ $mode == rest ]]; then
    line=$(simulate "$target" "$topic")
    result=$($python - "$line" "$mode" <<'PY'
import json, re, sys
line, mode = sys.argv[1], sys.argv[2]
m = re.search(r"published (\d+) readings in (\d+) messages .* in ([\d.]+) s", line)
readings, messages, seconds = int(m[1]), int(m[2]), float(m[3])
print(json.dumps({"mode": mode, "readings": readings, "messages": messages,
                  "seconds": seconds, "readings_per_s": round(readings / seconds)}))
PY
)
  else
    # Watch the server's counters while the publisher runs.
    $python - "$api" "$mode" >watch.json <<'PY' &
import json, sys, time, urllib.request
api, mode = sys.argv[1], sys.argv[2]
first = last = None
seen = 0
idle_since = time.time()
while True:
    s = json.load(urllib.request.urlopen(api + "/api/v1/sources"))["sources"][0]
    now = time.time()
    if s["messages"] > seen:
        if first is None:
            first = now
        seen, last, idle_since = s["messages"], now, now
    elif first is not None and now - idle_since > 3:
        break
    time.sleep(0.02)
readings = s["readings_accepted"] + s["readings_refused"] + s["readings_duplicate"]
print(json.dumps({"mode": mode, "readings": readings, "messages": s["messages"],
                  "accepted": s["readings_accepted"], "duplicate": s["readings_duplicate"],
                  "seconds": round(last - first, 3),
                  # the first message ends before the clock starts: count the others only
                  "readings_per_s": round(readings * (s["messages"] - 1) / s["messages"]
                                          / max(last - first, 1e-3))}))
PY
    watcher=$!
    line=$(simulate "$target" "$topic")
    wait "$watcher"
    result=$(cat watch.json)
  fi
  echo "$result"
  results+=("$result")
  stop_server
done
printf '%s\n' "${results[@]}" >results.jsonl
