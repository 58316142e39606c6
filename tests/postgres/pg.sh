#!/usr/bin/env bash
# pg.sh — a throwaway PostgreSQL 15 server for the postgres suite and bench:
# Debian's postgresql-15 binaries, a fresh cluster in DIR, a free loopback
# port, never the system cluster. initdb refuses root, so as root the server
# runs as the `postgres` user (DIR is handed to it).
#   pg.sh start DIR   initdb + start; writes DIR/env (sourceable):
#                     PG_PORT, PG_SOCK, PG_ADMIN (superuser, socket, trust),
#                     PG_USER / PG_PASS / PG_DB (a password role owning PG_DB,
#                     which must log in over TCP with its password)
#   pg.sh stop DIR    stop the server (immediate) and delete DIR
# The server runs with fsync=off, synchronous_commit=off, full_page_writes=off
# (throwaway data); PG_DURABLE=1 keeps PostgreSQL's durable defaults instead
# (bench/postgres.sh measures both).
# Exits non-zero with a message when the server cannot be started.
set -euo pipefail
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: pg.sh start|stop DIR" >&2; exit 2; fi

as_owner() { # run a server-side command as the cluster's owner
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
  [ -x "$bin/initdb" ] || { echo "pg.sh: $bin/initdb missing (apt-get install postgresql-15)" >&2; exit 1; }
  mkdir -p "$dir/sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$dir"
    runuser -u postgres -- test -w "$dir" \
      || { echo "pg.sh: user postgres cannot reach $dir (a parent directory is private)" >&2; exit 1; }
  fi
  # A free loopback port: the kernel picks one, we release it and use it.
  # (PG_PORT_WANT / PG_PASS_WANT: a caller that pointed a client at the
  # port before the server existed, as the orchestration suite does.)
  port=${PG_PORT_WANT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  pass=${PG_PASS_WANT:-"pw-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"}
  as_owner "$bin/initdb" -D "$dir/data" -U spadmin -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { echo "pg.sh: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  opts="-p $port -k $dir/sock -c listen_addresses=127.0.0.1"
  [ "${PG_DURABLE:-0}" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" \
    start >/dev/null \
    || { echo "pg.sh: the server did not start:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U spadmin -d postgres \
    -c "CREATE ROLE sp LOGIN PASSWORD '$pass'" -c "CREATE DATABASE sales OWNER sp" >/dev/null
  cat >"$dir/env" <<ENV
PG_PORT=$port
PG_SOCK=$dir/sock
PG_ADMIN=spadmin
PG_USER=sp
PG_PASS=$pass
PG_DB=sales
ENV
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
esac
