#!/usr/bin/env bash
# What `pdm serve --access-log on` costs single predictions: an AI4I xgb model, wrk -c32 POSTs of
# one record to a server with the access log off, then on (its lines to a file), alternating.
# Usage: PDM_BIN=build/ci/src/cli/pdm [ROUNDS=2] [DURATION=8s] bench/access_log_cost.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pdm=${PDM_BIN:?set PDM_BIN}
rounds=${ROUNDS:-2}
duration=${DURATION:-8s}
work=$(mktemp -d)
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
"$pdm" train --spec "$root/specs/ai4i2020.yaml" --models xgb --cv 2 --threads 2 --out run \
  --register --name ai4i --registry reg > /dev/null 2>&1
"$pdm" models promote ai4i 1 --alias production --registry reg > /dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() {
  "$pdm" serve --registry reg --model ai4i --port "$port" --threads 2 --access-log "$1" > "serve-$1.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && return; sleep 0.1; done
}
stop() { kill "$server"; wait "$server" || true; server=""; }
start off
curl -s "http://127.0.0.1:$port/api/v1/models" | /usr/bin/python3 -c '
import json, sys
b = {"features": {k: 0.0 for k in json.load(sys.stdin)["models"][0]["features"]}}
b["features"].update({"Air temperature [K]": 298.1, "Process temperature [K]": 308.6,
  "Rotational speed [rpm]": 1551, "Torque [Nm]": 42.8, "Tool wear [min]": 210, "Type=L": 1})
print(json.dumps(b))' > body.json
stop
cat > post.lua <<'LUA'
local f = io.open("body.json"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
LUA
for round in $(seq "$rounds"); do
  for mode in off on; do
    start "$mode"
    rps=$(wrk -t2 -c32 -d"$duration" -s post.lua "http://127.0.0.1:$port/api/v1/predict" |
      awk '/Requests\/sec/ {print $2}')
    stop
    echo "round $round: access log $mode: $rps requests/s ($(wc -l < "serve-$mode.log") log lines)"
  done
done
