#!/usr/bin/env bash
# The dashboard's browser tests (dashboard.test.mjs): installs playwright-core from npm (pinned
# in package-lock.json) and runs them in Debian's Chromium against the given pdm binary.
# Usage: tests/browser/run.sh PDM_BIN [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PDM_BIN="$(realpath "${1:?usage: run.sh PDM_BIN [OUT_DIR]}")"
export PDM_TEST_OUT="${2:-$here/out}"
if [[ ! -x /usr/bin/chromium && -z "${PDM_CHROMIUM:-}" ]]; then
  echo "browser tests: /usr/bin/chromium is missing: run scripts/setup.sh" >&2
  exit 1
fi
cd "$here"
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --silent
fi
exec node --test --test-concurrency=1 dashboard.test.mjs
