#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, ASan + UBSan) and runs each for SECONDS
# (default 60) from its seed corpus in fuzz/corpus/<target>/. A crash, leak, timeout or
# sanitizer report fails the run: the input is kept in build/fuzz/artifacts/<target>/ and its
# path printed. `scripts/fuzz.sh 3600` is bench/fuzz.sh's hour per target.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/corpus)
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"  # the targets only, not the whole tree
status=0
for target in "${targets[@]}"; do
  work="build/fuzz/corpus/$target"        # what the run adds; the seeds stay as they are
  artifacts="build/fuzz/artifacts/$target/"
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $target for ${seconds} s"
  if ! "build/fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" \
      "$work" "fuzz/corpus/$target" > "build/fuzz/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; the input is in $artifacts, the log in build/fuzz/$target.log"
    tail -40 "build/fuzz/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build/fuzz/$target.log" \
      | sed "s/^/fuzz: $target /"
  fi
done
exit "$status"
