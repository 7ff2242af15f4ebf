#!/usr/bin/env bash
# Fails when a tracked file names an absolute path of a particular machine (a home or work
# folder), which a clone elsewhere would not have. Temporary folders (/tmp) and system paths
# (/usr, /etc, /dev, /proc) are fine. Usage: no_machine_paths.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "no_machine_paths: $1 is not a git checkout; nothing to check"
  exit 0
fi
pattern='(^|[^A-Za-z0-9_.~-])/(work|root|home|Users|mnt|srv|opt/pdm)/'
if hits=$(git grep -nIE "$pattern" -- . ':!tests/no_machine_paths.sh'); then
  echo "absolute machine paths in the tree (use a path relative to the checkout or a variable):"
  echo "$hits"
  exit 1
fi
echo "no_machine_paths: none"
