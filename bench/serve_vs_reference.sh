#!/usr/bin/env bash
# pdm serve against the reference stack (Flask + scikit-learn under gunicorn, 2 workers) in the
# same run: the same synthetic fleet (the reference's gen_data.py, 100k rows, 22 features), each
# side's rf + gbm + xgb ensemble trained on it, single-record POSTs of the same body with wrk.
#   DURATION=10s CONNECTIONS=16 bench/serve_vs_reference.sh
# Needs: python3-flask python3-flask-cors python3-prometheus-client gunicorn wrk (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ref=$root/../shared/peers/reference_stack
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
work=${WORK:-/tmp/pdm-serve-bench}
mkdir -p "$work"
pdm=$(bench/build_pdm.sh)

cd "$work"
[[ -f data_100k.csv ]] || /usr/bin/python3 "$ref/gen_data.py" --rows 100000 --seed 43 --out data_100k.csv
[[ -f model.joblib ]] || /usr/bin/python3 "$ref/train.py" --data data_100k.csv --out model.joblib >train_ref.log
if [[ ! -d registry ]]; then
  PDM_REFERENCE_DATA=$work/data_100k.csv "$pdm" train --spec "$root/bench/specs/reference-fleet.yaml" \
    --out run --register --name fleet --registry registry >train_pdm.log
  "$pdm" models promote fleet 1 --alias production --registry registry >/dev/null
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
(cd "$ref" && MODEL_PATH=$work/model.joblib exec gunicorn -w 2 -b 127.0.0.1:18000 app:app) \
  >gunicorn.log 2>&1 &
pids+=($!)
"$pdm" serve --registry registry --model fleet --port 18001 --threads 2 >serve.log 2>&1 &
pids+=($!)
for url in http://127.0.0.1:18000/ready http://127.0.0.1:18001/readyz; do
  for _ in $(seq 1 100); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
done
# The same record to both, checked first.
curl -sf -X POST -H 'Content-Type: application/json' --data @"$ref/body_single.json" \
  http://127.0.0.1:18000/predict; echo
curl -sf -X POST -H 'Content-Type: application/json' --data @"$ref/body_single.json" \
  http://127.0.0.1:18001/api/v1/predict; echo

run() {  # name url
  BODY=$ref/body_single.json wrk -t2 -c"$connections" -d"$duration" --latency -s "$ref/post.lua" "$2" \
    >"wrk_$1.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "wrk_$1.txt")
  p50=$(awk '$1 == "50%" {print $2}' "wrk_$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "wrk_$1.txt")
  echo "$1 $rps $p50 $p99"
}
echo "side requests/s p50 p99 (wrk -t2 -c$connections -d$duration, single record)"
r1=$(run reference http://127.0.0.1:18000/predict); echo "$r1"
p1=$(run pdm http://127.0.0.1:18001/api/v1/predict); echo "$p1"
r2=$(run reference http://127.0.0.1:18000/predict); echo "$r2"
p2=$(run pdm http://127.0.0.1:18001/api/v1/predict); echo "$p2"
awk -v a="$(echo "$r1" | cut -d' ' -f2)" -v b="$(echo "$r2" | cut -d' ' -f2)" \
    -v c="$(echo "$p1" | cut -d' ' -f2)" -v d="$(echo "$p2" | cut -d' ' -f2)" \
    'BEGIN { printf "ratio pdm / reference (means of two alternating runs): %.1fx\n", (c + d) / (a + b) }'
# Latency at low load: 2 connections.
BODY=$ref/body_single.json wrk -t1 -c2 -d"$duration" --latency -s "$ref/post.lua" \
  http://127.0.0.1:18001/api/v1/predict >wrk_pdm_c2.txt
echo "pdm at 2 connections: $(awk '/Requests\/sec/ {print $2}' wrk_pdm_c2.txt) requests/s, p50 $(awk '$1 == "50%" {print $2}' wrk_pdm_c2.txt), p99 $(awk '$1 == "99%" {print $2}' wrk_pdm_c2.txt)"
