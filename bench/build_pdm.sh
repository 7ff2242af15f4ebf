#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds the release `pdm` and prints its path: for the benchmarks
# that drive the binary.
set -euo pipefail
# PDM_BIN: use this binary instead (e.g. build/ci/src/cli/pdm, also Release), building nothing.
if [[ -n "${PDM_BIN:-}" ]]; then
  echo "$(cd "$(dirname "$PDM_BIN")" && pwd)/$(basename "$PDM_BIN")"
  exit 0
fi
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target pdm >/dev/null
echo "$PWD/build/release/src/cli/pdm"
