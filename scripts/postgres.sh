#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on loopback for tests and benchmarks (Debian's postgresql-15).
#   scripts/postgres.sh start DIR    initdb in DIR, start on a free loopback port, create database
#                                    pdm; prints the connection URL and writes it to DIR/url
#   scripts/postgres.sh stop DIR     fast shutdown; DIR is left for the caller to remove
# As root the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail
action=${1:?start or stop}
dir=${2:?directory}
bin=/usr/lib/postgresql/15/bin
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U pdm --no-sync -E UTF8 >"$dir/initdb.log"
    port=""
    for candidate in $(shuf -i 20000-60000 -n 20); do
      if ! (exec 3<>/dev/tcp/127.0.0.1/"$candidate") 2>/dev/null; then port=$candidate; break; fi
    done
    [[ -n "$port" ]] || { echo "postgres.sh: no free port" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=50" start >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U pdm pdm
    echo "postgresql://pdm@127.0.0.1:$port/pdm" | tee "$dir/url"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "postgres.sh: start or stop" >&2; exit 2 ;;
esac
