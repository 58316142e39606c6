# shellcheck shell=bash disable=SC2034 # root, bin, tmp, skip are for the suites that source it
# lib.sh — what the suites' run.sh share, sourced right after `set -u`:
#   . "$(dirname "$0")/../lib.sh"
# It moves to the repository root (root=), picks the binary under test
# (bin=, SP=: $SALESPIPE, else the sanitizer build, else build/salespipe),
# makes the suite's temporary folder (tmp=, removed at exit with whatever was
# given to at_exit), and keeps the counts: ok, bad, skipped, check, and
# finish, which prints the suite's last line "N passed, N failed, N skipped"
# (tests/run.sh reads it) and exits non-zero when a test failed.
# A suite that prints every passed test sets LIB_SAY_OK=1 before sourcing;
# LIB_KEEP_TMP=1 in the environment keeps the temporary folder (it is named).
# It never starts a server: PostgreSQL and s3rver stay with
# tests/postgres/pg.sh and tests/s3/server.sh.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$(pwd)
SP=${SALESPIPE:-build/san/salespipe}
[ -x "$SP" ] || SP=build/salespipe
bin="$root/$SP"
case $SP in /*) bin=$SP ;; esac
tmp=$(mktemp -d)
pass=0 fail=0 skip=0

# Commands run at exit, last given first (servers stop before the folder
# holding their data goes).
lib_exit_cmds=()
at_exit() { lib_exit_cmds=("$1" "${lib_exit_cmds[@]}"); }
# Helper processes the suite started (pids+=($!)): killed at exit, before
# the at_exit commands run.
pids=()
lib_on_exit() {
  local c p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  # Only these: a bare `wait` would also wait for pg_start's watcher, which
  # lives until this shell is gone.
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for c in "${lib_exit_cmds[@]}"; do eval "$c"; done
  if [ -n "${LIB_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap lib_on_exit EXIT

ok() {
  pass=$((pass + 1))
  if [ -n "${LIB_SAY_OK:-}" ] || [ -n "${VERBOSE:-}" ]; then echo "ok $1"; fi
  return 0
}
bad() { fail=$((fail + 1)); echo "FAIL $1: ${2:0:2000}"; } # a detail is cut at 2000 characters
skipped() { skip=$((skip + 1)); echo "skipped $1: $2"; }
# check NAME DETAIL COMMAND...: ok when COMMAND succeeds, else bad with DETAIL.
check() {
  local name=$1 detail=$2; shift 2
  if "$@"; then ok "$name"; else bad "$name" "$detail"; fi
}
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit; }

# pg_start: a PostgreSQL 15 of the suite's own (tests/postgres/pg.sh, a free
# loopback port, never the system cluster), in a folder under /tmp when
# root (the server runs as `postgres`, which must reach it; pgdir=). It is
# stopped at exit and, since bash skips its EXIT trap when a signal kills
# it, by a watcher once the suite's shell is gone. Its settings (PG_PORT,
# PG_SOCK, PG_ADMIN, PG_USER, PG_PASS, PG_DB) are sourced. A server that
# cannot start is a failure (bad pg-start, then finish), never a skip.
lib_pg_stop() { "$root/tests/postgres/pg.sh" stop "$pgdir" >/dev/null 2>&1; }
lib_pg_unwatch() { kill "$lib_pg_watcher" 2>/dev/null; }
pg_start() {
  local base=${TMPDIR:-/tmp}
  [ "$(id -u)" -eq 0 ] && base=/tmp
  pgdir=$(mktemp -d "$base/salespipe-pg.XXXXXX")
  at_exit lib_pg_stop
  ( while kill -0 $$ 2>/dev/null; do sleep 1; done; "$root/tests/postgres/pg.sh" stop "$pgdir" ) \
    >/dev/null 2>&1 &
  lib_pg_watcher=$!
  at_exit lib_pg_unwatch
  if ! "$root/tests/postgres/pg.sh" start "$pgdir" >"$tmp/pgstart.log" 2>&1; then
    bad pg-start "cannot start PostgreSQL 15 (tests/postgres/pg.sh): $(tail -5 "$tmp/pgstart.log")"
    finish
  fi
  # shellcheck disable=SC1091 # written by pg.sh start
  . "$pgdir/env"
}

# ---- salespipe in a clean environment -----------------------------------------
# clean_env: nothing of the caller's environment but PATH, HOME, TMPDIR and
# the sanitizer options; sp_env: NAME=value settings for every call of the
# suite (alert sinks, RETRY_DELAY, …).
clean_env=(env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}"
           ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
sp_env=()
# sp_clean_bg DIR [NAME=value …] -- ARGS…: salespipe in DIR with clean_env,
# sp_env and the given settings; stdout to DIR/out, stderr to DIR/err. To
# be started with `&`: the function's subshell becomes salespipe, so $! is
# salespipe's pid.
sp_clean_bg() {
  local dir=$1; shift
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  cd "$dir" && exec "${clean_env[@]}" ${sp_env[@]+"${sp_env[@]}"} ${vars[@]+"${vars[@]}"} \
    "$bin" "$@" >"$dir/out" 2>"$dir/err"
}
# sp_clean DIR [NAME=value …] -- ARGS…: the same in the foreground; returns
# salespipe's exit status.
sp_clean() { (sp_clean_bg "$@"); }

# sinks_start: the webhook listener and SMTP sink (tests/orchestration/
# sinks.mjs) in $tmp/sink; its ports are in $tmp/sink/ports (webhook, SMTP,
# …). One that does not start is a failure (bad sinks-start, then finish).
sinks_start() {
  mkdir -p "$tmp/sink"
  node "$root/tests/orchestration/sinks.mjs" "$tmp/sink" 2>"$tmp/sink.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/sink/ports" ] && break; sleep 0.1; done
  if [ ! -s "$tmp/sink/ports" ]; then
    bad sinks-start "the webhook listener / SMTP sink did not start: $(cat "$tmp/sink.err")"
    finish
  fi
}
