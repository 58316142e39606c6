#!/usr/bin/env bash
# run.sh — clean stops and debris (SPEC §8 "Stops", issue 12): real SIGTERM
# and SIGINT sent to real salespipe processes mid-task — stage of a large
# file, transform, load (SQLite; PostgreSQL mid-COPY and blocked on a lock),
# a retry delay — on local stores and on S3 (tests/s3/server.sh: s3rver
# behind our proxy, which answers ListMultipartUploads and
# AbortMultipartUpload). Each stop: exit 128+signal within 2 s, no temporary
# file left in either store or the work folder (TMPDIR), no multipart upload
# left open, the warehouse unchanged, the ledger says "cancelled by SIGTERM",
# exactly one alert at the webhook sink (tests/orchestration/sinks.mjs), the
# last log line says what was stopped and cleaned; a second signal exits at
# once. Debris: kill -9'd tasks' leftovers are swept by the next run, a live
# concurrent task's are not. A full STATE_DIR (a tiny tmpfs, mounted here and
# unmounted on exit) makes the run stop with exit 1 naming the cause.
# Runs the sanitizer build when present. Ends "N passed, N failed".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
# shellcheck disable=SC2016,SC2119,SC2120 # conditions are eval'd strings, expanded when checked
set -u
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
SP=${SALESPIPE:-build/san/salespipe}
[ -x "$SP" ] || SP=build/salespipe
bin="$root/$SP"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/salespipe-stops.XXXXXX")
pgbase=${TMPDIR:-/tmp}; [ "$(id -u)" -eq 0 ] && pgbase=/tmp
pgdir=$(mktemp -d "$pgbase/salespipe-pg.XXXXXX")
mnt=$tmp/state-full
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
  tests/s3/server.sh stop "$tmp/s3srv" >/dev/null 2>&1
  tests/postgres/pg.sh stop "$pgdir" >/dev/null 2>&1
  rm -rf "$tmp" "$pgdir"
}
trap cleanup EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: ${2:0:1500}"; }
check() { # NAME DETAIL COMMAND... : ok when COMMAND succeeds
  local name=$1 detail=$2; shift 2
  if "$@"; then ok "$name"; else bad "$name" "$detail"; fi
}
finish() { echo; echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
py() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

for cmd in node curl python3 sqlite3 psql; do
  command -v "$cmd" >/dev/null || { bad prerequisites "$cmd is not installed (make deps)"; finish; }
done

# ---- the webhook sink ---------------------------------------------------------
mkdir -p "$tmp/sink"
node tests/orchestration/sinks.mjs "$tmp/sink" 2>"$tmp/sink.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/sink/ports" ] && break; sleep 0.1; done
[ -s "$tmp/sink/ports" ] || { bad sinks "the webhook sink did not start: $(cat "$tmp/sink.err")"; finish; }
read -r HP _ _ <"$tmp/sink/ports"
HOOK="http://127.0.0.1:$HP/hook"
hooks_for() { # DS: webhook POSTs received for that ds
  [ -f "$tmp/sink/http.log" ] || { echo 0; return; }
  python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    try: n += json.loads(json.loads(line)["body"]).get("ds") == sys.argv[2]
    except ValueError: pass
print(n)' "$tmp/sink/http.log" "$1"
}

# ---- inputs: large enough that every task takes seconds ---------------------
"$bin" gen --out "$tmp/big" --rows 600000 >/dev/null 2>&1 || { bad gen "gen (big) failed"; finish; }
"$bin" gen --out "$tmp/small" --rows 200 >/dev/null 2>&1 || { bad gen "gen (small) failed"; finish; }
mkdir -p "$tmp/one"
ln -s "$tmp/big/West_orders.csv" "$tmp/one/West_orders.csv"

# sp_bg DIR [NAME=value …] -- ARGS…: salespipe in project DIR, clean
# environment (its own TMPDIR: DIR/tmp, the work folder checked), alerts to
# the sink; stdout DIR/out, stderr DIR/err. Start with `&`: $! is salespipe.
sp_bg() {
  local dir=$1; shift
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  mkdir -p "$dir/tmp"
  cd "$dir" && exec env -i PATH="$PATH" HOME="$tmp" TMPDIR="$dir/tmp" \
    ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" ALERT_WEBHOOK_URL="$HOOK" \
    "${vars[@]}" "$bin" "$@" >"$dir/out" 2>"$dir/err"
}
sp() { (sp_bg "$@"); }
# q DIR ARGS…: salespipe in DIR (no alerts), output as is.
q() { local dir=$1; shift; (cd "$dir" && env -i PATH="$PATH" HOME="$tmp" TMPDIR="$dir/tmp" "$bin" "$@"); }
# wait_for SECONDS PID COMMAND…: until COMMAND succeeds; false when PID ends first.
wait_for() {
  local n=$(($1 * 20)) pid=$2; shift 2
  for _ in $(seq "$n"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
has_tmp() { [ -n "$(find "$@" -name '.tmp-*' 2>/dev/null | head -1)" ]; }
logged() { grep -qE "$2" "$1" 2>/dev/null; }
# stop PID SIG: send SIG, wait; sets rc and took (seconds from the signal to the exit).
stop() {
  local t0 t1
  t0=$(now)
  kill "-$2" "$1"
  wait "$1"; rc=$?
  t1=$(now)
  took=$(secs "$t0" "$t1")
}
run_json() { # DIR DS: the latest run of DS as JSON
  local id
  id=$(q "$1" runs --json | py "[r['run_id'] for r in d if r['ds']=='$2'][-1]") || return 1
  q "$1" runs "$id" --json
}
# stopped_cleanly NAME DIR DS WANT_RC WHAT [HOOKS_BEFORE]: the common checks after a stop
stopped_cleanly() {
  local name=$1 d=$2 ds=$3 want=$4 what=$5 before=${6:-}
  check "$name-exit-$want" "exit $rc: $(tail -3 "$d/err")" [ "$rc" -eq "$want" ]
  check "$name-within-2s (${took}s)" "took ${took}s" le "$took" 2
  check "$name-no-tmp-in-stores" "$(find "$d/lake" -name '.tmp-*' 2>/dev/null)" eval '! has_tmp "$d/lake"'
  check "$name-work-folder-clean" "$(ls -A "$d/tmp")" [ -z "$(ls -A "$d/tmp")" ]
  local last
  last=$(tail -n 1 "$d/err")
  check "$name-last-line" "$last" grep -qE "stopped by SIG(TERM|INT) .*; cleaned up: .*exit status $want" <<<"$last"
  if [ -n "$before" ]; then
    run_json "$d" "$ds" >"$d/run.json" 2>&1
    check "$name-ledger" "$(cat "$d/run.json")" python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); what = sys.argv[2]
assert d["state"] == "failed", d["state"]
assert what in d["error"], d["error"]' "$d/run.json" "$what"
    check "$name-one-alert" "$(( $(hooks_for "$ds") - before )) new alerts" [ "$(hooks_for "$ds")" -eq $((before + 1)) ]
  fi
}

# ---- 1. local stores: stage, transform, load (SQLite), a retry delay ----------
L=$tmp/local
mkdir -p "$L"
WH="sqlite:///$L/wh.db"
# The warehouse holds a small day first: an interrupted load must leave it so.
mkdir -p "$tmp/smalld" && ln -sfn "$tmp/small" "$tmp/smalld/raw"
sp "$L" DATA_DIR="$tmp/smalld" DATABASE_URL="$WH" -- run --ds 2024-05-01 --retries 0
wh_before=$(sqlite3 "$L/wh.db" "SELECT count(*), sum(total_sales) FROM fact_sales" 2>&1)
check local-small-day-loaded "$wh_before $(tail -2 "$L/err")" grep -qE '^[1-9][0-9]*\|' <<<"$wh_before"

mkdir -p "$tmp/bigd" && ln -sfn "$tmp/big" "$tmp/bigd/raw"
D=2024-05-02
h=$(hooks_for $D)
sp_bg "$L" DATA_DIR="$tmp/bigd" DATABASE_URL="$WH" -- run --ds $D --retries 2 --retry-delay 1 &
pid=$!; pids+=("$pid")
if wait_for 120 "$pid" has_tmp "$L/lake/raw"; then
  stop "$pid" TERM
  stopped_cleanly stage-sigterm "$L" $D 143 "cancelled by SIGTERM during stage" "$h"
  check stage-sigterm-not-retried "$(grep -c 'stage: started' "$L/err")" [ "$(grep -c 'stage: started' "$L/err")" -eq 1 ]
  # The signal follows the first temporary file seen, but a fast copy may
  # have been renamed into place before it lands (the stop then falls
  # between files): the line must say which of the two happened.
  check stage-sigterm-says-what-was-cleaned "$(tail -1 "$L/err")" \
    grep -qE 'cleaned up: (removed .*\.tmp-|nothing was left to clean)' <(tail -1 "$L/err")
else
  bad stage-sigterm "no temporary file ever appeared in the raw store: $(tail -3 "$L/err")"
fi

h=$(hooks_for $D)
sp_bg "$L" DATA_DIR="$tmp/bigd" DATABASE_URL="$WH" -- run --ds $D --resume &
pid=$!; pids+=("$pid")
if wait_for 300 "$pid" eval 'ls -d "$L"/lake/processed/.tmp-transform-* >/dev/null 2>&1 && logged "$L/err" "transform: started"'; then
  sleep 1
  stop "$pid" INT
  stopped_cleanly transform-sigint "$L" $D 130 "cancelled by SIGINT during transform" "$h"
  check transform-sigint-nothing-published "$(ls "$L/lake/processed/runs/$D" 2>&1)" \
    [ ! -e "$L/lake/processed/runs/$D/_manifest.json" ]
else
  bad transform-sigint "transform never started its work folder: $(tail -3 "$L/err")"
fi

h=$(hooks_for $D)
sp_bg "$L" DATA_DIR="$tmp/bigd" DATABASE_URL="$WH" -- run --ds $D --resume &
pid=$!; pids+=("$pid")
if wait_for 600 "$pid" logged "$L/err" "load: started"; then
  sleep 1.5
  stop "$pid" TERM
  stopped_cleanly load-sqlite-sigterm "$L" $D 143 "cancelled by SIGTERM during load" "$h"
  wh_after=$(sqlite3 "$L/wh.db" "SELECT count(*), sum(total_sales) FROM fact_sales" 2>&1)
  check load-sqlite-warehouse-unchanged "before $wh_before, after $wh_after" [ "$wh_after" = "$wh_before" ]
  check load-sqlite-says-rolled-back "$(tail -1 "$L/err")" grep -q 'rolled back the load' <(tail -1 "$L/err")
else
  bad load-sqlite-sigterm "the load never started: $(tail -3 "$L/err")"
fi

# A single task (as Airflow calls it): same stop, no ledger, no alert.
sp_bg "$L" DATA_DIR="$tmp/bigd" DATABASE_URL="$WH" -- transform --ds $D &
pid=$!; pids+=("$pid")
if wait_for 300 "$pid" eval 'ls -d "$L"/lake/processed/.tmp-transform-* >/dev/null 2>&1'; then
  sleep 0.5
  stop "$pid" TERM
  stopped_cleanly task-transform-sigterm "$L" $D 143 ""
  check task-transform-last-line-names-task "$(tail -1 "$L/err")" grep -q '^.*transform: stopped by SIGTERM' <(tail -1 "$L/err")
else
  bad task-transform-sigterm "transform never started: $(tail -3 "$L/err")"
fi

# A retry delay: woken at once.
R=$tmp/delay
mkdir -p "$R"
h=$(hooks_for 2024-05-04)
# (a warehouse that refuses connections: retryable; a missing folder is not)
sp_bg "$R" DATA_DIR="$tmp/smalld" DATABASE_URL="postgresql://u@127.0.0.1:1/db" \
  -- run --ds 2024-05-04 --retries 3 --retry-delay 600 &
pid=$!; pids+=("$pid")
if wait_for 60 "$pid" logged "$R/err" "retrying in 600s"; then
  stop "$pid" TERM
  stopped_cleanly retry-delay-sigterm "$R" 2024-05-04 143 "cancelled by SIGTERM while waiting to retry preflight" "$h"
else
  bad retry-delay-sigterm "the run never reached its retry delay: $(tail -3 "$R/err")"
fi

# ---- 2. debris: kill -9'd tasks' leftovers go, a live task's stay ------------
# Five tasks on L's stores at once (each in its own folder; tasks of one ds
# may overlap): three transforms and a stage to be killed, one live
# transform. Started together, so no task's own sweep sees another dead.
ntf() { find "$L/lake/processed" -maxdepth 1 -name '.tmp-transform-*' | wc -l; }
on_l=(RAW_STORE="$L/lake/raw" PROCESSED_STORE="$L/lake/processed" DATA_DIR="$tmp/bigd")
doomed=()
for i in 1 2 3; do
  mkdir -p "$tmp/k$i"
  sp_bg "$tmp/k$i" "${on_l[@]}" -- transform --ds $D &
  doomed+=($!); pids+=($!)
done
mkdir -p "$tmp/k4" "$tmp/live"
sp_bg "$tmp/k4" "${on_l[@]}" -- stage --ds 2024-05-05 &
doomed+=($!); pids+=($!)
sp_bg "$tmp/live" "${on_l[@]}" -- transform --ds $D &
live=$!; pids+=("$live")
if wait_for 300 "$live" eval '[ "$(ntf)" -ge 4 ] && has_tmp "$L/lake/raw/runs/2024-05-05"'; then
  kill -KILL "${doomed[@]}"
  for p in "${doomed[@]}"; do wait "$p" 2>/dev/null; done
  check debris-left-by-kill-9 "$(find "$L/lake" -name '.tmp-*' -prune)" \
    [ "$(find "$L/lake" -name '.tmp-*' -prune | wc -l)" -eq 5 ]
  W=$tmp/sweeper
  mkdir -p "$W"
  sp "$W" "${on_l[@]}" DATA_DIR="$tmp/smalld" -- stage --ds 2024-05-06
  rc=$?
  check debris-sweeper-ok "exit $rc: $(tail -3 "$W/err")" [ $rc -eq 0 ]
  check debris-4-removed "$(grep sweep "$W/err")" [ "$(grep -c 'sweep: removed' "$W/err")" -eq 4 ]
  live_dir=$(find "$L/lake/processed" -maxdepth 1 -name ".tmp-transform-*.$live.*")
  check debris-live-kept "live $live: $live_dir; left: $(find "$L/lake" -name '.tmp-*' -prune)" \
    eval '[ -n "$live_dir" ] && [ "$(find "$L/lake" -name ".tmp-*" -prune | wc -l)" -eq 1 ] && kill -0 $live'
  stop "$live" TERM
  check debris-live-stops-cleanly "exit $rc, took $took, left: $(find "$L/lake" -name '.tmp-*' -prune)" \
    eval '[ $rc -eq 143 ] && ! has_tmp "$L/lake"'
else
  kill -KILL "${doomed[@]}" 2>/dev/null
  bad debris "the tasks never started their work: $(tail -2 "$tmp/live/err" "$tmp/k4/err")"
fi

# ---- 3. a full STATE_DIR: the run stops at the next task boundary, exit 1 ---
F=$tmp/full
mkdir -p "$F" "$mnt"
if mount -t tmpfs -o size=1m salespipe-test "$mnt" 2>"$F/mount.err"; then
  sp_bg "$F" DATA_DIR="$tmp/bigd" DATABASE_URL="sqlite:///$F/wh.db" STATE_DIR="$mnt" \
    -- run --ds 2024-05-07 --retries 2 --retry-delay 0 &
  pid=$!; pids+=("$pid")
  if wait_for 300 "$pid" logged "$F/err" "transform: started"; then
    dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null # until the disk is full
    wait "$pid"; rc=$?
    check full-ledger-exit-1 "exit $rc: $(tail -4 "$F/err")" [ $rc -eq 1 ]
    check full-ledger-names-path-and-cause "$(grep -i ledger "$F/err" | tail -3)" \
      grep -q "run ledger $mnt/ledger.db: .*No space left on device" "$F/err"
    check full-ledger-no-further-work "$(grep started "$F/err")" \
      eval '! grep -qE "(create-tables|load): started" "$F/err"'
    rm -f "$mnt/filler"
    state=$(cd "$F" && env -i PATH="$PATH" STATE_DIR="$mnt" "$bin" runs --json 2>&1 | py "[r['state'] for r in d if r['ds']=='2024-05-07']")
    check full-ledger-never-succeeded "$state" grep -qxE "\['(failed|running)'\]" <<<"$state"
  else
    bad full-ledger "the run never reached transform: $(tail -3 "$F/err")"
  fi
  umount "$mnt"
else
  bad full-ledger "cannot mount a tmpfs (root is needed): $(cat "$F/mount.err")"
fi

# ---- 4. PostgreSQL: a load blocked on a lock, a load mid-COPY ---------------
if tests/postgres/pg.sh start "$pgdir" >"$tmp/pg.log" 2>&1; then
  # shellcheck disable=SC1091
  . "$pgdir/env"
  URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB"
  pq() { psql -X -q -At -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" -c "$1" 2>&1; }
  P=$tmp/pg
  mkdir -p "$P"
  sp "$P" DATA_DIR="$tmp/smalld" DATABASE_URL="$URL" -- run --ds 2024-05-01 --retries 0
  pg_before=$(pq "SELECT count(*), sum(total_sales) FROM fact_sales")
  check pg-small-day-loaded "$pg_before $(tail -2 "$P/err")" grep -qE '^[1-9][0-9]*\|' <<<"$pg_before"
  # a) the load waits on salespipe's advisory lock, held by another session:
  # only a cancel request (PQcancel) can end that statement.
  psql -X -q -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" \
    -c "SELECT pg_advisory_lock(8313495815447570544)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
  holder=$!; pids+=("$holder")
  held() { [ "$(pq "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; }
  waiting() { [ "$(pq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'salespipe' AND wait_event_type = 'Lock'")" = 1 ]; }
  wait_for 30 "$holder" held || bad pg-lock-setup "the lock holder did not take the lock"
  h=$(hooks_for 2024-05-01)
  sp_bg "$P" DATA_DIR="$tmp/smalld" DATABASE_URL="$URL" -- run --ds 2024-05-01 --only load &
  pid=$!; pids+=("$pid")
  if wait_for 60 "$pid" waiting; then
    stop "$pid" TERM
    stopped_cleanly pg-lock-wait-sigterm "$P" 2024-05-01 143 "cancelled by SIGTERM during load" "$h"
    sleep 0.5
    check pg-lock-wait-no-backend-left "$(pq "SELECT state, wait_event_type, query FROM pg_stat_activity WHERE application_name = 'salespipe'")" \
      [ "$(pq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'salespipe'")" = 0 ]
  else
    bad pg-lock-wait-sigterm "the load never waited on the lock: $(tail -3 "$P/err")"
  fi
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  pq "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null
  # b) mid-COPY of the big day
  h=$(hooks_for $D)
  sp_bg "$P" DATA_DIR="$tmp/bigd" DATABASE_URL="$URL" -- run --ds $D --retries 0 &
  pid=$!; pids+=("$pid")
  if wait_for 600 "$pid" logged "$P/err" "load: started"; then
    sleep 1
    stop "$pid" TERM
    stopped_cleanly pg-copy-sigterm "$P" $D 143 "cancelled by SIGTERM during load" "$h"
    sleep 0.5
    pg_after=$(pq "SELECT count(*), sum(total_sales) FROM fact_sales")
    check pg-copy-warehouse-unchanged "before $pg_before, after $pg_after" [ "$pg_after" = "$pg_before" ]
    check pg-copy-no-backend-left "$(pq "SELECT state, query FROM pg_stat_activity WHERE application_name = 'salespipe'")" \
      [ "$(pq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'salespipe'")" = 0 ]
  else
    bad pg-copy-sigterm "the load never started: $(tail -3 "$P/err")"
  fi
else
  bad pg-start "cannot start PostgreSQL 15 (tests/postgres/pg.sh): $(tail -5 "$tmp/pg.log")"
fi

# ---- 5. S3: a multipart stage aborted, transform's work folder, a second ----
# signal, debris (uploads left open by kill -9 aborted, a live one kept)
if S3_TEST_WATCH_PID=$$ S3_TEST_BUCKETS="raw processed" tests/s3/server.sh start "$tmp/s3srv" \
  >"$tmp/s3start.log" 2>&1; then
  # shellcheck disable=SC1091
  . "$tmp/s3srv/env"
  on_s3=(RAW_STORE=s3://raw PROCESSED_STORE=s3://processed AWS_ENDPOINT_URL_S3="$S3_TEST_ENDPOINT"
         AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
         AWS_REGION="$AWS_REGION" S3_PART_SIZE_MB=5 DATA_DIR="$tmp/oned")
  mkdir -p "$tmp/oned" && ln -sfn "$tmp/one" "$tmp/oned/raw"
  admin() { curl -sS --max-time 20 "$@"; }
  fault() { admin -X POST -H 'Content-Type: application/json' -d "$1" "$S3_TEST_ADMIN/faults" >/dev/null; }
  faults_clear() { admin -X DELETE "$S3_TEST_ADMIN/faults" >/dev/null; }
  # open_uploads [REGEX]: uploads the proxy saw created and neither completed nor aborted
  open_uploads() {
    admin "$S3_TEST_ADMIN/uploads" | python3 -c '
import json, re, sys
print(sum(1 for u in json.load(sys.stdin) if re.search(sys.argv[1], u["key"])))' "${1:-.}"
  }
  # listed_uploads BUCKET: <Upload> entries of ListMultipartUploads, asked with curl's own signer
  empty=$(printf '' | sha256sum | cut -c1-64)
  listed_uploads() {
    curl -s --max-time 10 --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
      -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/$1?uploads=" | grep -o '<Upload>' | wc -l
  }
  backend_status() { curl -s -o /dev/null -w '%{http_code}' -I "$S3_TEST_BACKEND/$1/$2"; }
  S=$tmp/s3p
  mkdir -p "$S"
  # a) stage of a 130 MB file, in 5 MB parts: stopped mid-upload, the upload aborted
  h=$(hooks_for 2024-06-01)
  sp_bg "$S" "${on_s3[@]}" -- run --ds 2024-06-01 --retries 0 &
  pid=$!; pids+=("$pid")
  if wait_for 120 "$pid" eval '[ "$(open_uploads)" -ge 1 ]'; then
    sleep 0.3
    stop "$pid" TERM
    stopped_cleanly s3-stage-sigterm "$S" 2024-06-01 143 "cancelled by SIGTERM during stage" "$h"
    check s3-stage-upload-aborted "open: $(open_uploads), listed: $(listed_uploads raw)" \
      eval '[ "$(open_uploads)" = 0 ] && [ "$(listed_uploads raw)" = 0 ]'
    check s3-stage-says-aborted "$(tail -1 "$S/err")" grep -q 'aborted the multipart upload of s3://raw/runs/2024-06-01/West_orders.csv' <(tail -1 "$S/err")
    check s3-stage-no-object "$(backend_status raw runs/2024-06-01/West_orders.csv)" \
      [ "$(backend_status raw runs/2024-06-01/West_orders.csv)" = 404 ]
  else
    bad s3-stage-sigterm "no multipart upload was ever opened: $(tail -3 "$S/err")"
  fi
  # b) transform on S3: its work folder is in TMPDIR
  sp "$S" "${on_s3[@]}" -- stage --ds 2024-06-02
  h=$(hooks_for 2024-06-02)
  sp_bg "$S" "${on_s3[@]}" -- run --ds 2024-06-02 --from transform --retries 0 &
  pid=$!; pids+=("$pid")
  if wait_for 120 "$pid" eval 'ls -d "$S"/tmp/salespipe-transform-* >/dev/null 2>&1'; then
    sleep 1
    stop "$pid" INT
    stopped_cleanly s3-transform-sigint "$S" 2024-06-02 130 "cancelled by SIGINT during transform" "$h"
    check s3-transform-nothing-published "$(backend_status processed runs/2024-06-02/_manifest.json)" \
      [ "$(backend_status processed runs/2024-06-02/_manifest.json)" = 404 ]
    check s3-transform-no-upload-open "$(open_uploads)" [ "$(open_uploads)" = 0 ]
  else
    bad s3-transform-sigint "transform never made its work folder: $(tail -3 "$S/err")"
  fi
  # c) a second signal during a slow cleanup (the abort hangs at the server): at once
  fault '{"method":"DELETE","query":"uploadId","action":"timeout","ms":20000,"count":-1}'
  sp_bg "$S" "${on_s3[@]}" -- stage --ds 2024-06-03 &
  pid=$!; pids+=("$pid")
  if wait_for 120 "$pid" eval '[ "$(open_uploads 2024-06-03)" -ge 1 ]'; then
    kill -TERM "$pid"
    sleep 0.7
    stop "$pid" TERM
    check s3-second-signal-exit-143 "exit $rc" [ "$rc" -eq 143 ]
    check s3-second-signal-at-once "took ${took}s" le "$took" 0.5
    check s3-second-signal-said "$(tail -2 "$S/err")" grep -q 'second signal: exiting at once' "$S/err"
  else
    bad s3-second-signal "no multipart upload was ever opened: $(tail -3 "$S/err")"
  fi
  faults_clear
  # d) debris: that upload, one of a stage killed outright, and a transform's
  # work folder left in TMPDIR; then a live stage whose parts hang
  sp_bg "$S" "${on_s3[@]}" -- stage --ds 2024-06-04 &
  pid=$!; pids+=("$pid")
  wait_for 120 "$pid" eval '[ "$(open_uploads 2024-06-04)" -ge 1 ]' || bad s3-debris-setup "no upload: $(tail -2 "$S/err")"
  kill -KILL "$pid"; wait "$pid" 2>/dev/null
  sp_bg "$S" "${on_s3[@]}" -- transform --ds 2024-06-02 &
  pid=$!; pids+=("$pid")
  wait_for 120 "$pid" eval 'ls -d "$S"/tmp/salespipe-transform-* >/dev/null 2>&1' || bad s3-debris-setup "no work folder: $(tail -2 "$S/err")"
  kill -KILL "$pid"; wait "$pid" 2>/dev/null
  check s3-debris-left "open uploads $(open_uploads), tmp: $(ls "$S/tmp")" \
    eval '[ "$(open_uploads)" = 2 ] && ls -d "$S"/tmp/salespipe-transform-* >/dev/null 2>&1'
  # S3 keeps no owner: age decides. The debris is made older than
  # DEBRIS_MAX_AGE=15 below; the live upload is seconds old when swept.
  sleep 16
  fault '{"method":"PUT","path":"2024-06-05","query":"partNumber","action":"timeout","ms":30000,"count":-1}'
  mkdir -p "$tmp/s3live"
  sp_bg "$tmp/s3live" "${on_s3[@]}" -- stage --ds 2024-06-05 &
  live=$!; pids+=("$live")
  if wait_for 60 "$live" eval '[ "$(open_uploads 2024-06-05)" = 1 ]'; then
    W=$tmp/s3sweeper
    mkdir -p "$W"
    sp "$W" "${on_s3[@]}" TMPDIR="$S/tmp" DEBRIS_MAX_AGE=15 DATA_DIR="$tmp/smalld" -- stage --ds 2024-06-06
    rc=$?
    check s3-sweeper-ok "exit $rc: $(tail -3 "$W/err")" [ $rc -eq 0 ]
    check s3-sweep-aborted-2 "$(grep sweep "$W/err")" [ "$(grep -c 'sweep: aborted the multipart upload' "$W/err")" = 2 ]
    check s3-sweep-removed-work-folder "$(grep sweep "$W/err")" grep -q "sweep: removed $S/tmp/salespipe-transform-" "$W/err"
    check s3-sweep-live-upload-kept "open: $(admin "$S3_TEST_ADMIN/uploads" | head -c 300)" \
      eval '[ "$(open_uploads)" = 1 ] && [ "$(open_uploads 2024-06-05)" = 1 ] && [ "$(listed_uploads raw)" = 1 ]'
    stop "$live" TERM
    check s3-live-stops-cleanly "exit $rc, took $took: $(tail -2 "$tmp/s3live/err")" \
      eval '[ $rc -eq 143 ] && le "$took" 2 && [ "$(open_uploads)" = 0 ]'
  else
    bad s3-sweep "the live upload never opened: $(tail -3 "$tmp/s3live/err")"
  fi
  faults_clear
else
  bad s3-start "tests/s3/server.sh start failed: $(tail -5 "$tmp/s3start.log")"
fi

finish
