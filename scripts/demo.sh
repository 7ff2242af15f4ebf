#!/usr/bin/env bash
# Sets up (Debian packages), builds pdm in Release and runs the demo: simulate a fleet, validate
# it with quarantine, train on its first two thirds, register, then serve the dashboard and the
# API and replay the rest of the fleet live (Ctrl-C stops). Extra arguments go to `pdm demo`
# (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release
port=8080
for ((i = 1; i <= $#; i++)); do
  if [[ ${!i} == --port ]]; then j=$((i + 1)); port=${!j:-$port}; fi
  if [[ ${!i} == --port=* ]]; then port=${!i#--port=}; fi
done
echo "dashboard: http://127.0.0.1:$port/ (ready once the model is trained, in a minute or two)"
exec build/release/src/cli/pdm demo --serve "$@"
