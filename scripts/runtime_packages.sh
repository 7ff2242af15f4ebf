#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY links, one per line: what a
# runtime image must install (Dockerfile). Fails naming a library that no package holds.
set -euo pipefail
binary=$1
ldd "$binary" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | sort -u | while read -r lib; do
  owner=""
  for path in "$lib" "$(realpath "$lib")" "/usr$lib" "${lib#/usr}"; do
    owner=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n "$owner" ]] && break
  done
  if [[ -z "$owner" ]]; then
    echo "runtime_packages: no Debian package holds $lib" >&2
    exit 1
  fi
  echo "$owner"
done | sort -u
