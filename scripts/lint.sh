#!/usr/bin/env bash
# clang-format (check only) over every C++ file, and clang-tidy over the module sources.
# Needs a configured build directory for compile_commands.json (default build/ci).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/ci}
clang-format --dry-run -Werror $(git ls-files '*.cc' '*.h')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# clang-tidy runs only on the files whose preprocessed translation unit it has not yet found
# clean under this clang-tidy and .clang-tidy (scripts/lint_cache.py; the cache lives outside the
# clone, like ccache's, so a fresh clone in CI reuses it; PDM_TIDY_CACHE=off lints everything).
cache=${PDM_TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pdm-clang-tidy}
if [[ $cache != off ]] && ! { mkdir -p "$cache" && [[ -w $cache ]]; } 2>/dev/null; then
  echo "lint: cannot write the clang-tidy cache $cache: linting every file" >&2
  cache=off
fi
mapfile -t sources < <(git ls-files 'src/*.cc' | grep -v '_test\.cc$')
if [[ $cache == off ]]; then
  stale=("${sources[@]}")
else
  mapfile -t stale < <(/usr/bin/python3 scripts/lint_cache.py stale "$build_dir" "$cache" "${sources[@]}" | sed '/^$/d')
fi
echo "lint: clang-tidy on ${#stale[@]} of ${#sources[@]} files$([[ $cache == off ]] || echo ' (the others unchanged since a clean run)')"
# Two clang-tidy processes at once (this machine has 2 cores).
status=0
if ((${#stale[@]} > 0)); then
  printf '%s\n' "${stale[@]}" |
    xargs -P 2 -n 3 clang-tidy -p "$build_dir" --quiet --warnings-as-errors='*' >"$log" 2>&1 || status=$?
fi
if [[ $status -ne 0 ]]; then
  grep -E 'error:|warning:' "$log" | sort -u
  echo "lint: clang-tidy found problems" >&2
  exit 1
fi
[[ $cache == off ]] || /usr/bin/python3 scripts/lint_cache.py commit "$cache"
echo "lint: clean"
