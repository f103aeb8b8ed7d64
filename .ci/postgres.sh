#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests (installing it from Debian's packages if needed)
# and prints the admin URL. Usage: eval "$(.ci/postgres.sh start DIR PORT)"; .ci/postgres.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2 port=${3:-55432}
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
case $cmd in
start)
  if [ -z "$(bin)" ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  b=$(bin)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_postgres "$b/initdb -D '$dir' -A trust -U postgres -E UTF8 --no-sync" >/dev/null
  # fsync off: a test database is thrown away, and durability is not what is being tested.
  as_postgres "$b/pg_ctl -D '$dir' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200\" start" >&2
  echo "export DOUBLE_RANDOM_TEST_PG=postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_postgres "$(bin)/pg_ctl -D '$dir' -m fast stop" >&2 || true
  rm -rf "$dir"
  ;;
esac
