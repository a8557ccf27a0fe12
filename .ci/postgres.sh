#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests marked `postgres`.
#
#   eval "$(.ci/postgres.sh start)"   # installs the server if missing, starts it, prints the URL
#   make test
#   .ci/postgres.sh stop              # stops the cluster and deletes its directory
#
# `start` prints `export LOADLENS_TEST_PG_URL=postgresql+psycopg://...` (and LOADLENS_TEST_PG_DIR)
# on stdout; everything else goes to stderr. The cluster runs as the `postgres` user (the server
# refuses root), listens on 127.0.0.1 on a free port, and trusts local connections: it is for
# tests only.
set -euo pipefail

STATE_FILE="${LOADLENS_PG_STATE:-/tmp/loadlens-pg.dir}"

log() { echo "postgres.sh: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then return 1; fi
  echo "$dir"
}

install_server() {
  if bindir >/dev/null; then return; fi
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  install_server
  local bin dir port
  bin=$(bindir)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  fi
  dir=$(mktemp -d /tmp/loadlens-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  port=$(free_port)
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres loadlens_test >&2
  echo "$dir" >"$STATE_FILE"
  log "cluster in $dir on 127.0.0.1:$port"
  echo "export LOADLENS_TEST_PG_DIR=$dir"
  echo "export LOADLENS_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/loadlens_test"
}

stop() {
  local dir="${LOADLENS_TEST_PG_DIR:-}"
  if [ -z "$dir" ] && [ -f "$STATE_FILE" ]; then dir=$(cat "$STATE_FILE"); fi
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then log "no cluster to stop"; return; fi
  as_postgres "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir" "$STATE_FILE"
  log "stopped and removed $dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
