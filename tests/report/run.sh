#!/usr/bin/env bash
# run.sh — what a run leaves for operators (issue 14): the HTML run report
# in headless Chromium (tests/report/browser.mjs: no console error, no
# request but the file, charts equal to the manifest, a hostile product id
# and category that stay text, a screenshot kept under build/report-shots/),
# METRICS_FILE parsed by Prometheus' own Python parser (Debian's
# python3-prometheus-client), and OpenLineage RunEvents received by a
# loopback HTTP sink (tests/orchestration/sinks.mjs) and written to a file,
# their required fields checked. Runs succeed, fail and lose their lineage
# sink, and once on S3 (s3rver behind the tests/s3 proxy: the report lands
# in the bucket, its facts read through a download). A missing chromium, node
# or parser is a failure, never a skip.
# Ends "N passed, N failed".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
shots="$root/build/report-shots"
stop_s3() { [ ! -d "$tmp/s3srv" ] || tests/s3/server.sh stop "$tmp/s3srv" >/dev/null 2>&1; }
at_exit stop_s3

# ---- prerequisites: all of them, or fail -----------------------------------
[ -x "$bin" ] || { bad build "$bin is missing (make)"; finish; }
[ -x /usr/bin/chromium ] || { bad chromium "/usr/bin/chromium is not installed (make deps: deps/test.txt)"; finish; }
command -v node >/dev/null || { bad node "node is not installed (make deps)"; finish; }
# Debian's python3 (where python3-prometheus-client lives), not another on the PATH
debian_python=/usr/bin/python3
"$debian_python" -c 'import prometheus_client' 2>/dev/null ||
  { bad prometheus-client "python3-prometheus-client is not installed for $debian_python (make deps)"; finish; }
if [ ! -f tests/report/node_modules/playwright-core/package.json ]; then
  (cd tests/report && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { bad npm "npm ci in tests/report failed (is the npm registry reachable?)"; finish; }
fi
mkdir -p "$shots"

# ---- the lineage sink -----------------------------------------------------------
mkdir -p "$tmp/sink"
node tests/orchestration/sinks.mjs "$tmp/sink" 2>"$tmp/sink.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/sink/ports" ] && break; sleep 0.1; done
[ -s "$tmp/sink/ports" ] || { bad sink "the HTTP sink did not start: $(cat "$tmp/sink.err")"; finish; }
read -r HP _ <"$tmp/sink/ports"
OL_TOKEN=L1neageT0ken5z
OL_URL="http://127.0.0.1:$HP/api/v1/lineage?token=$OL_TOKEN"

# ---- data: demo files and one hostile file ----------------------------------------
d=$tmp/p
mkdir -p "$d/data"
"$bin" gen --out "$d/data/raw" --rows 300 --dirty >/dev/null 2>&1 || { bad gen "gen failed"; finish; }
HOSTILE_PID='<script>window.__pwned=1;alert(1)</script>'
HOSTILE_CAT='<img src=x onerror="window.__pwned=2">'
python3 - "$d/data/raw/West_orders.csv" "$d/data/raw/Alpha_orders.csv" "$HOSTILE_PID" "$HOSTILE_CAT" <<'EOF'
import csv, sys
src, dst, pid, cat = sys.argv[1:]
with open(src, newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f))
head, body = rows[0], rows[1:4]
ip, ic, iq = head.index('Product ID'), head.index('Category'), head.index('Quantity')
kept = list(body[0]); kept[ip] = pid; kept[ic] = cat
rejected = list(body[1]); rejected[ip] = pid; rejected[iq] = 'many'
with open(dst, 'w', newline='', encoding='utf-8') as f:
    csv.writer(f).writerows([head, kept, rejected, body[2]])
EOF

clean_env=(env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}"
           ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
# sp [NAME=value …] -- ARGS…: salespipe in $d, clean environment; output in $d/out, $d/err
sp() {
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  # MAX_REJECT_RATE: the hostile file rejects 1 of its 3 rows, above the
  # default 25% of the quality gates (SPEC §8).
  (cd "$d" && exec "${clean_env[@]}" METRICS_FILE="$d/metrics/salespipe.prom" \
    OPENLINEAGE_URL="$OL_URL" OPENLINEAGE_FILE="$d/lineage.jsonl" OPENLINEAGE_NAMESPACE=test-ns \
    MAX_REJECT_RATE=0.5 "${vars[@]}" "$bin" "$@" >"$d/out" 2>"$d/err")
}
mkdir -p "$d/metrics"
run_dir() { echo "$d/lake/processed/runs/$1"; }

# ---- 1. a successful run ------------------------------------------------------------
sp -- run --ds 2026-03-01 --retries 0
rc=$?
check run-succeeds "exit $rc: $(tail -5 "$d/err")" [ "$rc" -eq 0 ]
r1=$(run_dir 2026-03-01)
check report-written "no $r1/report.html: $(grep -i report "$d/err")" [ -s "$r1/report.html" ]
check report-logged "$(cat "$d/err")" grep -q "report: .*runs/2026-03-01/report.html" "$d/err"
check no-token-in-logs "the lineage token leaked" bash -c "! grep -q '$OL_TOKEN' '$d/err' '$d/out'"
check report-config-masked "$(grep -o 'OPENLINEAGE_URL.\{0,120\}' "$r1/report.html")" \
  bash -c "grep -q 'OPENLINEAGE_URL' '$r1/report.html' && ! grep -q '$OL_TOKEN' '$r1/report.html'"
cp "$d/metrics/salespipe.prom" "$tmp/metrics1.prom"
cp "$r1/_manifest.json" "$tmp/manifest1.json"
cp "$d/lineage.jsonl" "$tmp/lineage1.jsonl"

# Prometheus' own parser reads the file; figures equal the manifest's.
prom_check() { # METRICS MANIFEST WANT_SUCCESS MIN_LAST_SUCCESS
  "$debian_python" - "$@" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
path, manifest, want_ok, min_last = sys.argv[1], sys.argv[2], sys.argv[3] == '1', float(sys.argv[4])
fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
def one(name, **labels):
    got = [s.value for s in fams[name].samples if s.labels == labels]
    assert len(got) == 1, (name, labels, fams[name].samples)
    return got[0]
for f in fams.values():
    assert f.documentation and f.type == 'gauge', f
    for s in f.samples:
        assert not set(s.labels) & {'ds', 'run_id'}, s
assert one('salespipe_run_success') == (1 if want_ok else 0)
assert one('salespipe_run_outcome', outcome='succeeded') == (1 if want_ok else 0)
assert one('salespipe_run_outcome', outcome='failed') == (0 if want_ok else 1)
assert one('salespipe_last_success_timestamp_seconds') >= min_last > 0
assert one('salespipe_run_duration_seconds') > 0
assert one('salespipe_task_attempts', task='transform') >= 1
assert one('salespipe_task_duration_seconds', task='transform') > 0
if manifest != '-':
    m = json.load(open(manifest))
    assert one('salespipe_rows_in') == m['rows_in']
    assert one('salespipe_rows_kept') == m['rows_kept']
    for reason, n in m['rejected'].items():
        assert one('salespipe_rows_rejected', reason=reason) == n, reason
    assert one('salespipe_input_bytes') == sum(i['bytes'] for i in m['inputs'])
    assert one('salespipe_table_rows', table='fact_sales') == m['tables']['fact_sales']
print(one('salespipe_last_success_timestamp_seconds'))
EOF
}
last1=$(prom_check "$tmp/metrics1.prom" "$r1/_manifest.json" 1 1 2>"$tmp/prom.err")
check metrics-parsed-equal-manifest "$(cat "$tmp/prom.err")" [ -n "$last1" ]
check metrics-atomic-no-debris "$(ls -a "$d/metrics")" \
  bash -c "[ \"\$(ls -A '$d/metrics')\" = salespipe.prom ]"

# OpenLineage: START then COMPLETE, required fields, figures of the manifest.
ol_check() { # EVENTS.jsonl MANIFEST TYPES NAMESPACE
  python3 - "$@" <<'EOF'
import json, re, sys
path, manifest, types, ns = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4]
events = [json.loads(l) for l in open(path)]
assert [e['eventType'] for e in events] == types, [e['eventType'] for e in events]
uuid = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
iso = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
def facet_ok(f):
    assert f['_producer'] and f['_schemaURL'].startswith('https://openlineage.io/spec/'), f
for e in events:
    for k in ('eventType', 'eventTime', 'run', 'job', 'producer', 'schemaURL'):
        assert k in e, k
    assert iso.match(e['eventTime']), e['eventTime']
    assert uuid.match(e['run']['runId']), e['run']['runId']
    assert e['job'] == {'namespace': ns, 'name': 'sales_data_aggregation'}, e['job']
    assert e['schemaURL'].startswith('https://openlineage.io/spec/2-0-2/OpenLineage.json'), e['schemaURL']
    for f in e['run'].get('facets', {}).values():
        facet_ok(f)
    for ds in e.get('inputs', []) + e.get('outputs', []):
        assert ds['namespace'] and ds['name'], ds
        for group in ('facets', 'inputFacets', 'outputFacets'):
            for f in ds.get(group, {}).values():
                facet_ok(f)
assert len({e['run']['runId'] for e in events}) == 1
end = events[-1]
if manifest != '-':
    m = json.load(open(manifest))
    names = [i['name'] for i in end['inputs']]
    assert names == ['runs/%s/%s' % (m['ds'], i['file']) for i in m['inputs']], names
    outs = {o['name']: o for o in end['outputs']}
    fact = outs['runs/%s/fact_sales.parquet' % m['ds']]
    assert fact['outputFacets']['outputStatistics']['rowCount'] == m['tables']['fact_sales']
    assert fact['outputFacets']['outputStatistics']['size'] > 0
    dq = fact['facets']['dataQualityMetrics']
    assert dq['rowCount'] == m['rows_kept'] and dq['rowsIn'] == m['rows_in']
    assert dq['rejectedByReason'] == m['rejected'], dq['rejectedByReason']
    assert all(c['nullCount'] == 0 for c in dq['columnMetrics'].values())
    rej = outs['runs/%s/rejects.csv' % m['ds']]
    assert rej['outputFacets']['outputStatistics']['rowCount'] == sum(m['rejected'].values())
    if end['eventType'] == 'COMPLETE':
        assert 'fact_sales' in outs, list(outs)  # the warehouse table
if end['eventType'] == 'FAIL':
    assert end['run']['facets']['errorMessage']['message'], end['run']['facets']
EOF
}
check lineage-file-start-complete "$(ol_check "$tmp/lineage1.jsonl" "$r1/_manifest.json" START,COMPLETE test-ns 2>&1)" \
  ol_check "$tmp/lineage1.jsonl" "$r1/_manifest.json" START,COMPLETE test-ns
# The HTTP sink got the same two events, as the OpenLineage HTTP transport sends them.
python3 - "$tmp/sink/http.log" "$tmp/http1.jsonl" "$OL_TOKEN" <<'EOF'
import json, sys
with open(sys.argv[2], 'w') as out:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        assert r['method'] == 'POST' and r['url'] == '/api/v1/lineage?token=' + sys.argv[3], r['url']
        assert r['headers']['content-type'] == 'application/json', r['headers']
        out.write(r['body'] + '\n')
EOF
check lineage-http-post "$(head -c 600 "$tmp/sink/http.log" 2>&1)" \
  ol_check "$tmp/http1.jsonl" "$r1/_manifest.json" START,COMPLETE test-ns

# ---- 2. a failed run (the warehouse cannot be created): report, metrics, FAIL -----
# From stage on, so preflight does not stop it first; the warehouse's folder
# is a file, which even root cannot write into.
: >"$d/lineage.jsonl"
: >"$d/notadir"
sp DATABASE_URL="sqlite:///$d/notadir/warehouse.db" -- run --ds 2026-03-02 --from stage \
  --retries 1 --retry-delay 0
rc=$?
check failed-run-exits-1 "exit $rc: $(tail -3 "$d/err")" [ "$rc" -eq 1 ]
r2=$(run_dir 2026-03-02)
check failed-run-has-report "no $r2/report.html" [ -s "$r2/report.html" ]
last2=$(prom_check "$d/metrics/salespipe.prom" "$r2/_manifest.json" 0 "$last1" 2>"$tmp/prom.err")
check metrics-failed-run-keeps-last-success "$(cat "$tmp/prom.err") ($last2 vs $last1)" [ "$last2" = "$last1" ]
check lineage-fail-event "$(ol_check "$d/lineage.jsonl" "$r2/_manifest.json" START,FAIL test-ns 2>&1)" \
  ol_check "$d/lineage.jsonl" "$r2/_manifest.json" START,FAIL test-ns

# ---- 3. gates in the manifest are shown (as the quality gates record them) ------------
python3 - "$r1/_manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m['gates'] = [{'name': 'min_rows', 'figure': m['rows_kept'], 'threshold': 1, 'passed': True},
              {'name': 'max_reject_rate', 'figure': 0.0312, 'threshold': 0.01, 'passed': False}]
json.dump(m, open(sys.argv[1], 'w'))
EOF
sp -- report --ds 2026-03-01 --out "$tmp/gates.html"
check report-command-out "$(cat "$d/err")" [ -s "$tmp/gates.html" ]
id1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$r1/_manifest.json")
sp -- report "$id1"
check report-command-stdout "$(head -c 300 "$d/out")" grep -q "<h1>salespipe run $id1" "$d/out"
sp -- report --ds 1999-01-01
rc=$?
check report-unknown-ds "exit $rc: $(cat "$d/err")" \
  bash -c "[ $rc -eq 1 ] && grep -q 'no run of ds 1999-01-01' '$d/err'"

# ---- 4. a lineage sink that is down: a warning, the run succeeds, no secret ------
sp OPENLINEAGE_URL="http://ol-user:Pa55wordXy@127.0.0.1:1/api/v1/lineage?token=$OL_TOKEN" OPENLINEAGE_FILE= \
  -- run --ds 2026-03-03 --retries 0
rc=$?
check lineage-sink-down-run-succeeds "exit $rc: $(tail -3 "$d/err")" [ "$rc" -eq 0 ]
check lineage-sink-down-warns "$(grep -i lineage "$d/err")" grep -q "WARN.*lineage: START event: OPENLINEAGE_URL" "$d/err"
check lineage-sink-down-no-secret "$(grep -i lineage "$d/err")" \
  bash -c "! grep -qE 'Pa55wordXy|$OL_TOKEN' '$d/err' '$d/out'"

# ---- 5. a run that fails before transform: a report that says why it has no figures --
sp DATA_DIR="$d/no-such-folder" -- run --ds 2026-03-04 --retries 0
rc=$?
r4=$(run_dir 2026-03-04)
check early-failure-has-report "exit $rc, no $r4/report.html: $(tail -3 "$d/err")" \
  bash -c "[ $rc -eq 1 ] && [ -s '$r4/report.html' ]"

# ---- 6. on S3 (s3rver behind the tests/s3 proxy): the report goes to the bucket,
# its facts read through a download; lineage datasets name the buckets ----------
s3ok=0
if S3_TEST_WATCH_PID=$$ S3_TEST_BUCKETS="raw processed" tests/s3/server.sh start "$tmp/s3srv" \
  >"$tmp/s3start.log" 2>&1; then
  s3env=()
  backend=
  while IFS= read -r line; do
    case "$line" in
      AWS_*=*) s3env+=("$line") ;;
      S3_TEST_ENDPOINT=*) s3env+=("AWS_ENDPOINT_URL_S3=${line#*=}") ;;
      S3_TEST_BACKEND=*) backend=${line#*=} ;;
    esac
  done <"$tmp/s3srv/env"
  : >"$d/lineage.jsonl"
  sp "${s3env[@]}" RAW_STORE=s3://raw PROCESSED_STORE=s3://processed -- run --ds 2026-03-05 --retries 0
  rc=$?
  mkdir -p "$tmp/s3out"
  for f in report.html _manifest.json; do
    curl -sS --fail --max-time 60 -o "$tmp/s3out/$f" "$backend/processed/runs/2026-03-05/$f" 2>>"$tmp/s3get.err"
  done
  check s3-run-report-in-bucket "exit $rc: $(tail -3 "$d/err") $(cat "$tmp/s3get.err" 2>/dev/null)" \
    bash -c "[ $rc -eq 0 ] && [ -s '$tmp/s3out/report.html' ] && [ -s '$tmp/s3out/_manifest.json' ]"
  s3ok=1
  s3_lineage() {
    python3 - "$d/lineage.jsonl" <<'EOF'
import json, sys
end = [json.loads(l) for l in open(sys.argv[1])][-1]
assert end['eventType'] == 'COMPLETE', end['eventType']
assert end['inputs'] and all(i['namespace'] == 's3://raw' for i in end['inputs']), end['inputs']
assert any(o['namespace'] == 's3://processed' for o in end['outputs']), end['outputs']
EOF
  }
  check s3-lineage-namespaces "$(s3_lineage 2>&1)" s3_lineage
else
  bad s3-harness "tests/s3/server.sh start failed: $(tail -5 "$tmp/s3start.log")"
fi

# ---- 7. the reports in Chromium ----------------------------------------------------------
python3 - "$tmp/spec.json" "$r1" "$r2" "$tmp/gates.html" "$shots" "$HOSTILE_PID" "$HOSTILE_CAT" \
  "$tmp/manifest1.json" "$r4" "$s3ok" "$tmp/s3out" <<'EOF'
import json, sys
spec, r1, r2, gates, shots, pid, cat, manifest1, r4, s3ok, s3out = sys.argv[1:]
regions = ['Central', 'East', 'South', 'West']  # gen's files (the hostile rows are West's)
json.dump([
    {'name': 'success', 'report': r1 + '/report.html', 'manifest': manifest1, 'screenshot': shots + '/success.png',
     'expect': {'outcome': 'succeeded', 'attempts_min': 5, 'hostile': [pid, cat], 'regions': regions}},
    {'name': 'failed', 'report': r2 + '/report.html', 'manifest': r2 + '/_manifest.json',
     'screenshot': shots + '/failed.png',
     'expect': {'outcome': 'failed', 'attempts_min': 4, 'failed_attempts_min': 2,
                'error_text': 'notadir', 'hostile': [pid, cat], 'regions': regions}},
    {'name': 'gates', 'report': gates, 'manifest': r1 + '/_manifest.json', 'screenshot': shots + '/gates.png',
     'expect': {'outcome': 'succeeded', 'attempts_min': 5, 'hostile': [pid, cat]}},
    {'name': 'early-failure', 'report': r4 + '/report.html', 'manifest': None,
     'screenshot': shots + '/early-failure.png',
     'expect': {'outcome': 'failed', 'attempts_min': 1, 'failed_attempts_min': 1,
                'error_text': 'no-such-folder'}},
] + ([{'name': 's3', 'report': s3out + '/report.html', 'manifest': s3out + '/_manifest.json',
       'screenshot': shots + '/s3.png',
       'expect': {'outcome': 'succeeded', 'attempts_min': 5, 'hostile': [pid, cat], 'regions': regions}}]
     if s3ok == '1' else []), open(spec, 'w'))
EOF
node tests/report/browser.mjs "$tmp/spec.json" >"$tmp/browser.out" 2>&1
brc=$?
cat "$tmp/browser.out"
bp=$(grep -c '^ok ' "$tmp/browser.out")
bf=$(grep -c '^FAIL ' "$tmp/browser.out")
pass=$((pass + bp)); fail=$((fail + bf))
if [ "$brc" -ne 0 ] && [ "$bf" -eq 0 ]; then bad browser "browser.mjs exited $brc"; fi
[ "$bp" -gt 0 ] || bad browser "browser.mjs checked nothing"
finish
