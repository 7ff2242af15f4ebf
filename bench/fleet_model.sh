#!/usr/bin/env bash
# The simulated fleet and its model that the serving benchmarks share: simulates MACHINES
# machines over DAYS days (hourly, seed 7) into ./sim, and prints the directory of a registry
# holding its xgb model as `fleet` v1 (production). The model is trained once per simulated
# fleet (the registry is named by the hash of its spec and data, so a change of the simulator
# retrains). Run it in the benchmark's work directory.
#   registry=$(path/to/bench/fleet_model.sh PDM MACHINES DAYS)
set -euo pipefail
pdm=$1
machines=$2
days=$3
rm -rf sim
"$pdm" simulate --machines "$machines" --duration "${days}d" --interval 1h --seed 7 --out sim >/dev/null
# Keyed by the data and the binary: a model trained by an older pdm may lack what the newer one
# profiles (the drift benchmarks then measure less than the server does).
registry=registry-$(cat sim/spec.yaml sim/telemetry.csv "$pdm" | sha256sum | cut -c1-16)
if [[ ! -f $registry/complete ]]; then
  rm -rf run "$registry"
  "$pdm" train --spec sim/spec.yaml --models xgb --cv 2 --out run --register --name fleet \
    --registry "$registry" >train.log 2>&1
  "$pdm" models promote fleet 1 --alias production --registry "$registry" >/dev/null
  touch "$registry/complete"
fi
echo "$registry"
