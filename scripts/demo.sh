#!/usr/bin/env bash
# Sets up (Debian packages), builds pdm in Release and runs the demo: simulate a fleet, validate
# it with quarantine, train, register, then serve the model over REST (Ctrl-C stops). Extra
# arguments go to `pdm demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/src/cli/pdm demo --serve "$@"
