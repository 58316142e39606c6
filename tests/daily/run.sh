#!/usr/bin/env bash
# run.sh — "mistakes say so at once" and the hostile-input points of issue 12:
# which failures the runner retries (one row of docs/operations.md's Retries
# table each: a missing input folder, a read-only store, two unreachable
# servers, an endpoint that accepts connections and never answers), typo
# warnings for configuration names, `config` in words, a 5,000-field record,
# derived values at the top of DECIMAL(18,2), and a file name that cannot
# become a store key. Local stores and SQLite; the unreachable servers are
# closed loopback ports and a loopback listener that never answers.
# Ends "N passed, N failed, N skipped".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
mounts=()
unmount_all() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; }
at_exit unmount_all
# sp DIR [NAME=value …] -- ARGS…: salespipe in DIR, clean environment;
# stdout to DIR/out, stderr to DIR/err; returns its exit status.
sp() { sp_clean "$@"; }
py() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
attempts_of() { # DIR TASK: attempts of TASK in the last run of DIR's ledger
  local id
  id=$(cd "$1" && "${clean_env[@]}" "$bin" runs --json | py "d[-1]['run_id']") || return 1
  (cd "$1" && "${clean_env[@]}" "$bin" runs "$id" --json) |
    py "[t['attempts'] for t in d['tasks'] if t['task']=='$2'][0]"
}
project() { mkdir -p "$tmp/$1/data/raw" && echo "$tmp/$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

"$bin" gen --out "$tmp/src" --rows 30 >/dev/null 2>&1 || { bad gen "gen failed"; finish; }

# ---- Retries: a missing input folder is permanent (one attempt) ---------------
d=$(project missing-raw); rmdir "$d/data/raw"
t0=$(now)
sp "$d" RETRIES=2 RETRY_DELAY=30 -- run; rc=$?
t1=$(now)
check missing-raw-exit "exit $rc, want 1: $(tail -3 "$d/err")" test "$rc" -eq 1
check missing-raw-one-attempt "attempts $(attempts_of "$d" preflight), took $(secs "$t0" "$t1")s" \
  test "$(attempts_of "$d" preflight)" = 1
check missing-raw-named "the error does not name data/raw: $(tail -3 "$d/err")" \
  grep -q 'input folder ./data/raw: No such file or directory' "$d/err"

# ---- Retries: a read-only processed store is permanent --------------------------
d=$(project ro-store); cp "$tmp/src"/*.csv "$d/data/raw/"; mkdir -p "$d/ro"
if mount -t tmpfs -o size=1m,ro tmpfs "$d/ro" 2>/dev/null; then
  mounts+=("$d/ro")
  sp "$d" RETRIES=2 RETRY_DELAY=30 PROCESSED_STORE=./ro -- run --from stage; rc=$?
  check ro-store-exit "exit $rc, want 1" test "$rc" -eq 1
  check ro-store-one-attempt "transform attempts $(attempts_of "$d" transform): $(tail -4 "$d/err")" \
    test "$(attempts_of "$d" transform)" = 1
  check ro-store-named "no 'Read-only file system' naming the store: $(tail -3 "$d/err")" \
    grep -q 'Read-only file system' "$d/err"
else
  skipped ro-store "cannot mount a read-only tmpfs here (not root, or no mount privilege)"
fi

# ---- Retries: two unreachable servers keep their class (retried) ----------------
d=$(project two-down); cp "$tmp/src"/*.csv "$d/data/raw/"
p1=$(free_port)
sp "$d" RETRIES=1 RETRY_DELAY=1 AWS_MAX_ATTEMPTS=1 AWS_ACCESS_KEY_ID=AKIDTEST \
  AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3="http://127.0.0.1:$p1" \
  RAW_STORE=s3://raw-bucket DATABASE_URL="postgresql://u@127.0.0.1:$p1/db" -- run; rc=$?
check two-down-exit "exit $rc, want 1" test "$rc" -eq 1
check two-down-retried "preflight attempts $(attempts_of "$d" preflight), want 2: $(grep -m3 ERROR "$d/err")" \
  test "$(attempts_of "$d" preflight)" = 2
check two-down-both-named "both servers not named: $(grep ERROR "$d/err" | head -4)" \
  bash -c "grep -q 'RAW_STORE s3://raw-bucket' '$d/err' && grep -q 'postgresql://u@127.0.0.1:$p1/db' '$d/err'"

# ---- Preflight against an endpoint that never answers: within 30 s --------------
hole=$(free_port)
python3 - "$hole" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # accept, never answer
EOF
pids+=($!)
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$hole),1)" 2>/dev/null && break; sleep 0.1; done
d=$(project blackhole)
t0=$(now)
sp "$d" AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL_S3="http://127.0.0.1:$hole" RAW_STORE=s3://raw-bucket \
  PROCESSED_STORE=s3://proc-bucket DATABASE_URL="postgresql://u@127.0.0.1:$hole/db" -- preflight; rc=$?
t1=$(now)
el=$(secs "$t0" "$t1")
check blackhole-exit "exit $rc, want 1" test "$rc" -eq 1
check blackhole-within-30s "preflight took ${el}s" awk -v e="$el" 'BEGIN { exit !(e < 30) }'
check blackhole-named "the endpoint is not named: $(grep ERROR "$d/err" | tail -2)" \
  grep -q "endpoint http://127.0.0.1:$hole" "$d/err"
echo "preflight against a listener that never answers: failed in ${el}s"

# ---- Typos in configuration names ------------------------------------------------
d=$(project typos)
printf 'DATABSE_URL=sqlite:///x.db\nALLOWED_CIDR=203.0.113.10/32\nDB_INSTANCE_CLASS=db.t3.micro\nPROJECT_NAME=p\nHOST_DATA_DIR=./data\nPIPELINE_IMAGE=x:1\n' >"$d/.env"
sp "$d" SALES_TRESHOLD=5 -- config; rc=$?
check typo-exit "config exit $rc" test "$rc" -eq 0
check typo-dotenv "no warning for DATABSE_URL: $(cat "$d/err")" \
  grep -q 'DATABSE_URL (.env:1) is not a salespipe name and is ignored: did you mean DATABASE_URL?' "$d/err"
check typo-env "no warning for SALES_TRESHOLD: $(cat "$d/err")" \
  grep -q 'SALES_TRESHOLD (the environment) .*did you mean SALES_THRESHOLD?' "$d/err"
check typo-reference-names-quiet "a reference name warned: $(cat "$d/err")" \
  bash -c "! grep -qE 'ALLOWED_CIDR|DB_INSTANCE_CLASS|PROJECT_NAME|HOST_DATA_DIR|PIPELINE_IMAGE' '$d/err'"
check config-words-default-sqlite "config does not state the default warehouse: $(tail -4 "$d/out")" \
  grep -q 'warehouse  *embedded SQLite file ./warehouse.db' "$d/out"

# ---- A record with 5,000 fields is a malformed reject, not a failed run ----------
d=$(project wide); cp "$tmp/src/West_orders.csv" "$d/data/raw/"
{ printf 'wide'; for _ in $(seq 5000); do printf ',x'; done; printf '\n'; } >>"$d/data/raw/West_orders.csv"
wide_line=$(wc -l <"$d/data/raw/West_orders.csv")
sp "$d" -- run --retries 0; rc=$?
check wide-record-run "exit $rc: $(tail -3 "$d/err")" test "$rc" -eq 0
man="$d/lake/processed/runs/$(date -u +%F)/_manifest.json"
check wide-record-malformed "manifest: $(cat "$man" 2>/dev/null)" \
  test "$(py "d['rejected'].get('malformed', 0)" <"$man" 2>/dev/null)" = 1
check wide-record-line "rejects.csv has no malformed line $wide_line" \
  grep -q "^West_orders.csv,$wide_line,malformed," "$(dirname "$man")/rejects.csv"

# ---- Derived values up to DECIMAL(18,2)'s top are kept --------------------------
d=$(project derived); cp "$tmp/src/West_orders.csv" "$d/data/raw/"
head -1 "$d/data/raw/West_orders.csv" >/dev/null
echo '99,X-1,1/5/2020,1/7/2020,S,C,N,S,US,C,S,1,West,BIG-1,Tech,T,Big,0.0001,1,0,999999999999.9999' \
  >>"$d/data/raw/West_orders.csv"
sp "$d" -- run --retries 0; rc=$?
check derived-run "exit $rc: $(tail -3 "$d/err")" test "$rc" -eq 0
fact="$d/lake/processed/runs/$(date -u +%F)/fact_sales.parquet"
check derived-kept "BIG-1 with margin 9999999999999999.00 not in fact_sales" \
  bash -c "'$bin' inspect '$fact' --csv 2>/dev/null | grep 'BIG-1' | grep -q '9999999999999999.00'"

# ---- A file name that cannot become a store key: exit 1 naming it ---------------
d=$(project newline); cp "$tmp/src/West_orders.csv" "$d/data/raw/"
cp "$tmp/src/East_orders.csv" "$d/data/raw/bad
name_orders.csv"
sp "$d" -- stage; rc=$?
check newline-name-exit "exit $rc, want 1" test "$rc" -eq 1
check newline-name-named "not named: $(tail -2 "$d/err")" grep -q 'bad\\x0aname_orders.csv' "$d/err"
check newline-name-nothing-staged "something was staged" \
  bash -c "! ls '$d/lake/raw/runs/'*/*.csv >/dev/null 2>&1"

# ---- Gate results are JSON log events of their own (SPEC §9: event "gate") ------
d=$(project gate-events); cp "$tmp/src/West_orders.csv" "$d/data/raw/"
sp "$d" SALES_THRESHOLD=-5 -- --log-format json run --retries 0; rc=$?
check gate-event-exit "exit $rc, want 1 (MIN_ROWS)" test "$rc" -eq 1
check gate-event-failed "no JSON line with event gate naming MIN_ROWS: $(grep -m2 gate "$d/err")" \
  python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert any(l.get("event") == "gate" and l["level"] == "warn" and "MIN_ROWS" in l["msg"] for l in lines)
' "$d/err"

finish
