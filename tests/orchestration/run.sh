#!/usr/bin/env bash
# run.sh — orchestration tests (issue 6): retries and their spacing, permanent
# errors not retried, the run ledger (`runs --json`), resume, one run or single
# task per ds (both directions), SIGTERM during a retry delay, abandoned runs,
# and alerts received by a local
# webhook listener and a local SMTP sink (tests/orchestration/sinks.mjs on
# 127.0.0.1 free ports). Failures are real (a missing input folder, a missing
# required column), not injected. Ends "N passed, N failed".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# ---- the sinks --------------------------------------------------------------
sinks_start
read -r HP MP XP <"$tmp/sink/ports"
ok sinks-start
HOOK_SECRET=T0kenInThePath9x
SMTP_SECRET=SmtpPassw0rd7q
HOOK="http://127.0.0.1:$HP/services/$HOOK_SECRET"
SMTP="smtp://alerts:$SMTP_SECRET@127.0.0.1:$MP"

"$bin" gen --out "$tmp/data-src" --rows 40 >/dev/null 2>&1 || { bad gen "gen failed"; finish; }

# sp DIR [NAME=value …] -- ARGS…: salespipe in DIR with a clean environment
# (alerts to the sinks); stdout to DIR/out, stderr to DIR/err.
sp_env=(ALERT_WEBHOOK_URL="$HOOK" SMTP_URL="$SMTP" ALERT_EMAIL=ops@example.com)
sp() { sp_clean "$@"; }
# sp_bg DIR [NAME=value …] -- ARGS…: the same, to be started with `&`: the
# function's own subshell becomes salespipe, so $! is salespipe's pid.
sp_bg() { sp_clean_bg "$@"; }
# q DIR ARGS…: salespipe in DIR, clean environment, no alerts, output as is.
q() { local dir=$1; shift; (cd "$dir" && "${clean_env[@]}" "$bin" "$@"); }
# elapsed_ge T0 T1 SECONDS
elapsed_ge() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { exit !(b - a >= n) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
project() { mkdir -p "$tmp/$1/data" && echo "$tmp/$1"; }
# A warehouse that is down (nothing listens on its loopback port): a failure
# that waiting may cure, so the runner retries it. A missing input folder is
# not one (it fails at once: tests/daily).
down_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DOWN_WH="DATABASE_URL=postgresql://sp@127.0.0.1:$down_port/sales"
with_data() { cp -r "$tmp/data-src" "$1/data/raw"; }
now() { date +%s.%N; }
# py EXPR: evaluate EXPR with d = the JSON document on stdin; prints the result.
py() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# The one run of a ds (its JSON), from `runs --json` then `runs RUN_ID --json`.
run_of() { # DIR DS
  local id
  id=$(q "$1" runs --json | py "[r['run_id'] for r in d if r['ds']=='$2'][-1]") || return 1
  q "$1" runs "$id" --json
}
task_field() { # JSON_FILE TASK FIELD
  py "[t['$3'] for t in d['tasks'] if t['task']=='$2'][0]" <"$1"
}
hooks_for() { # DS: webhook POSTs received for that ds
  [ -f "$tmp/sink/http.log" ] || { echo 0; return; }
  python3 - "$tmp/sink/http.log" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    try:
        if r['method'] == 'POST' and json.loads(r['body']).get('ds') == sys.argv[2]:
            n += 1
    except ValueError:
        pass
print(n)
EOF
}
mails_for() { # DS: mails received whose message names that ds
  python3 - "$tmp/sink" "$1" <<'EOF'
import glob, json, sys
print(sum(1 for f in glob.glob(sys.argv[1] + '/mail-*.json')
          if '(ds %s)' % sys.argv[2] in json.load(open(f))['message']))
EOF
}
wait_for() { # FILE REGEX SECONDS PID: until FILE matches or PID ends
  for _ in $(seq $(($3 * 10))); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || { grep -qE "$2" "$1" 2>/dev/null; return; }
    sleep 0.1
  done
  return 1
}
no_secrets() { # FILES…: none holds a secret value
  ! grep -qF -e "$HOOK_SECRET" -e "$SMTP_SECRET" "$@"
}

# ---- 1. fails twice, then succeeds: 3 attempts, no alert ----------------------
# The warehouse is down for the first two attempts, then a real PostgreSQL
# server comes up on its port (tests/postgres/pg.sh).
d=$(project flaky)
with_data "$d"
flaky_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
flaky_pass=flaky-$$-pw
# The server's folder must be reachable by the postgres user (mktemp's is private).
flaky_pg=$(mktemp -d /tmp/salespipe-flaky-pg.XXXXXX) && chmod 755 "$flaky_pg"
sp_bg "$d" DATABASE_URL="postgresql://sp@127.0.0.1:$flaky_port/sales" PGPASSWORD="$flaky_pass" \
  -- run --ds 2024-01-01 --retries 2 --retry-delay 15 &
pid=$!
pids+=("$pid")
if wait_for "$d/err" 'preflight: failed after .*\(attempt 2 of 3\)' 60 $pid; then
  PG_PORT_WANT=$flaky_port PG_PASS_WANT=$flaky_pass tests/postgres/pg.sh start "$flaky_pg/pg" >"$d/pg.log" 2>&1 \
    || echo "FAIL flaky: the PostgreSQL server did not start: $(cat "$d/pg.log")"
fi
wait $pid; rc=$?
run_of "$d" 2024-01-01 >"$d/run.json" 2>/dev/null
check flaky-exit-0 "exit $rc: $(tail -5 "$d/err")" [ $rc -eq 0 ]
check flaky-3-attempts "$(cat "$d/run.json")" \
  [ "$(task_field "$d/run.json" preflight attempts 2>&1)" = 3 ]
check flaky-run-succeeded "$(cat "$d/run.json")" [ "$(py "d['state']" <"$d/run.json" 2>&1)" = succeeded ]
check flaky-each-attempt-logged "$(grep preflight "$d/err")" \
  [ "$(grep -cE 'preflight: (failed after [0-9.]+s|succeeded in [0-9.]+s) \(attempt [123] of 3\)' "$d/err")" -eq 3 ]
check flaky-no-alert "hooks $(hooks_for 2024-01-01), mails $(mails_for 2024-01-01)" \
  [ "$(hooks_for 2024-01-01)/$(mails_for 2024-01-01)" = 0/0 ]
tests/postgres/pg.sh stop "$flaky_pg/pg" >/dev/null 2>&1; rm -rf "$flaky_pg"

# ---- 2. always fails: N+1 attempts spaced by the delay, one alert each way ---
d=$(project always)
with_data "$d"
t0=$(now)
sp "$d" "$DOWN_WH" -- run --ds 2024-01-02 --retries 2 --retry-delay 1; rc=$?
t1=$(now)
run_of "$d" 2024-01-02 >"$d/run.json" 2>/dev/null
check always-exit-1 "exit $rc: $(tail -3 "$d/err")" [ $rc -eq 1 ]
check always-3-attempts "$(cat "$d/run.json")" [ "$(task_field "$d/run.json" preflight attempts 2>&1)" = 3 ]
check always-spaced "elapsed $(secs "$t0" "$t1")s for 2 delays of 1s" elapsed_ge "$t0" "$t1" 2
# Each attempt starts at least a second (the delay) after the previous ended.
spacing=$(sqlite3 "$d/.salespipe/ledger.db" "SELECT min(strftime('%s', b.started) - strftime('%s', a.ended)) FROM attempts a JOIN attempts b ON a.run_id = b.run_id AND a.task = b.task AND b.attempt = a.attempt + 1" 2>&1)
check always-attempts-spaced-in-ledger "min gap: $spacing" [ "${spacing:-0}" -ge 1 ]
check always-rest-pending "$(cat "$d/run.json")" \
  [ "$(py "[t['state'] for t in d['tasks']]" <"$d/run.json")" = "['failed', 'pending', 'pending', 'pending', 'pending']" ]
check always-one-webhook "$(hooks_for 2024-01-02) POSTs" [ "$(hooks_for 2024-01-02)" = 1 ]
check always-one-mail "$(mails_for 2024-01-02) mails" [ "$(mails_for 2024-01-02)" = 1 ]
body=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line); b = json.loads(r["body"])
    if b.get("ds") == "2024-01-02": print(json.dumps({"b": b, "ct": r["headers"].get("content-type"), "url": r["url"]}))
' "$tmp/sink/http.log")
check webhook-json-fields "$body" python3 -c '
import json, sys
r = json.loads(sys.argv[1]); b = r["b"]
assert r["ct"] == "application/json"
for k in ("text", "run_id", "ds", "task", "attempts", "error", "rejected"): assert k in b, k
assert b["task"] == "preflight" and b["attempts"] == 3, b
assert "preflight" in b["text"] and "127.0.0.1" in b["error"], b
' "$body"
mail=$(python3 -c '
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/mail-*.json"):
    m = json.load(open(f))
    if "(ds 2024-01-02)" in m["message"]: print(json.dumps(m))
' "$tmp/sink")
check mail-names-task "$mail" python3 -c '
import json, sys
m = json.loads(sys.argv[1])
assert m["to"] == ["<ops@example.com>"], m["to"]
assert m["user"] == "alerts", "the SMTP URL credentials were not used"
msg = m["message"]
assert "Subject: salespipe: run " in msg and "failed at preflight" in msg, msg[:300]
assert "attempts:  3" in msg, msg
' "$mail"
check always-no-secret-printed "secret in output" no_secrets "$d/out" "$d/err"
{ q "$d" runs; q "$d" runs --json; q "$d" runs "$(q "$d" runs --json | py "d[-1]['run_id']")"; } >"$d/runs.txt" 2>&1
check runs-no-secret "secret in runs" no_secrets "$d/runs.txt"
check ledger-no-secret "secret in the ledger" no_secrets "$d/.salespipe/ledger.db"
# What the sinks received, less the request URL (the webhook's own secret path).
python3 -c '
import glob, json, sys
for line in open(sys.argv[1] + "/http.log"): print(json.loads(line)["body"])
for f in glob.glob(sys.argv[1] + "/mail-*.json"): print(json.load(open(f))["message"])
' "$tmp/sink" >"$d/alerts.txt"
check alerts-no-secret "secret in an alert" no_secrets "$d/alerts.txt"

# ---- 3. exponential backoff: 1 s, then 2 s -----------------------------------
d=$(project backoff)
with_data "$d"
t0=$(now)
sp "$d" "$DOWN_WH" ALERT_WEBHOOK_URL= SMTP_URL= ALERT_EMAIL= -- run --ds 2024-01-03 --retries 2 --retry-delay 1 --retry-backoff exponential
rc=$?
t1=$(now)
check backoff-exit-1 "exit $rc" [ $rc -eq 1 ]
check backoff-doubles "$(grep retrying "$d/err")" grep -q 'retrying in 2s (attempt 3 of 3 next)' "$d/err"
check backoff-spaced "elapsed $(secs "$t0" "$t1")s for delays 1+2" elapsed_ge "$t0" "$t1" 3
check no-alert-configured "$(grep alert "$d/err")" grep -q 'alert: none configured' "$d/err"

# ---- 4. a permanent error (missing required column) is not retried ---------
d=$(project permanent)
with_data "$d"
sed -i '1s/Product ID/Product Code/' "$d/data/raw/West_orders.csv"
sp "$d" -- run --ds 2024-01-04 --retries 3 --retry-delay 30; rc=$?
run_of "$d" 2024-01-04 >"$d/run.json" 2>/dev/null
check permanent-exit-1 "exit $rc" [ $rc -eq 1 ]
check permanent-one-attempt "$(cat "$d/run.json")" [ "$(task_field "$d/run.json" transform attempts 2>&1)" = 1 ]
check permanent-says-not-retried "$(tail -4 "$d/err")" grep -q 'transform: permanent error (data): not retried' "$d/err"
check permanent-error-recorded "$(cat "$d/run.json")" \
  grep -q "missing required column 'Product ID'" "$d/run.json"
check permanent-one-alert "$(hooks_for 2024-01-04) POSTs, $(mails_for 2024-01-04) mails" \
  [ "$(hooks_for 2024-01-04)/$(mails_for 2024-01-04)" = 1/1 ]

# A date-order conflict (day-first and month-first dates in one file) neither.
d=$(project dateorder)
with_data "$d"
sed -i '2s#,\([0-9]*\)/\([0-9]*\)/\(20[0-9][0-9]\),#,13/\1/\3,#' "$d/data/raw/West_orders.csv"
sp "$d" ALERT_WEBHOOK_URL= SMTP_URL= -- run --ds 2024-01-12 --retries 3 --retry-delay 30; rc=$?
run_of "$d" 2024-01-12 >"$d/run.json" 2>/dev/null
check dateorder-one-attempt "exit $rc: $(cat "$d/run.json")" \
  [ "$rc/$(task_field "$d/run.json" transform attempts 2>&1)" = 1/1 ]
check dateorder-not-retried "$(grep transform "$d/err" | tail -3)" \
  grep -q 'dates are day-first on line 2 .*transform: permanent error (data): not retried' <(tr '\n' ' ' <"$d/err")

# ---- 5. resume: same run_id, succeeded tasks not run again, attempts add up --
# The first run fails on a date-order conflict; the operator resumes with
# DATE_ORDER=mdy (a setting, the staged inputs as they are: SPEC §8).
d=$(project resume)
with_data "$d"
sed -i '2s#,\([0-9]*\)/\([0-9]*\)/\(20[0-9][0-9]\),#,13/\1/\3,#' "$d/data/raw/West_orders.csv"
sp "$d" ALERT_WEBHOOK_URL= SMTP_URL= -- run --ds 2024-01-05 --retries 0; rc=$?
id1=$(q "$d" runs --json | py "d[-1]['run_id']")
check resume-first-fails "exit $rc" [ $rc -eq 1 ]
# Meanwhile the local copy changes: the resumed run says it reads the staged
# copy and how to start over.
sed -i '2s#,13/#,12/#' "$d/data/raw/West_orders.csv"
sp "$d" ALERT_WEBHOOK_URL= SMTP_URL= DATE_ORDER=mdy -- run --ds 2024-01-05 --resume; rc=$?
run_of "$d" 2024-01-05 >"$d/run.json" 2>/dev/null
check resume-exit-0 "exit $rc: $(tail -5 "$d/err")" [ $rc -eq 0 ]
check resume-says-local-differs "$(grep -i resume "$d/err")" \
  grep -q 'data/raw/West_orders.csv differs from its staged copy runs/2024-01-05/West_orders.csv' "$d/err"
check resume-says-how-to-start-over "$(grep -i resume "$d/err")" \
  grep -q 'start a new run (it stages again): salespipe run --ds 2024-01-05 (without --resume)' "$d/err"
check resume-same-run-id "$(q "$d" runs)" \
  [ "$(q "$d" runs --json | py "len([r for r in d if r['ds']=='2024-01-05'])")/$(py "d['run_id']" <"$d/run.json")" = "1/$id1" ]
resumed_from_transform() {
  ! grep -qE "(preflight|stage): started" "$1" && grep -q "transform: started" "$1"
}
check resume-skips-succeeded "$(grep started "$d/err")" resumed_from_transform "$d/err"
check resume-attempts-accumulate "$(cat "$d/run.json")" \
  [ "$(py "[(t['task'], t['attempts'], t['state']) for t in d['tasks']]" <"$d/run.json")" = \
    "[('preflight', 1, 'succeeded'), ('stage', 1, 'succeeded'), ('transform', 2, 'succeeded'), ('create-tables', 1, 'succeeded'), ('load', 1, 'succeeded')]" ]
# 160 rows, one rejected: its order date 13/… is no month-first date.
check resume-rows-recorded "$(cat "$d/run.json")" [ "$(task_field "$d/run.json" load rows)" = 159 ]
sp "$d" -- run --ds 2024-01-05 --resume; rc=$?
exits_with() { # WANT RC PATTERN FILE
  [ "$2" = "$1" ] && grep -qF -- "$3" "$4"
}
check resume-nothing-left "exit $rc: $(cat "$d/err")" \
  exits_with 1 "$rc" "nothing to resume: the latest run of ds 2024-01-05 ($id1) succeeded" "$d/err"

# ---- 6. one run per ds: a second refuses at once; SIGTERM in the delay -------
# first_still_waiting PID ERRFILE: the run PID is alive and has not begun its
# second attempt (so whatever was refused meanwhile did not wait for it).
first_still_waiting() {
  kill -0 "$1" 2>/dev/null && ! grep -q 'started (.*attempt 2 of' "$2"
}
not_started() { ! grep -q "$1: started" "$2"; }
d=$(project concurrent)
with_data "$d"
sp_bg "$d" "$DOWN_WH" -- run --ds 2024-01-06 --retries 5 --retry-delay 30 &
pid=$!
pids+=("$pid")
if wait_for "$d/err" 'retrying in 30s' 60 $pid; then
  mkdir -p "$d/second"
  t0=$(now)
  q "$d" run --ds 2024-01-06 --retry-delay 0 >"$d/second/out" 2>"$d/second/err"
  rc=$?
  t1=$(now)
  id=$(q "$d" runs --json | py "d[-1]['run_id']")
  check second-run-refused "exit $rc: $(cat "$d/second/err")" \
    exits_with 1 "$rc" "already in progress: run $id (pid $pid)" "$d/second/err"
  # At once: the first run was still in its 30 s delay, its second attempt not begun.
  check second-run-refused-at-once "took $(secs "$t0" "$t1")s; first run: $(tail -2 "$d/err")" \
    first_still_waiting "$pid" "$d/err"
  check second-run-not-recorded "$(q "$d" runs)" [ "$(q "$d" runs --json | py 'len(d)')" = 1 ]
  # A single task of that ds (as Airflow or a person calls it) refuses too.
  q "$d" stage --ds 2024-01-06 >"$d/second/out" 2>"$d/second/err"; rc=$?
  check task-refused-during-run "exit $rc: $(cat "$d/second/err")" \
    exits_with 1 "$rc" "stage: a run for ds 2024-01-06 is already in progress: run $id (pid $pid)" "$d/second/err"
  check task-refused-did-nothing "$(cat "$d/second/err")" not_started stage "$d/second/err"
  check task-refused-at-once "first run: $(tail -2 "$d/err")" first_still_waiting "$pid" "$d/err"
  q "$d" run --ds 2024-01-07 --only create-tables >/dev/null 2>"$d/other.err"; rc=$?
  check other-ds-runs-meanwhile "exit $rc: $(cat "$d/other.err")" [ $rc -eq 0 ]
  kill -TERM $pid
  wait $pid; rc=$?
  run_of "$d" 2024-01-06 >"$d/run.json" 2>/dev/null
  check sigterm-exit-143 "exit $rc" [ $rc -eq 143 ]
  check sigterm-recorded-failed "$(cat "$d/run.json")" \
    exits_with failed "$(py "d['state']" <"$d/run.json")" "cancelled by SIGTERM while waiting to retry preflight" "$d/run.json"
  check sigterm-one-alert "$(hooks_for 2024-01-06)" [ "$(hooks_for 2024-01-06)" = 1 ]
else
  bad second-run-refused "the first run never reached its retry delay: $(tail -3 "$d/err")"
fi

# ---- 7. a run killed outright is found abandoned, not left "running" ---------
d=$(project killed)
with_data "$d"
sp_bg "$d" "$DOWN_WH" ALERT_WEBHOOK_URL= SMTP_URL= ALERT_EMAIL= -- run --ds 2024-01-08 --retries 5 --retry-delay 30 &
pid=$!
pids+=("$pid")
if wait_for "$d/err" 'retrying in 30s' 60 $pid; then
  kill -KILL $pid
  wait $pid 2>/dev/null
  state=$(q "$d" runs --json | py "(d[-1]['state'], d[-1]['error'])")
  check killed-marked-failed "$state" grep -q "('failed', 'abandoned: process $pid" <<<"$state"
  q "$d" run --ds 2024-01-08 --only create-tables >/dev/null 2>"$d/again.err"; rc=$?
  check killed-ds-free-again "exit $rc: $(cat "$d/again.err")" [ $rc -eq 0 ]
else
  bad killed-marked-failed "the run never reached its retry delay: $(tail -3 "$d/err")"
fi

# ---- 7b. a single task holds the ds: a run refuses (another task may start) --
# create-tables against a PostgreSQL "server" that accepts and never answers
# (the sinks' hang port) stays in its connect for up to PGCONNECT_TIMEOUT.
d=$(project tasklock)
(cd "$d" && exec "${clean_env[@]}" DATABASE_URL="postgresql://u@127.0.0.1:$XP/db" \
   PGCONNECT_TIMEOUT=120 "$bin" create-tables --ds 2024-01-11 >"$d/task.out" 2>"$d/task.err") &
tpid=$!
pids+=("$tpid")
if wait_for "$d/task.err" 'create-tables: started' 60 $tpid && kill -0 $tpid 2>/dev/null; then
  sp "$d" -- run --ds 2024-01-11 --retries 0; rc=$?
  check run-refused-during-task "exit $rc: $(cat "$d/err")" \
    exits_with 1 "$rc" "a task for ds 2024-01-11 is already in progress: task create-tables (pid $tpid)" "$d/err"
  check run-refused-ran-nothing "$(cat "$d/err")" not_started preflight "$d/err"
  check run-refused-not-recorded "$(q "$d" runs 2>&1)" \
    [ "$(q "$d" runs --json | py 'len(d)')" = 0 ]
  check run-refused-no-alert "$(hooks_for 2024-01-11) POSTs" [ "$(hooks_for 2024-01-11)" = 0 ]
  # Tasks of one ds may overlap (they are built to): load starts, and fails
  # on its own account (nothing transformed), not on the lock.
  q "$d" load --ds 2024-01-11 >/dev/null 2>"$d/load.err"
  task_ran_not_refused() { grep -q 'load: started' "$1" && ! grep -q 'already in progress' "$1"; }
  check task-alongside-task "$(cat "$d/load.err")" task_ran_not_refused "$d/load.err"
  check task-still-holding "the task ended before the refusals were checked" kill -0 $tpid
  kill -TERM $tpid
  wait $tpid 2>/dev/null
  q "$d" run --ds 2024-01-11 --only create-tables >/dev/null 2>"$d/again.err"; rc=$?
  check task-lock-released "exit $rc: $(cat "$d/again.err")" [ $rc -eq 0 ]
else
  bad run-refused-during-task "the task never started, or ended at once: $(cat "$d/task.err")"
fi

# ---- 8. an alert that cannot be delivered never hides the task's error -------
d=$(project undeliverable)
sp "$d" ALERT_WEBHOOK_URL="http://127.0.0.1:1/services/$HOOK_SECRET" SMTP_URL="smtp://alerts:$SMTP_SECRET@127.0.0.1:1" \
  -- run --ds 2024-01-09 --retries 0; rc=$?
check undeliverable-exit-1 "exit $rc" [ $rc -eq 1 ]
check undeliverable-webhook-logged "$(grep alert "$d/err")" \
  grep -qF "alert: webhook http://127.0.0.1:1/*** not delivered" "$d/err"
check undeliverable-mail-logged "$(grep alert "$d/err")" \
  grep -qF "alert: mail to ops@example.com via smtp://alerts:***@127.0.0.1:1 not delivered" "$d/err"
check undeliverable-task-error-shown "$(tail -4 "$d/out")" grep -q "FAILED at preflight after 1 attempt: input folder" "$d/out"
check undeliverable-no-secret "secret in output" no_secrets "$d/out" "$d/err"

# ---- 8b. the mail is RFC 5322: CRLF lines of at most 998 bytes, the headers --
# A long error (the task cuts it at 1023 bytes: DATA_DIR twice) is wrapped in
# the body, not cut further.
d=$(project longmail)
long=$(python3 -c 'print("/nonexistent/" + "/".join(["d" * 60 + " x" * 20] * 12))')
sp "$d" ALERT_WEBHOOK_URL= DATA_DIR="$long" ALERT_EMAIL="ops@example.com, oncall@example.com" \
  -- run --ds 2024-01-13 --retries 0; rc=$?
mail=$(python3 -c '
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/mail-*.json"):
    m = json.load(open(f))
    if "(ds 2024-01-13)" in m["message"]: print(json.dumps(m))
' "$tmp/sink")
check mail-rfc5322 "exit $rc: ${mail:0:600}" python3 -c '
import json, re, sys
m = json.loads(sys.argv[1]); msg = m["message"]; long = sys.argv[2]
assert m["to"] == ["<ops@example.com>", "<oncall@example.com>"], m["to"]
assert "\n" not in msg.replace("\r\n", ""), "a bare LF or CR"
lines = msg.split("\r\n")
assert max(len(l.encode()) for l in lines) <= 998, max(len(l) for l in lines)
head = msg.split("\r\n\r\n")[0].replace("\r\n", "\n")
for h in ("Date", "From", "To", "Subject", "Message-ID"):
    assert re.search("^%s: \\S" % h, head, re.M), h
assert re.search(r"^Message-ID: <[^<>@\s]+@[^<>@\s]+>$", head, re.M), head
assert re.search(r"^To: ops@example.com, oncall@example.com$", head, re.M), head
body = msg.split("\r\n\r\n", 1)[1]
err = body.split("error:\r\n", 1)[1].split("\r\nrejected:", 1)[0]
assert ("input folder " + long)[:900] in " ".join(l.strip() for l in err.split("\r\n")), err[:300]
' "$mail" "$long"

# ---- 9. runs --json: the shapes of the issue --------------------------------
d="$tmp/resume"
check runs-json-list "$(q "$d" runs --json 2>&1 | head -c 400)" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run([sys.argv[1], "runs", "--json"], capture_output=True, check=True, cwd=sys.argv[2]).stdout)
assert isinstance(d, list) and d
for r in d:
    assert {"run_id", "ds", "state"} <= r.keys(), r
    assert r["state"] in ("succeeded", "failed", "running"), r
' "$bin" "$d"
check runs-json-one "$(cat "$d/run.json")" python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
assert {"run_id", "ds", "state", "tasks"} <= d.keys(), d.keys()
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert [t["task"] for t in d["tasks"]] == ["preflight", "stage", "transform", "create-tables", "load"]
for t in d["tasks"]:
    assert {"task", "state", "attempts", "started", "ended", "error"} <= t.keys(), t.keys()
    assert t["state"] in ("succeeded", "failed", "running", "pending", "skipped")
    assert iso.match(t["started"]) and iso.match(t["ended"]), t
' "$d/run.json"
d=$(project only)
with_data "$d"
sp "$d" -- run --ds 2024-01-10 --only stage; rc=$?
run_of "$d" 2024-01-10 >"$d/run.json" 2>/dev/null
check runs-only-skipped "exit $rc: $(cat "$d/run.json")" \
  [ "$(py "[t['state'] for t in d['tasks']]" <"$d/run.json" 2>&1)" = "['skipped', 'succeeded', 'skipped', 'skipped', 'skipped']" ]
sp "$d" -- run --ds 2024-01-10 --from create-tables; rc=$?
run_of "$d" 2024-01-10 >"$d/run.json" 2>/dev/null
check runs-from-skipped "exit $rc: $(cat "$d/run.json")" \
  [ "$(py "[t['state'] for t in d['tasks']]" <"$d/run.json" 2>&1)" = "['skipped', 'skipped', 'skipped', 'succeeded', 'failed']" ]

# ---- 10. the schedulers' files ----------------------------------------------
# (The Airflow DAG is loaded and run by tests/deploy/run.sh.)
check systemd-service "deploy/systemd/salespipe.service" grep -qE '^ExecStart=.*salespipe .*run$' deploy/systemd/salespipe.service
check systemd-timer "deploy/systemd/salespipe.timer" grep -q '^OnCalendar=daily' deploy/systemd/salespipe.timer
check cron-line "deploy/cron/salespipe" grep -qE '^[0-9]+ [0-9]+ \* \* \* [a-z_]+ .*salespipe .*run' deploy/cron/salespipe

# ---- 11. sanitizers: no report in any run's stderr (exit 1 would hide one) ----
reports=$(grep -lE 'Sanitizer|runtime error:' "$tmp"/*/err "$tmp"/*/*.err "$tmp"/*/second/err 2>/dev/null)
check no-sanitizer-reports "$reports" [ -z "$reports" ]

finish
