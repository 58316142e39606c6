#!/usr/bin/env bash
# server.sh — starts and stops the S3 test harness (tests/s3): s3rver on a
# free loopback port, and proxy.mjs (SigV4 checks, multipart rules, faults)
# on another in front of it; clients only ever talk to the proxy.
#   server.sh start DIR   install npm deps if missing, start both, write DIR/env
#   server.sh stop DIR    stop both (idempotent; removes nothing)
# It binds 127.0.0.1 only and never writes outside DIR and node_modules.
# Env: S3_TEST_BUCKETS (default "raw processed"), PROXY_KEYS, PROXY_REGION
# (see proxy.mjs), S3_TEST_WATCH_PID (both stop once that process is gone).
set -u
here=$(cd "$(dirname "$0")" && pwd)
ready_tries=200 # x 0.05 s: ten seconds at most for each server to answer

die() {
  echo "server.sh: $*" >&2
  exit 1
}

# free_port: a loopback port nobody listens on right now.
free_port() {
  node -e 'const s = require("net").createServer();
           s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# alive PIDFILE PATTERN: the pid in PIDFILE runs, and its command line
# contains PATTERN (so a recycled pid is never taken for ours).
alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# stop_one PIDFILE PATTERN: TERM, five seconds' grace, then KILL.
stop_one() {
  local pid i
  alive "$1" "$2" || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    alive "$1" "$2" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  return 0
}

# http_code URL [CURL-ARGS…]: the status URL answers with, 000 if none.
http_code() {
  local url=$1
  shift
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}

# running PIDFILE: the process exists. Unlike alive, also true between
# fork and exec, while the command line is still this script's.
running() {
  local pid
  pid=$(cat "$1" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# wait_s3rver PORT PIDFILE: true once s3rver answers and every bucket exists.
wait_s3rver() {
  local i b ok
  for ((i = 0; i < ready_tries; i++)); do
    running "$2" || return 1
    if [ "$(http_code "http://127.0.0.1:$1/")" = 200 ]; then
      ok=1
      for b in $buckets; do
        [ "$(http_code "http://127.0.0.1:$1/$b" -I)" = 200 ] || ok=0
      done
      [ "$ok" = 1 ] && return 0
    fi
    sleep 0.05
  done
  return 1
}

# wait_proxy DIR: true once the proxy wrote its port and answers on it.
wait_proxy() {
  local i port
  for ((i = 0; i < ready_tries; i++)); do
    running "$1/proxy.pid" || return 1
    if [ -s "$1/proxy.port" ]; then
      port=$(cat "$1/proxy.port")
      [ "$(http_code "http://127.0.0.1:$port/__admin/health")" = 200 ] && return 0
    fi
    sleep 0.05
  done
  return 1
}

start() {
  local dir=$1 b attempt port backend_port
  local -a bucket_args=() watch_args=() node_flags=()
  mkdir -p "$dir/data" "$dir/tmp" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd)
  if alive "$dir/proxy.pid" proxy.mjs || alive "$dir/s3rver.pid" s3rver.js; then
    die "the harness already runs in $dir: 'server.sh stop $dir' first"
  fi
  command -v node >/dev/null 2>&1 || die "node is not installed (make deps)"
  command -v curl >/dev/null 2>&1 || die "curl is not installed (make deps)"
  if [ ! -f "$here/node_modules/s3rver/bin/s3rver.js" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
      die "npm ci in tests/s3 failed (is the npm registry reachable?)"
  fi

  buckets=${S3_TEST_BUCKETS:-raw processed}
  for b in $buckets; do
    [[ $b =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "'$b' is not an S3 bucket name (S3_TEST_BUCKETS)"
    bucket_args+=(--configure-bucket "$b")
  done
  [ ${#bucket_args[@]} -gt 0 ] || die "S3_TEST_BUCKETS names no bucket"

  # s3rver encrypts ListObjectsV2 continuation tokens with DES, which
  # OpenSSL 3 only has in its legacy provider: without it every truncated
  # listing (max-keys, pagination) is a 500.
  local des_probe='require("crypto").createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8))'
  node_flags=()
  if ! node -e "$des_probe" >/dev/null 2>&1; then
    if node --openssl-legacy-provider -e "$des_probe" >/dev/null 2>&1; then
      node_flags=(--openssl-legacy-provider)
    else
      echo "server.sh: warning: this node has no DES cipher; s3rver will answer every truncated ListObjectsV2 with a 500" >&2
    fi
  fi

  # A free port can be taken between the probe and s3rver's bind: retry.
  rm -f "$dir/s3rver.pid" "$dir/proxy.pid" "$dir/proxy.port" "$dir/env"
  for attempt in 1 2 3; do
    backend_port=$(free_port) || die "no free loopback port"
    node "${node_flags[@]}" "$here/node_modules/s3rver/bin/s3rver.js" -d "$dir/data" -a 127.0.0.1 \
      -p "$backend_port" -s "${bucket_args[@]}" </dev/null >"$dir/s3rver.log" 2>&1 &
    echo $! >"$dir/s3rver.pid"
    wait_s3rver "$backend_port" "$dir/s3rver.pid" && break
    stop_one "$dir/s3rver.pid" s3rver.js
    [ "$attempt" = 3 ] && die "s3rver did not come up on 127.0.0.1 (log: $dir/s3rver.log): $(tail -n 5 "$dir/s3rver.log")"
  done

  if [ -n "${S3_TEST_WATCH_PID:-}" ]; then
    watch_args=(--watch-pid "$S3_TEST_WATCH_PID" --kill-pid "$(cat "$dir/s3rver.pid")")
  fi
  node "$here/proxy.mjs" --backend "http://127.0.0.1:$backend_port" --port 0 \
    --port-file "$dir/proxy.port" --tmpdir "$dir/tmp" "${watch_args[@]}" \
    </dev/null >"$dir/proxy.log" 2>&1 &
  echo $! >"$dir/proxy.pid"
  if ! wait_proxy "$dir"; then
    stop_one "$dir/proxy.pid" proxy.mjs
    stop_one "$dir/s3rver.pid" s3rver.js
    die "proxy.mjs did not come up (log: $dir/proxy.log): $(tail -n 5 "$dir/proxy.log")"
  fi
  port=$(cat "$dir/proxy.port")

  {
    echo "# written by tests/s3/server.sh start; source it with 'set -a; . FILE; set +a'"
    echo "S3_TEST_ENDPOINT=http://127.0.0.1:$port"
    echo "S3_TEST_BACKEND=http://127.0.0.1:$backend_port"
    echo "S3_TEST_ADMIN=http://127.0.0.1:$port/__admin"
    echo "S3_TEST_BUCKETS='$buckets'"
    echo "AWS_ACCESS_KEY_ID=S3RVER"
    echo "AWS_SECRET_ACCESS_KEY=S3RVER"
    echo "AWS_REGION=us-east-1"
    echo "S3_TEST_PROXY_PID=$(cat "$dir/proxy.pid")"
    echo "S3_TEST_S3RVER_PID=$(cat "$dir/s3rver.pid")"
    printf 'S3_TEST_PROXY_PIDFILE=%q\n' "$dir/proxy.pid"
    printf 'S3_TEST_S3RVER_PIDFILE=%q\n' "$dir/s3rver.pid"
  } >"$dir/env.tmp" || die "cannot write $dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env" || die "cannot write $dir/env"
  return 0
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  stop_one "$dir/proxy.pid" proxy.mjs
  stop_one "$dir/s3rver.pid" s3rver.js
  return 0
}

case "${1:-} ${2:+dir}" in
  "start dir") start "$2" ;;
  "stop dir") stop "$2" ;;
  *)
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
    ;;
esac
