#!/usr/bin/env bash
# The long fuzz run: every libFuzzer target for SECONDS (default 3600) each, then the executions,
# corpus size and result of each appended to bench/results/fuzz.md with the date and commit.
#   bench/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3600}"
shift || true
scripts/fuzz.sh "$seconds" "$@"
status=$?
{
  echo
  echo "## $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD): ${seconds} s per target"
  echo
  echo '`bench/fuzz.sh '"$seconds"'` (clang 14, ASan + UBSan, one process per target on this machine)'
  echo
  echo "| target | executions | corpus files | result |"
  echo "|---|---|---|---|"
  for log in build/fuzz/fuzz_*.log; do
    target=$(basename "$log" .log)
    runs=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | grep -oE "[0-9]+$")
    files=$(find "build/fuzz/corpus/$target" -type f | wc -l)
    if grep -qE "ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|SUMMARY: " "$log"; then
      result="FAILED (build/fuzz/artifacts/$target/)"
    else
      result="no crash"
    fi
    echo "| $target | ${runs:-?} | $files | $result |"
  done
} >> bench/results/fuzz.md
exit "$status"
