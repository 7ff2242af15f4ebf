#!/usr/bin/env bash
# The ThreadSanitizer pass of CI (.ci/run, .gitlab-ci.yml): only the multi-threaded code (the
# simulator, the parallel validator, the feature builder, the HTTP server, the Modbus pollers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target sim_test validate_test features_test serving_test \
  modbus_poller_test
build/tsan/src/sim/sim_test
build/tsan/src/validate/validate_test --gtest_filter='ParallelValidationTest.*:AccountingTest.*'
build/tsan/src/features/features_test --gtest_filter='RandomHistories/*:PointInTimeTest.*'
build/tsan/src/serving/serving_test
build/tsan/tests/modbus_poller_test
