#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds the release `pdm` and prints its path: for the benchmarks
# that drive the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target pdm >/dev/null
echo "$PWD/build/release/src/cli/pdm"
