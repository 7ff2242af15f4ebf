#!/usr/bin/env bash
# clang-format (check only) over every C++ file, and clang-tidy over the module sources.
# Needs a configured build directory for compile_commands.json (default build/ci).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/ci}
clang-format --dry-run -Werror $(git ls-files '*.cc' '*.h')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Two clang-tidy processes at once (this machine has 2 cores).
status=0
git ls-files 'src/*.cc' | grep -v '_test\.cc$' |
  xargs -P 2 -n 3 clang-tidy -p "$build_dir" --quiet --warnings-as-errors='*' >"$log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  grep -E 'error:|warning:' "$log" | sort -u
  echo "lint: clang-tidy found problems" >&2
  exit 1
fi
echo "lint: clean"
