#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs the whole test suite.
#   scripts/test.sh                 the default: the "ci" preset (Release, -Werror), all tests
#   scripts/test.sh asan            the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh tsan -L unit    a preset, then extra ctest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-ci}
shift || true
scripts/setup.sh
# ccache hits across clones at different paths (CI builds a fresh clone each time).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
# Room for the ci, asan, tsan and container builds at once (ccache's default 5 GB evicts them):
# kept in the cache's own ccache.conf, so the container build (scripts/image.sh) uses it too.
ccache --max-size "${PDM_CCACHE_SIZE:-20G}" >/dev/null
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Two tests at once, each training with OpenMP: idle OpenMP threads must sleep, not spin, or
# the two processes starve each other (a 20x slowdown seen here).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# A real PostgreSQL 15 on loopback for the PostgreSQL backend tests, stopped on exit.
pg_dir=$(mktemp -d /tmp/pdm-test-pg.XXXXXX)
trap 'scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
PDM_TEST_POSTGRES_URL=$(scripts/postgres.sh start "$pg_dir")
export PDM_TEST_POSTGRES_URL PDM_REQUIRE_POSTGRES=1
ctest --preset "$preset" -j 2 "$@"
