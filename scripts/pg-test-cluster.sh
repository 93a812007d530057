#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the tests and prints the DSN to export:
#
#   eval "$(bash scripts/pg-test-cluster.sh start)"   # exports RENEWALD_TEST_POSTGRES_DSN
#   bash scripts/pg-test-cluster.sh stop DIR
#
# The cluster lives in a temporary folder, listens on a Unix socket there only (no TCP), trusts local
# connections and is owned by the unprivileged user "postgres" (PostgreSQL refuses to run as root).
# Installs Debian's postgresql package when no server binaries are found.
set -euo pipefail

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
start)
  bin=$(find_bin || true)
  if [ -z "$bin" ]; then
    echo "PostgreSQL not installed; installing Debian's postgresql" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    bin=$(find_bin)
  fi
  dir=$(mktemp -d /tmp/renewald-pg.XXXXXX)
  chmod 0755 "$dir"
  mkdir "$dir/data" "$dir/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k $dir/sock -c listen_addresses='' -c fsync=off -c max_connections=200" start >&2 ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "export RENEWALD_TEST_POSTGRES_DSN='postgres://postgres@/postgres?host=$dir/sock&sslmode=disable'"
  echo "export RENEWALD_TEST_POSTGRES_DIR='$dir'"
  ;;
stop)
  dir=${2:?usage: pg-test-cluster.sh stop DIR}
  bin=$(find_bin)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: pg-test-cluster.sh start | stop DIR" >&2
  exit 2
  ;;
esac
