#!/usr/bin/env bash
# run.sh — the S3 store backend against a real S3-compatible server: the
# harness (server.sh: s3rver behind our SigV4-checking, fault-injecting
# proxy) is started here and stopped on exit. The whole pipeline on S3 gives
# the same bytes and warehouse as on local directories; a 100 MB file goes
# multipart and comes back identical (also when the answer to its Complete is
# lost); awkward keys; a wrong secret; injected
# 503s, resets, timeouts retried; persistent faults fail cleanly with nothing
# half-written; hostile answers give clear errors. Objects are checked behind
# the proxy, on s3rver itself, so our client is never its own judge.
# Runs the sanitizer build when present (SALESPIPE overrides). Ends with
# "N passed, N failed, N skipped"; a server that cannot start is a failure.
set -u
# shellcheck disable=SC2034 # read by lib.sh
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
SP=$bin
CP=$(dirname "$SP")/store_cp
[ -x "$CP" ] || CP=$root/build/store_cp
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Nothing from the caller's environment may point the tests elsewhere.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 S3_ENDPOINT_URL \
  AWS_DEFAULT_REGION AWS_CA_BUNDLE S3_BUCKET PROCESSED_BUCKET S3_PREFIX RAW_STORE \
  PROCESSED_STORE DATABASE_URL RDS_HOST AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE \
  S3_PART_SIZE_MB AWS_MAX_ATTEMPTS S3_READ_TIMEOUT DATA_DIR RAW_PATTERN

srv=$tmp/server
hostile_pid=
# shellcheck disable=SC2317 # run by lib.sh at exit
stop_servers() {
  [ -z "$hostile_pid" ] || kill "$hostile_pid" 2>/dev/null
  [ -z "${tls_pid:-}" ] || kill "$tls_pid" 2>/dev/null
  tests/s3/server.sh stop "$srv" >/dev/null 2>&1
}
at_exit stop_servers
export HOME=$tmp/home # no ~/.aws of the caller's
mkdir -p "$HOME" "$srv"

for tool in "$SP" "$CP"; do
  [ -x "$tool" ] || { bad build "$tool is missing (make && make tools)"; finish; }
done
for cmd in node curl python3 sqlite3; do
  command -v "$cmd" >/dev/null || { bad prerequisites "$cmd is not installed (make deps)"; finish; }
done

# ---- the harness's own checks, when it has them --------------------------------
if [ -x tests/s3/selftest.sh ]; then
  out=$(tests/s3/selftest.sh 2>&1)
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  if [ -n "$line" ] && grep -qE ' 0 failed' <<<"$line"; then ok "harness selftest ($line)"
  else bad "harness selftest" "$(tail -n 15 <<<"$out")"; fi
fi

# A second key pair with a session token, for temporary credentials.
if ! PROXY_KEYS="S3RVER:S3RVER,AKIDTEMPORARY:TempSecret9:Sess10nTok3nXyz" \
  S3_TEST_WATCH_PID=$$ S3_TEST_BUCKETS="raw processed" tests/s3/server.sh start "$srv" \
  >"$tmp/start.log" 2>&1; then
  bad harness "tests/s3/server.sh start failed: $(tail -n 8 "$tmp/start.log")"
  finish
fi
set -a
# shellcheck disable=SC1091
. "$srv/env"
set +a
export AWS_ENDPOINT_URL_S3=$S3_TEST_ENDPOINT S3_READ_TIMEOUT=3

admin() { curl -sS --max-time 20 "$@"; }
log_clear() { admin -X DELETE "$S3_TEST_ADMIN/log" >/dev/null; }
faults_clear() { admin -X DELETE "$S3_TEST_ADMIN/faults" >/dev/null; }
fault() { admin -X POST -H 'Content-Type: application/json' -d "$1" "$S3_TEST_ADMIN/faults" >/dev/null; }
# logq PYTHON-EXPR: evaluate over the request log `l` (a list of dicts).
logq() {
  admin "$S3_TEST_ADMIN/log" | python3 -c "import json,sys; l=json.load(sys.stdin); print($1)"
}
uploads() { admin "$S3_TEST_ADMIN/uploads" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# enc KEY: the key percent-encoded for a URL path ('/' kept).
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/"))' "$1"; }
# backend_get BUCKET KEY FILE: the object as s3rver holds it (not through our client).
backend_get() { curl -sS --fail --max-time 60 -o "$3" "$S3_TEST_BACKEND/$1/$(enc "$2")" 2>/dev/null; }
backend_status() { curl -s -o /dev/null -w '%{http_code}' -I "$S3_TEST_BACKEND/$1/$(enc "$2")"; }
s3run() { # DIR ARGS…: salespipe in DIR with both stores on the harness
  local d=$1
  shift
  (cd "$d" && RAW_STORE=s3://raw PROCESSED_STORE=s3://processed "$SP" "$@")
}
TABLES="dim_date dim_product fact_sales"
OUTPUTS="dim_date.parquet dim_product.parquet fact_sales.parquet rejects.csv"

# same_as_local NAME LOCALDIR S3DIR DS [LOCAL_DS]: the S3 run's objects, manifest
# and warehouse equal the local run's.
# fact_sales.parquet holds its run's run_id in every row: its rows are compared
# with each side's run_id (from its manifest) replaced, the other files byte
# for byte.
run_id_of() { grep -o '"run_id": "[^"]*"' "$1" | head -1 | cut -d'"' -f4; }
facts_as_text() { "$SP" inspect "$1" --csv | sed "s/$2/RUN_ID/g"; }
same_as_local() {
  local name=$1 a=$2 b=$3 ds=$4 lds=${5:-$4} diffs="" f t
  local local_out="$a/lake/processed/runs/$lds" rid=""
  backend_get processed "runs/$ds/_manifest.json" "$tmp/got" && rid=$(run_id_of "$tmp/got")
  for f in $OUTPUTS; do
    if ! backend_get processed "runs/$ds/$f" "$tmp/got"; then diffs+=" $f:missing"
    elif [ "$f" = fact_sales.parquet ]; then
      if [ -z "$rid" ] || ! diff -q <(facts_as_text "$tmp/got" "$rid") \
        <(facts_as_text "$local_out/$f" "$(run_id_of "$local_out/_manifest.json")") >/dev/null
      then diffs+=" $f:differs"; fi
    elif ! cmp -s "$tmp/got" "$local_out/$f"; then diffs+=" $f:differs"; fi
  done
  if backend_get processed "runs/$ds/_manifest.json" "$tmp/got"; then
    # Only the run's identity and time may differ (and the date, when asked).
    norm() { grep -vE '"(run_id|created)":' "$1" | sed -e "s/$2/DS/g"; }
    if ! diff <(norm "$tmp/got" "$ds") <(norm "$a/lake/processed/runs/$lds/_manifest.json" "$lds") \
      >"$tmp/mdiff"; then diffs+=" manifest:$(head -c 300 "$tmp/mdiff")"; fi
  else
    diffs+=" _manifest.json:missing"
  fi
  for f in "$a"/data/raw/*_orders.csv; do
    backend_get raw "runs/$ds/$(basename "$f")" "$tmp/got" && cmp -s "$tmp/got" "$f" \
      || diffs+=" raw/$(basename "$f"):differs"
  done
  # The warehouse's fact_sales carries each side's run_id too.
  local lrid
  lrid=$(run_id_of "$local_out/_manifest.json")
  for t in $TABLES; do
    if ! diff <(sqlite3 "$a/warehouse.db" "SELECT * FROM $t ORDER BY 1" | sed "s/$lrid/RUN_ID/g") \
      <(sqlite3 "$b/warehouse.db" "SELECT * FROM $t ORDER BY 1" | sed "s/${rid:-no-run-id}/RUN_ID/g") >/dev/null; then
      diffs+=" warehouse.$t:differs"
    fi
  done
  local n
  n=$(sqlite3 "$b/warehouse.db" "SELECT count(*) FROM fact_sales" 2>/dev/null)
  [ "${n:-0}" -gt 0 ] || diffs+=" warehouse:empty"
  if [ -z "$diffs" ]; then ok "$name"; else bad "$name" "$diffs"; fi
}

# ---- 1. the whole pipeline on S3 = the same pipeline on local directories -------
A=$tmp/local B=$tmp/s3
for d in "$A" "$B"; do
  mkdir -p "$d"
  (cd "$d" && "$SP" gen --out data/raw --rows 1500 --dirty --seed 11 >/dev/null 2>&1)
  # A key with spaces, '=', '+' and non-ASCII travels the whole way.
  mv "$d/data/raw/East_orders.csv" "$d/data/raw/North East=1+2 é_orders.csv"
done
(cd "$A" && "$SP" run --ds 2024-03-01 --retries 0 >"$tmp/a.out" 2>&1) || bad "local run" "$(tail -5 "$tmp/a.out")"
log_clear
if s3run "$B" run --ds 2024-03-01 --retries 0 >"$tmp/b.out" 2>&1; then
  same_as_local "pipeline on S3 = local (gen --dirty, awkward key; Parquet, rejects, manifest, raw, warehouse)" \
    "$A" "$B" 2024-03-01
else
  bad "pipeline on S3" "$(grep -E 'ERROR|FAIL' "$tmp/b.out" | head -5)"
fi
keys=$(curl -s "$S3_TEST_BACKEND/processed?list-type=2&prefix=runs/" | grep -oE '<Key>[^<]*</Key>' | sed -E 's/<\/?Key>//g' | sort | tr '\n' ' ')
want="runs/2024-03-01/_manifest.json runs/2024-03-01/dim_date.parquet runs/2024-03-01/dim_product.parquet runs/2024-03-01/fact_sales.parquet runs/2024-03-01/rejects.csv runs/2024-03-01/report.html "
if [ "$keys" = "$want" ]; then ok "processed bucket holds exactly the run's outputs under runs/<ds>/"
else bad "processed keys" "got '$keys'"; fi
# report.html is written after the run (src/report), not by transform's publish.
order=$(logq "' '.join(e['path'].rsplit('/',1)[1] for e in l if e['method']=='PUT' and e['path'].startswith('/processed/runs/') and not e['path'].endswith('/report.html'))")
if [[ "$order" == *"fact_sales.parquet rejects.csv _manifest.json" ]] && [[ "$order" != *"_manifest.json "* ]]; then
  ok "publish order on S3: data first, _manifest.json last"
else bad "publish order" "$order"; fi
n=$(logq "sum(1 for e in l if e['method']=='GET' and 'max-keys=1' in (e['query'] or '') and e['path']=='/raw')")
if [ "$n" -ge 1 ]; then ok "preflight lists the raw bucket with max-keys=1"; else bad "preflight list" "no max-keys=1 listing of /raw in the log"; fi

# ---- 2. staging an identical file again uploads nothing --------------------------
log_clear
out=$(s3run "$B" stage --ds 2024-03-01 2>&1)
puts=$(logq "sum(1 for e in l if e['method'] in ('PUT','POST') and not e['path'].endswith('/_inputs.json'))")
inputs=$(logq "sum(1 for e in l if e['method'] == 'PUT' and e['path'].endswith('/_inputs.json'))")
if grep -q "0 uploaded, 4 unchanged" <<<"$out" && [ "$puts/$inputs" = 0/1 ]; then
  ok "stage skips objects with the same size and SHA-256 (no PUT but the run's _inputs.json)"
else bad "stage unchanged" "puts=$puts, _inputs.json puts=$inputs; $(tail -3 <<<"$out")"; fi
printf 'changed\n' >>"$B/data/raw/West_orders.csv"
out=$(s3run "$B" stage --ds 2024-03-09 2>&1 && s3run "$B" stage --ds 2024-03-09 2>&1 \
  && cp "$A/data/raw/West_orders.csv" "$B/data/raw/West_orders.csv" && s3run "$B" stage --ds 2024-03-09 2>&1)
if [ "$(grep -c 'stage: 4 uploaded, 0 unchanged\|stage: 0 uploaded, 4 unchanged\|stage: 1 uploaded, 3 unchanged' <<<"$out")" = 3 ]; then
  ok "stage re-uploads a file whose bytes changed, and only that one"
else bad "stage changed file" "$(grep 'uploaded' <<<"$out")"; fi

# ---- 3. the reference data set ------------------------------------------------------
shared=${SALESPIPE_SHARED:-$root/../shared/data}
if [ -d "$shared/superstore" ] && ls "$shared"/superstore/*_orders.csv >/dev/null 2>&1; then
  C=$tmp/ss-local D=$tmp/ss-s3
  for d in "$C" "$D"; do mkdir -p "$d/data" && ln -s "$(realpath "$shared/superstore")" "$d/data/raw"; done
  if (cd "$C" && "$SP" run --ds 2024-03-02 --retries 0 >"$tmp/c.out" 2>&1) &&
    s3run "$D" run --ds 2024-03-02 --retries 0 >"$tmp/d.out" 2>&1; then
    same_as_local "superstore on S3 = local" "$C" "$D" 2024-03-02
  else
    bad "superstore runs" "$(grep -hE 'ERROR' "$tmp/c.out" "$tmp/d.out" | head -5)"
  fi
else
  skipped "superstore on S3" "no shared data at $shared/superstore (set SALESPIPE_SHARED)"
fi

# ---- 4. a 100 MB object: multipart up, byte-identical down --------------------------
head -c $((100 << 20)) /dev/urandom >"$tmp/big.bin"
want_sha=$(sha256sum "$tmp/big.bin" | cut -d' ' -f1)
key="big/Large file=100 MB+é.bin"
log_clear
if "$CP" put s3://raw "$key" "$tmp/big.bin" 2>"$tmp/cp.err"; then
  summary=$(logq "' '.join(sorted(set(e['method']+':'+('uploads' if e['query']=='uploads=' else 'part' if 'partNumber=' in (e['query'] or '') else 'complete' if 'uploadId=' in (e['query'] or '') else 'plain')+':'+str(e['status']) for e in l)))")
  parts=$(logq "sum(1 for e in l if e['method']=='PUT' and 'partNumber=' in (e['query'] or '') and e['status']==200)")
  if [ "$summary" = "POST:complete:200 POST:uploads:200 PUT:part:200" ] && [ "$parts" = 13 ] && [ "$(uploads)" = 0 ]; then
    ok "100 MiB put goes multipart: create, 13 parts of 8 MiB, complete; no open upload left"
  else bad "multipart shape" "requests: $summary; parts $parts; open uploads $(uploads)"; fi
  if backend_get raw "$key" "$tmp/big.back" && cmp -s "$tmp/big.bin" "$tmp/big.back"; then
    ok "the multipart object on the server is byte-identical"
  else bad "multipart bytes on the server" "differ or missing"; fi
  rm -f "$tmp/big.back"
  if "$CP" get s3://raw "$key" "$tmp/big.back" 2>"$tmp/cp.err" && cmp -s "$tmp/big.bin" "$tmp/big.back"; then
    ok "100 MiB get through our client is byte-identical"
  else bad "multipart get" "$(cat "$tmp/cp.err")"; fi
  rm -f "$tmp/big.back"
  st=$("$CP" stat s3://raw "$key" 2>&1)
  if [ "$st" = "exists=1 size=$((100 << 20)) sha256=$want_sha" ]; then ok "stat answers size and SHA-256 from the upload's metadata"
  else bad "stat" "$st (want $want_sha)"; fi
else
  bad "100 MiB multipart put" "$(cat "$tmp/cp.err")"
fi

# ---- 4b. the answer to CompleteMultipartUpload lost after s3rver completed ----------
# drop-response: s3rver completes the object, the client gets a reset; the
# retried Complete is answered NoSuchUpload. The put must then find the
# object whole (HEAD: size and x-amz-meta-sha256) and succeed.
head -c $((9 << 20)) /dev/urandom >"$tmp/mid.bin"
key="mpu/lost complete.bin"
# completes: fault:status:code of each CompleteMultipartUpload in the log.
completes() { logq "' '.join(str(e['fault'])+':'+str(e['status'])+':'+str(e['code']) for e in l if e['method']=='POST' and 'uploadId=' in (e['query'] or ''))"; }
faults_clear
log_clear
fault '{"method":"POST","path":"^/raw/mpu/lost complete","query":"uploadId=","action":"drop-response","count":1}'
if "$CP" put s3://raw "$key" "$tmp/mid.bin" 2>"$tmp/cp.err"; then
  c=$(completes)
  heads=$(logq "sum(1 for e in l if e['method']=='HEAD' and e['status']==200)")
  if backend_get raw "$key" "$tmp/mid.back" && cmp -s "$tmp/mid.bin" "$tmp/mid.back" && [ "$(uploads)" = 0 ] \
    && [ "$c" = "drop-response:None:None None:404:NoSuchUpload" ] && [ "$heads" = 1 ] \
    && grep -q "INFO .*answer was lost" "$tmp/cp.err"; then
    ok "Complete's answer lost: the retry's NoSuchUpload is checked by a HEAD, the put succeeds, object byte-identical, no open upload"
  else bad "lost Complete answer" "completes '$c' heads=$heads uploads=$(uploads) cmp=$(cmp "$tmp/mid.bin" "$tmp/mid.back" 2>&1): $(cat "$tmp/cp.err")"; fi
else
  bad "lost Complete answer" "put failed: completes '$(completes)': $(cat "$tmp/cp.err")"
fi
rm -f "$tmp/mid.back"
# The same, but another writer replaces the object (same size, other bytes)
# between the lost Complete and our check: the put must fail, naming
# NoSuchUpload, bucket, key and endpoint. The second Complete is held 10 s
# (timeout fault), in which the object is overwritten by a single PUT.
head -c $((9 << 20)) /dev/urandom >"$tmp/other.bin"
key="mpu/overwritten.bin"
faults_clear
log_clear
fault '{"method":"POST","path":"^/raw/mpu/overwritten","query":"uploadId=","action":"drop-response","count":1}'
fault '{"method":"POST","path":"^/raw/mpu/overwritten","query":"uploadId=","action":"timeout","count":1,"ms":10000}'
S3_READ_TIMEOUT=20 "$CP" put s3://raw "$key" "$tmp/mid.bin" >"$tmp/cp.out" 2>"$tmp/cp.err" &
cp_pid=$!
held=
for _ in $(seq 150); do
  [ "$(completes)" = "drop-response:None:None timeout:None:None" ] && { held=1; break; }
  sleep 0.1
done
other_rc=1
[ -n "$held" ] && S3_PART_SIZE_MB=16 "$CP" put s3://raw "$key" "$tmp/other.bin" 2>"$tmp/other.err" && other_rc=0
wait "$cp_pid"
rc=$?
order=$(logq "[e['method']+':'+str(e['status']) for e in l if e['method'] in ('PUT','HEAD') and 'partNumber=' not in (e['query'] or '')]")
if [ $rc -ne 0 ] && [ "$other_rc" = 0 ] && [ "$order" = "['PUT:200', 'HEAD:200']" ] \
  && grep -q "NoSuchUpload" "$tmp/cp.err" && grep -q "bucket raw" "$tmp/cp.err" && grep -q "$key" "$tmp/cp.err" \
  && grep -q "endpoint $S3_TEST_ENDPOINT" "$tmp/cp.err" && grep -q "not this file" "$tmp/cp.err" \
  && backend_get raw "$key" "$tmp/mid.back" && cmp -s "$tmp/other.bin" "$tmp/mid.back" && [ "$(uploads)" = 0 ]; then
  ok "Complete's answer lost, then the object replaced by another writer: the HEAD shows another SHA-256, the put fails naming NoSuchUpload"
else bad "lost Complete, object replaced" "exit $rc other=$other_rc held=$held order=$order completes '$(completes)' uploads=$(uploads): $(cat "$tmp/cp.err" "$tmp/other.err" 2>/dev/null)"; fi
rm -f "$tmp/mid.back" "$tmp/mid.bin" "$tmp/other.bin"
faults_clear

# ---- 5. a wrong secret: preflight exits 1 naming the S3 error, no secret -------------
out=$(cd "$B" && RAW_STORE=s3://raw PROCESSED_STORE=s3://processed AWS_SECRET_ACCESS_KEY=NotTheS3cretXq7 \
  "$SP" preflight --ds 2024-03-01 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q SignatureDoesNotMatch <<<"$out" && grep -qF "$S3_TEST_ENDPOINT" <<<"$out" \
  && grep -q "bucket raw" <<<"$out" && ! grep -q NotTheS3cretXq7 <<<"$out"; then
  ok "wrong secret: preflight exit 1 naming SignatureDoesNotMatch, bucket and endpoint; secret not printed"
else bad "wrong secret" "exit $rc: $out"; fi
out=$(cd "$B" && RAW_STORE=s3://raw PROCESSED_STORE=s3://processed AWS_ACCESS_KEY_ID=AKIDUNKNOWN \
  "$SP" preflight --ds 2024-03-01 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q InvalidAccessKeyId <<<"$out" && ! grep -q "S3RVER" <<<"${out//AWS_/}"; then
  ok "unknown access key: preflight exit 1 naming InvalidAccessKeyId"
else bad "unknown access key" "exit $rc: $out"; fi
out=$(cd "$B" && RAW_STORE=s3://nosuchbucket PROCESSED_STORE=s3://processed "$SP" preflight --ds 2024-03-01 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "NoSuchBucket" <<<"$out" && grep -q "bucket nosuchbucket" <<<"$out"; then
  ok "missing bucket: preflight exit 1 naming NoSuchBucket and the bucket"
else bad "missing bucket" "exit $rc: $out"; fi

# ---- 5b. other ways to name buckets and credentials ----------------------------
out=$(cd "$B" && S3_BUCKET=raw PROCESSED_BUCKET=processed S3_PREFIX=custom/batch-7 "$SP" stage 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$(backend_status raw "custom/batch-7/West_orders.csv")" = 200 ]; then
  ok "S3_BUCKET / PROCESSED_BUCKET name the stores, S3_PREFIX replaces runs/<ds>/"
else bad "S3_BUCKET and S3_PREFIX" "exit $rc: $(grep ERROR <<<"$out" | head -3)"; fi
out=$(cd "$B" && RAW_STORE=s3://raw/lake/bronze PROCESSED_STORE=s3://processed/lake/silver \
  "$SP" run --ds 2024-03-06 --retries 0 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$(backend_status raw "lake/bronze/runs/2024-03-06/North East=1+2 é_orders.csv")" = 200 ] \
  && [ "$(backend_status processed lake/silver/runs/2024-03-06/_manifest.json)" = 200 ]; then
  ok "s3://bucket/prefix URLs put the lake under that prefix (whole run)"
else bad "URL prefixes" "exit $rc: $(grep ERROR <<<"$out" | head -3)"; fi
# These preflights list runs/2024-03-01/, which holds four objects: the
# max-keys=1 page is truncated (s3rver needs the harness's legacy OpenSSL
# provider for that; paging itself is tested against test_hostile.mjs).
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = NOPE\naws_secret_access_key = nope\n[etl]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$HOME/.aws/credentials"
printf '[profile etl]\nregion = us-east-1\n' >"$HOME/.aws/config"
out=$(cd "$B" && env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION AWS_PROFILE=etl \
  RAW_STORE=s3://raw PROCESSED_STORE=s3://processed "$SP" preflight --ds 2024-03-01 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "AWS_PROFILE=etl: credentials and region from ~/.aws/credentials and ~/.aws/config"
else bad "AWS_PROFILE" "exit $rc: $(grep ERROR <<<"$out" | head -3)"; fi
rm -rf "$HOME/.aws"
out=$(cd "$B" && AWS_ACCESS_KEY_ID=AKIDTEMPORARY AWS_SECRET_ACCESS_KEY=TempSecret9 AWS_SESSION_TOKEN=Sess10nTok3nXyz \
  RAW_STORE=s3://raw PROCESSED_STORE=s3://processed "$SP" preflight --ds 2024-03-01 2>&1)
rc=$?
out2=$(cd "$B" && AWS_ACCESS_KEY_ID=AKIDTEMPORARY AWS_SECRET_ACCESS_KEY=TempSecret9 AWS_SESSION_TOKEN=StaleTok3nAbc \
  RAW_STORE=s3://raw PROCESSED_STORE=s3://processed "$SP" preflight --ds 2024-03-01 2>&1)
rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 1 ] && grep -q InvalidToken <<<"$out2" \
  && ! grep -qE 'StaleTok3nAbc|TempSecret9' <<<"$out2"; then
  ok "AWS_SESSION_TOKEN sent as x-amz-security-token; a stale one: exit 1, InvalidToken, not printed"
else bad "session token" "exit $rc/$rc2: $(grep ERROR <<<"$out$out2" | head -3)"; fi

# ---- 6. injected 503s, SlowDown, resets, a timeout: retried, the run succeeds --------
E=$tmp/retry
mkdir -p "$E/data" && cp -r "$A/data/raw" "$E/data/raw"
faults_clear
log_clear
fault '{"method":"GET","path":"^/raw$","query":"list-type","action":"slowdown","count":1}'
fault '{"method":"PUT","path":"West_orders","action":"503","count":2}'
fault '{"method":"GET","path":"/raw/runs/2024-03-03/South","action":"reset","count":1}'
fault '{"method":"PUT","path":"fact_sales","action":"reset","count":1}'
fault '{"method":"PUT","path":"_manifest","action":"500","count":1}'
fault '{"method":"HEAD","path":"Central","action":"timeout","count":1,"ms":15000}'
if s3run "$E" run --ds 2024-03-03 --retries 0 >"$tmp/e.out" 2>&1; then
  faulted=$(logq "sum(1 for e in l if e.get('fault'))")
  # Each faulted request was answered on another attempt: 2xx, or 404 for a
  # HEAD of an object not staged yet (a timed-out request is logged when its
  # connection drops, after its retry).
  recovered=$(logq "[f['method']+' '+f['path'] for f in l if f.get('fault') and not any(g['method']==f['method'] and g['path']==f['path'] and not g.get('fault') and (200<=(g['status'] or 0)<300 or (g['method']=='HEAD' and g['status']==404)) for g in l)] or 'all'")
  if [ "$faulted" -ge 7 ] && [ "$recovered" = all ] && grep -q "retrying in" "$tmp/e.out"; then
    ok "7 injected faults (SlowDown, 503 x2, resets, 500, timeout) retried; each request then succeeded"
  else bad "retries" "faulted=$faulted recovered=$recovered; $(grep -E 'WARN|ERROR' "$tmp/e.out" | head -5)"; fi
  same_as_local "run with injected faults = local run" "$A" "$E" 2024-03-03 2024-03-01
else
  bad "run with injected faults" "$(grep -E 'ERROR|WARN' "$tmp/e.out" | head -8)"
fi
faults_clear

# ---- 7. persistent faults: the run fails cleanly, nothing half-written ---------------
F=$tmp/persist
mkdir -p "$F/data/raw"
head -c $((12 << 20)) /dev/urandom | base64 -w 100 >"$F/data/raw/Big_orders.csv"
fault '{"method":"PUT","query":"partNumber=2(&|$)","action":"503","count":-1}'
log_clear
out=$(cd "$F" && RAW_STORE=s3://raw PROCESSED_STORE=s3://processed S3_PART_SIZE_MB=5 AWS_MAX_ATTEMPTS=3 \
  "$SP" stage --ds 2024-03-04 2>&1)
rc=$?
aborted=$(logq "sum(1 for e in l if e['method']=='DELETE' and 'uploadId=' in (e['query'] or '') and e['status']==204)")
if [ $rc -eq 1 ] && grep -q "ServiceUnavailable" <<<"$out" && grep -q "after 3 attempts" <<<"$out" \
  && [ "$(backend_status raw runs/2024-03-04/Big_orders.csv)" = 404 ] && [ "$(uploads)" = 0 ] && [ "$aborted" = 1 ]; then
  ok "a part failing for good: exit 1 after 3 attempts, upload aborted, no object, no open upload"
else bad "persistent part fault" "exit $rc aborted=$aborted uploads=$(uploads) head=$(backend_status raw runs/2024-03-04/Big_orders.csv): $(grep ERROR <<<"$out" | head -3)"; fi
faults_clear
# The abort itself failing for good: the log names the upload left open.
fault '{"method":"PUT","query":"partNumber=2(&|$)","action":"503","count":-1}'
fault '{"method":"DELETE","query":"uploadId=","action":"503","count":-1}'
out=$(cd "$F" && RAW_STORE=s3://raw PROCESSED_STORE=s3://processed S3_PART_SIZE_MB=5 AWS_MAX_ATTEMPTS=2 \
  "$SP" stage --ds 2024-03-04 2>&1)
rc=$?
faults_clear
id=$(sed -nE 's/.*upload id ([^ :]+): its parts stay.*/\1/p' <<<"$out" | head -1)
if [ $rc -eq 1 ] && [ -n "$id" ] && [ "$(uploads)" = 1 ]; then
  ok "an abort failing for good: the error log names the open upload"
else bad "failed abort" "exit $rc id='$id' uploads=$(uploads): $(grep ERROR <<<"$out" | head -3)"; fi
code=
if [ -n "$id" ]; then # abort it ourselves, so later checks start with no open upload
  code=$(curl -sS -o "$tmp/abort.out" -w '%{http_code}' -X DELETE --aws-sigv4 "aws:amz:${AWS_REGION}:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$S3_TEST_ENDPOINT/raw/runs/2024-03-04/Big_orders.csv?uploadId=$(enc "$id")")
fi
[ "$(uploads)" = 0 ] || bad "failed abort" "upload '$id' could not be aborted afterwards: HTTP $code $(cat "$tmp/abort.out" 2>/dev/null)"
# Backoff: five attempts of a HEAD answered 503, spaced by full jitter under
# ceilings of 100, 200, 400, 800 ms (plus the request's own time).
fault '{"method":"HEAD","path":"/raw/backoff-probe","action":"503","count":-1}'
log_clear
out=$(AWS_MAX_ATTEMPTS=5 "$CP" stat s3://raw backoff-probe 2>&1)
rc=$?
# The waits the client chose (its log says "retrying in X.XXs") must lie under
# the ceilings, and the server must have seen at least that much between
# attempts; no upper bound on wall-clock gaps (a loaded machine is slow).
waits=$(grep -oE 'attempt [0-9]+ of 5, retrying in [0-9.]+s' <<<"$out" | sed -E 's/.* in ([0-9.]+)s/\1/' | paste -sd,)
gaps=$(logq "' '.join(str(b['time']-a['time']) for a,b in zip(l,l[1:]))")
within=$(logq "len(l)==5 and len([$waits])==4 and all(0 <= w*1000 <= 100*2**i + 5 and b['time']-a['time'] >= w*1000 - 10 for i,(w,(a,b)) in enumerate(zip([$waits], zip(l,l[1:]))))")
if [ $rc -eq 1 ] && grep -q "after 5 attempts" <<<"$out" && [ "$within" = True ]; then
  ok "retries back off with jitter under 100/200/400/800 ms ceilings (waits: $waits s; gaps seen: $gaps ms)"
else bad "backoff" "exit $rc within=$within waits='$waits' gaps='$gaps': $out"; fi
faults_clear
fault '{"method":"PUT","path":"/processed/runs/2024-03-05/fact_sales","action":"reset","count":-1}'
out=$(AWS_MAX_ATTEMPTS=2 s3run "$B" run --ds 2024-03-05 --retries 0 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "fact_sales.parquet" <<<"$out" \
  && [ "$(backend_status processed runs/2024-03-05/fact_sales.parquet)" = 404 ] \
  && [ "$(backend_status processed runs/2024-03-05/_manifest.json)" = 404 ] && [ "$(uploads)" = 0 ]; then
  ok "publishing fails for good: exit 1, no fact_sales.parquet, no manifest (the run is not published)"
else bad "persistent publish fault" "exit $rc: $(grep ERROR <<<"$out" | head -3)"; fi
faults_clear

# ---- 8. hostile answers: clear errors, no crash, bounded memory ----------------------
node tests/s3/test_hostile.mjs "$tmp/hostile.port" &
hostile_pid=$!
for _ in $(seq 100); do [ -s "$tmp/hostile.port" ] && break; sleep 0.05; done
if [ -s "$tmp/hostile.port" ]; then
  H=http://127.0.0.1:$(cat "$tmp/hostile.port")
  hostile() { # NAME EXPECT CMD…
    local name=$1 expect=$2 out rc
    shift 2
    out=$(AWS_ENDPOINT_URL_S3=$H AWS_MAX_ATTEMPTS=2 timeout 60 "$CP" "$@" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && grep -q -- "$expect" <<<"$out" && ! grep -qE 'AddressSanitizer|runtime error' <<<"$out"; then
      ok "hostile server, $name: exit 1, '$expect'"
    else bad "hostile server, $name" "exit $rc: ${out:0:600}"; fi
  }
  hostile "20 MiB listing" "larger than" ls s3://huge
  hostile "unclosed element" "malformed <Contents>" ls s3://badxml
  hostile "entry without Size" "malformed <Contents>" ls s3://nosize
  hostile "same continuation token" "continuation token" ls s3://loop/p
  hostile "continuation tokens in a cycle" "continuation token" ls s3://cycle/p
  hostile "the same page again and again" "out of order or repeated" ls s3://repeat/p
  hostile "key outside the prefix" "outside the prefix" ls s3://outside/p
  hostile "not XML" "not a ListObjectsV2 result" ls s3://notxml
  hostile "truncated body" "partial" get s3://trunc k "$tmp/trunc.out"
  hostile "10 MiB error body" "AccessDenied (HTTP 403): go away" ls s3://errbig
  [ -e "$tmp/trunc.out" ] && bad "truncated get" "left a file behind"
  hostile "body unlike its x-amz-meta-sha256" "x-amz-meta-sha256 says" get s3://badsum k "$tmp/badsum.out"
  [ -e "$tmp/badsum.out" ] && bad "get with a wrong checksum" "left a file behind"
  hostile "a resumed GET answered from the wrong byte" "range starting at 0" get s3://badrange k "$tmp/badrange.out"
  [ -e "$tmp/badrange.out" ] && bad "resumed get from the wrong byte" "left a file behind"
  out=$(AWS_ENDPOINT_URL_S3=$H "$CP" ls s3://paged/p pre/ 2>&1)
  seen=$(curl -s "$H/paged-requests")
  want=$(seq -f 'pre/key-%05g' 0 2499)
  if [ "$(cut -f2 <<<"$out")" = "$want" ] && [ "$seen" = "3 pages, tokens: -,T1000,T2000" ]; then
    ok "ListObjectsV2 paging: 2500 keys in order over 3 pages with continuation tokens"
  else bad "ListObjectsV2 paging" "server saw '$seen'; got $(wc -l <<<"$out") lines: ${out:0:300}"; fi
  out=$(AWS_ENDPOINT_URL_S3=$H AWS_MAX_ATTEMPTS=2 timeout 60 "$CP" ls s3://throttle/p 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && grep -q "TooManyRequests (HTTP 429)" <<<"$out" && grep -q "retrying" <<<"$out" \
    && grep -qP '^3\tone$' <<<"$out"; then
    ok "429 TooManyRequests is retried and the listing then succeeds"
  else bad "429 retried" "exit $rc: ${out:0:400}"; fi
  curl -s -o "$tmp/body.want" "$H/body/k"
  for b in resume norange; do
    rm -f "$tmp/$b.out"
    out=$(AWS_ENDPOINT_URL_S3=$H AWS_MAX_ATTEMPTS=2 "$CP" get "s3://$b" k "$tmp/$b.out" 2>&1)
    if [ -s "$tmp/body.want" ] && cmp -s "$tmp/body.want" "$tmp/$b.out" && grep -q "retrying" <<<"$out"; then
      ok "a GET cut after 600 of 1000 bytes is retried and the file is exact ($b)"
    else bad "GET resumed ($b)" "$(cmp "$tmp/body.want" "$tmp/$b.out" 2>&1) ${out:0:400}"; fi
  done
  ls "$tmp"/.tmp-* >/dev/null 2>&1 && bad "truncated get" "left a temporary file behind"
  kill "$hostile_pid" 2>/dev/null
  wait "$hostile_pid" 2>/dev/null
  hostile_pid=
else
  bad "hostile server" "test_hostile.mjs did not start"
fi

# ---- 8b. every S3 request of a run fails in turn --------------------------------
# A clean run is counted; then for each k the (k+1)-th request and all later
# ones get 500 (one attempt each): the run must exit 1 naming the S3 error,
# leave no open multipart upload, and publish a manifest only with every
# output beside it.
G=$tmp/inturn
mkdir -p "$G/data" && cp -r "$A/data/raw" "$G/data/raw"
faults_clear
log_clear
s3run "$G" run --ds 2024-05-01 --retries 0 >/dev/null 2>&1
n=$(logq "len(l)")
problems="" report_from=""
for ((k = 0; k < n; k++)); do
  ds=$(date -u -d "2024-06-01 +$k days" +%F)
  faults_clear
  fault "{\"action\":\"500\",\"after\":$k,\"count\":-1}"
  out=$(AWS_MAX_ATTEMPTS=1 s3run "$G" run --ds "$ds" --retries 0 2>&1)
  rc=$?
  faults_clear
  # The last requests are the run report's (src/report: read the outputs, put
  # report.html), after every task succeeded: best effort, so the run exits 0
  # with a warning naming the report; once there, every later k is too.
  if [ $rc -eq 0 ] && grep -qE 'WARN  report: ' <<<"$out" && ! grep -qE 'AddressSanitizer|runtime error' <<<"$out"; then
    report_from=${report_from:-$k}
  elif [ $rc -ne 1 ] || [ -n "${report_from:-}" ] || ! grep -qE "InternalError \(HTTP 500\)|HEAD answer|stat .*HTTP 500" <<<"$out" || grep -qE 'AddressSanitizer|runtime error' <<<"$out"; then
    problems+=" k=$k:exit=$rc"
  fi
  [ "$(uploads)" = 0 ] || problems+=" k=$k:open-upload"
  if [ "$(backend_status processed "runs/$ds/_manifest.json")" = 200 ]; then
    for f in $OUTPUTS; do
      [ "$(backend_status processed "runs/$ds/$f")" = 200 ] || problems+=" k=$k:manifest-without-$f"
    done
  fi
done
if [ "${n:-0}" -ge 20 ] && [ -n "${report_from:-}" ] && [ "$report_from" -ge 20 ] && [ -z "$problems" ]; then
  ok "each of the $n S3 requests of a run failing in turn: exit 1 naming the error (InternalError, or HTTP 500 for a HEAD), nothing half-published; the report's own $((n - report_from)) requests only warn"
else bad "requests failing in turn" "n=$n:$problems"; fi

# ---- 9. TLS: certificates are verified; AWS_CA_BUNDLE adds a private CA ---------
tls_pid=
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.crt" -days 1 \
  -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1; then
  node tests/s3/test_tls.mjs "$tmp/tls.key" "$tmp/tls.crt" "${S3_TEST_ENDPOINT##*:}" "$tmp/tls.port" &
  tls_pid=$!
  for _ in $(seq 100); do [ -s "$tmp/tls.port" ] && break; sleep 0.05; done
fi
if [ -n "$tls_pid" ] && [ -s "$tmp/tls.port" ]; then
  T=https://127.0.0.1:$(cat "$tmp/tls.port")
  out=$(AWS_ENDPOINT_URL_S3=$T "$CP" probe s3://processed tls/ 2>&1)
  rc=$?
  if [ $rc -eq 1 ] && grep -qi "certificate" <<<"$out" && ! grep -q "attempts" <<<"$out"; then
    ok "TLS: a self-signed endpoint is refused (certificate error, not retried)"
  else bad "TLS verification" "exit $rc: $out"; fi
  out=$(AWS_ENDPOINT_URL_S3=$T AWS_CA_BUNDLE=$tmp/tls.crt "$CP" probe s3://processed tls/ 2>&1) &&
    AWS_ENDPOINT_URL_S3=$T AWS_CA_BUNDLE=$tmp/tls.crt "$CP" put s3://processed tls/a "$tmp/tls.crt" 2>&1 &&
    backend_get processed tls/a "$tmp/tls.back" && cmp -s "$tmp/tls.crt" "$tmp/tls.back"
  rc=$?
  if [ $rc -eq 0 ]; then ok "TLS: AWS_CA_BUNDLE trusts a private CA (probe and put over https)"
  else bad "AWS_CA_BUNDLE" "$out"; fi
  kill "$tls_pid" 2>/dev/null
  wait "$tls_pid" 2>/dev/null
else
  bad "TLS front" "openssl or tests/s3/test_tls.mjs failed to start"
fi

finish
