#!/usr/bin/env bash
# run.sh — SPEC §8's daily-operation guarantees of issue 12 on real parts:
# a run's inputs are exactly its staged files (_inputs.json: a file removed
# locally is not read again, a tampered staged copy fails naming it, no
# _inputs.json reads the listing and says so), and the quality gates
# (MIN_ROWS, MAX_REJECT_RATE overall and per file, MAX_ROW_DROP against the
# warehouse's etl_load, QUALITY_SQL inside the load transaction on SQLite
# and on a real PostgreSQL 15 started by tests/postgres/pg.sh, GATE_ACTION,
# --skip-gates) with what they must leave untouched (the processed store,
# the warehouse), the ledger, one alert on a real webhook listener
# (tests/orchestration/sinks.mjs), no retry. Ends "N passed, N failed".
# shellcheck disable=SC2317 # helpers are run through check() and trap, out of shellcheck's sight
set -u
here="$(cd "$(dirname "$0")" && pwd)"
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

# ---- the servers: the webhook listener, PostgreSQL --------------------------------
sinks_start
read -r HP _ <"$tmp/sink/ports"
HOOK="http://127.0.0.1:$HP/hooks/gates"
pg_start
PGURL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB"
pq() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" -c "$1" 2>&1; }

# sp DIR [NAME=value …] -- ARGS…: salespipe in DIR, clean environment, alerts
# to the webhook; stdout DIR/out, stderr DIR/err; sets rc.
sp_env=(ALERT_WEBHOOK_URL="$HOOK" RETRY_DELAY=0)
sp() { sp_clean "$@"; rc=$?; }
project() { rm -rf "${tmp:?}/$1"; mkdir -p "$tmp/$1/data" && echo "$tmp/$1"; }
py() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
manifest() { py "$2" <"$1/lake/processed/runs/$3/_manifest.json"; }
# The run's published outputs (SPEC §6: Parquet, rejects.csv, the manifest)
# as one fingerprint; report.html is every run's report, failed ones too.
outputs() {
  (cd "$1/lake/processed/runs/$2" 2>/dev/null &&
   md5sum ./*.parquet rejects.csv _manifest.json 2>/dev/null | sort)
}
wh() { sqlite3 -batch "$1/warehouse.db" "$2"; }
whstate() { wh "$1" "SELECT count(*), sum(quantity), sum(total_sales) FROM fact_sales; SELECT * FROM etl_load"; }
hooks_for() { # DS: webhook POSTs received for that ds
  [ -f "$tmp/sink/http.log" ] || { echo 0; return; }
  python3 - "$tmp/sink/http.log" "$1" <<'EOF'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(json.loads(l)['body']).get('ds') == sys.argv[2]))
EOF
}
hook_for() { # DS: the last webhook body for that ds
  python3 - "$tmp/sink/http.log" "$1" <<'EOF'
import json, sys
last = None
for l in open(sys.argv[1]):
    b = json.loads(json.loads(l)['body'])
    if b.get('ds') == sys.argv[2]:
        last = b
print(json.dumps(last))
EOF
}
run_json() { # DIR DS: `runs RUN_ID --json` of the latest run of DS
  local id
  id=$(cd "$1" && "${clean_env[@]}" "$bin" runs --json | py "[r['run_id'] for r in d if r['ds']=='$2'][-1]") || return 1
  (cd "$1" && "${clean_env[@]}" "$bin" runs "$id" --json)
}
has() { grep -qF -- "$1" "$2"; }

"$bin" gen --out "$tmp/src" --rows 100 --seed 5 >/dev/null 2>&1 || { bad gen "gen failed"; finish; }
with_data() { mkdir -p "$1/data/raw" && cp "$tmp/src"/*_orders.csv "$1/data/raw/"; }

# ---- 1. a run's inputs are exactly its files ------------------------------------------
d=$(project inputs)
with_data "$d"
DS=2024-02-01
sp "$d" -- stage --ds $DS
staged=$(py "sorted(f['name'] for f in d['files'])" <"$d/lake/raw/runs/$DS/_inputs.json" 2>&1)
check inputs-recorded "exit $rc, $staged" [ "$rc/$staged" = "0/['Central_orders.csv', 'East_orders.csv', 'South_orders.csv', 'West_orders.csv']" ]
sha=$(sha256sum "$d/data/raw/East_orders.csv" | cut -c1-64)
check inputs-digest "$(cat "$d/lake/raw/runs/$DS/_inputs.json")" \
  [ "$(py "[(f['bytes'], f['sha256']) for f in d['files'] if f['name']=='East_orders.csv'][0]" <"$d/lake/raw/runs/$DS/_inputs.json")" = "($(stat -c %s "$d/data/raw/East_orders.csv"), '$sha')" ]
# The README's advice: replace the files. West goes away locally; stage again.
rm "$d/data/raw/West_orders.csv"
sp "$d" -- stage --ds $DS
sp "$d" -- transform --ds $DS
check stale-file-not-read "exit $rc: $(tail -3 "$d/err")" \
  [ "$rc/$(manifest "$d" "sorted(i['file'] for i in d['inputs'])" $DS)/$(manifest "$d" "d['rows_in']" $DS)" = \
    "0/['Central_orders.csv', 'East_orders.csv', 'South_orders.csv']/300" ]
check stale-file-warned "$(grep WARN "$d/err")" \
  grep -q "1 object under ./lake/raw/runs/$DS/ is not in this run's _inputs.json, ignored (not deleted): West_orders.csv" "$d/err"
check stale-file-kept "the staged West copy is gone" [ -f "$d/lake/raw/runs/$DS/West_orders.csv" ]
check input-set-staged "$(manifest "$d" "d.get('input_set')" $DS)" [ "$(manifest "$d" "d.get('input_set')" $DS)" = staged ]

# A staged copy changed after stage (same size): transform fails naming it,
# the published outputs stay as they were.
before=$(outputs "$d" $DS)
cp "$d/lake/raw/runs/$DS/East_orders.csv" "$tmp/east.saved"
sed -i '2s/,\([0-9]\),/,9,/' "$d/lake/raw/runs/$DS/East_orders.csv"
check tamper-same-size "sed changed the size" [ "$(stat -c %s "$d/lake/raw/runs/$DS/East_orders.csv")" = "$(stat -c %s "$tmp/east.saved")" ]
sp "$d" -- transform --ds $DS
check tampered-copy-fails "exit $rc: $(tail -2 "$d/err")" \
  [ "$rc" = 1 ] && has "runs/$DS/East_orders.csv: the staged copy no longer matches _inputs.json" "$d/err"
check tampered-nothing-published "outputs changed" [ "$(outputs "$d" $DS)" = "$before" ]
echo "x" >>"$d/lake/raw/runs/$DS/East_orders.csv"
sp "$d" -- transform --ds $DS
check tampered-size-fails "exit $rc: $(tail -2 "$d/err")" \
  [ "$rc" = 1 ] && has "East_orders.csv: the staged copy has $(($(stat -c %s "$tmp/east.saved") + 2)) bytes, _inputs.json recorded $(stat -c %s "$tmp/east.saved")" "$d/err"
# A staged file of the set deleted from the raw store.
mv "$d/lake/raw/runs/$DS/East_orders.csv" "$tmp/east.moved"
sp "$d" -- transform --ds $DS
check staged-file-missing "exit $rc: $(tail -2 "$d/err")" \
  [ "$rc" = 1 ] && has "East_orders.csv: staged by this run (_inputs.json) but no longer in the raw store" "$d/err"
cp "$tmp/east.saved" "$d/lake/raw/runs/$DS/East_orders.csv"
# Files delivered straight into the raw store: no _inputs.json, the listing.
rm "$d/lake/raw/runs/$DS/_inputs.json"
sp "$d" -- transform --ds $DS
check no-inputs-json-listing "exit $rc: $(grep -i inputs "$d/err")" \
  [ "$rc/$(manifest "$d" "d.get('input_set')" $DS)/$(manifest "$d" "len(d['inputs'])" $DS)" = 0/listing/4 ] && \
  has "no _inputs.json under ./lake/raw/runs/$DS/ (files delivered without stage): reading every object there matching *_orders.csv" "$d/err"
# A hand-edited _inputs.json that is not ours: named, not guessed at.
printf '{"files": [{"name": "East_orders.csv", "bytes": "12"}]}' >"$d/lake/raw/runs/$DS/_inputs.json"
sp "$d" -- transform --ds $DS
check bad-inputs-json "exit $rc: $(tail -1 "$d/err")" \
  [ "$rc" = 1 ] && has "lake/raw/runs/$DS/_inputs.json: a non-negative integer was expected" "$d/err"

# ---- 2. MIN_ROWS: SALES_THRESHOLD=-5 rejects every row -----------------------------------
d=$(project minrows)
with_data "$d"
DS=2024-02-02
sp "$d" -- run --ds $DS
check baseline-run "exit $rc: $(tail -3 "$d/err")" [ "$rc" = 0 ]
wh_before=$(whstate "$d")
out_before=$(outputs "$d" $DS)
sp "$d" SALES_THRESHOLD=-5 RETRIES=2 -- run --ds $DS
run_json "$d" $DS >"$d/run.json"
check min-rows-exit-1 "exit $rc" [ "$rc" = 1 ]
check min-rows-named "$(grep ERROR "$d/err" | head -2)" \
  has "quality gates failed: MIN_ROWS: 0 rows kept, minimum 1 (of 400 rows in)" "$d/err"
check min-rows-warehouse-untouched "$(whstate "$d")" [ "$(whstate "$d")" = "$wh_before" ]
check min-rows-nothing-published "outputs changed" [ "$(outputs "$d" $DS)" = "$out_before" ]
check min-rows-not-retried "$(py "[(t['task'], t['attempts']) for t in d['tasks']]" <"$d/run.json")" \
  [ "$(py "[t['attempts'] for t in d['tasks'] if t['task']=='transform'][0]" <"$d/run.json")" = 1 ]
check min-rows-says-not-retried "$(grep permanent "$d/err")" has "transform: permanent error (data): not retried" "$d/err"
check min-rows-in-ledger "$(cat "$d/run.json")" \
  [ "$(py "[(g['name'], g['figure'], g['threshold'], g['passed']) for t in d['tasks'] if t['task']=='transform' for g in t['gates'] if g['name']=='MIN_ROWS'][0]" <"$d/run.json")" = "('MIN_ROWS', 0, 1, False)" ]
check one-alert "$(hooks_for $DS) POSTs" [ "$(hooks_for $DS)" = 1 ]
hook=$(hook_for $DS)
check alert-names-gate "$hook" \
  [ "$(py "[(g['name'], g['figure'], g['threshold'], g['passed']) for g in d['gates'] if g['name']=='MIN_ROWS'][0]" <<<"$hook")" = "('MIN_ROWS', 0, 1, False)" ]
check alert-text-names-gate "$hook" [ "$(py "'MIN_ROWS: 0 rows kept, minimum 1' in d['text']" <<<"$hook")" = True ]
check summary-names-existing-outputs "$(cat "$d/out")" \
  grep -q "outputs of an earlier transform (not replaced by this run): ./lake/processed/runs/$DS/" "$d/out"
# MIN_ROWS passes at the boundary, fails one above.
sp "$d" MIN_ROWS=400 -- transform --ds $DS
r1=$rc
sp "$d" MIN_ROWS=401 -- transform --ds $DS
check min-rows-boundary "exit $r1 at 400, $rc at 401" [ "$r1/$rc" = 0/1 ]
# A failed run with no outputs at all says so.
e=$(project nooutputs)
with_data "$e"
sp "$e" SALES_THRESHOLD=-5 -- run --ds $DS
check summary-no-outputs "$(cat "$e/out")" grep -q "outputs: none in ./lake/processed/runs/$DS/" "$e/out"
check nothing-published-first-run "$(ls "$e/lake/processed/runs/$DS" 2>&1)" [ ! -e "$e/lake/processed/runs/$DS/_manifest.json" ]

# ---- 3. MAX_REJECT_RATE per file, named with its rate and top reasons ---------------------
d=$(project rejects)
with_data "$d"
DS=2024-02-03
# 40 of West's 100 rows get quantity 0: 10% overall (passes), 40% in West (fails).
python3 - "$d/data/raw/West_orders.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
q = [h.strip().lower() for h in rows[0]].index('quantity')
for r in rows[1:41]:
    r[q] = '0'
csv.writer(open(sys.argv[1], 'w', newline='')).writerows(rows)
EOF
wh_before=$(whstate "$d" 2>/dev/null)
sp "$d" -- run --ds $DS --retries 0
check per-file-rate-fails "exit $rc: $(grep ERROR "$d/err" | head -1)" [ "$rc" = 1 ]
check per-file-rate-named "$(grep ERROR "$d/err" | head -1)" \
  has "MAX_REJECT_RATE (West_orders.csv): 40.00% of rows rejected, maximum 25.00% (40 of 100 rows; top reasons: quantity 40)" "$d/err"
check overall-rate-passed "$(grep 'gate passed' "$d/err")" \
  has "gate passed: MAX_REJECT_RATE: 10.00% of rows rejected, maximum 25.00%" "$d/err"
check per-file-nothing-published "$(ls "$d/lake/processed/runs/$DS" 2>&1)" [ ! -e "$d/lake/processed/runs/$DS/_manifest.json" ]
# GATE_ACTION=warn: the same run goes on, the failure is a warning and recorded.
sp "$d" GATE_ACTION=warn -- run --ds $DS --retries 0
check warn-exit-0 "exit $rc: $(tail -2 "$d/err")" [ "$rc" = 0 ]
check warn-logged "$(grep WARN "$d/err")" has "quality gate failed, going on (GATE_ACTION=warn): MAX_REJECT_RATE (West_orders.csv)" "$d/err"
check warn-in-manifest "$(manifest "$d" "d['gates']" $DS)" \
  [ "$(manifest "$d" "(d['gate_action'], [(g.get('file'), g['passed']) for g in d['gates'] if g['name']=='MAX_REJECT_RATE'])" $DS)" = \
    "('warn', [(None, True), ('West_orders.csv', False)])" ]
check warn-loaded "$(wh "$d" "SELECT count(*) FROM fact_sales")" [ "$(wh "$d" "SELECT count(*) FROM fact_sales")" = 360 ]

# --skip-gates: one run, recorded in the ledger.
sp "$d" -- run --ds $DS --retries 0 --skip-gates
run_json "$d" $DS >"$d/run.json"
check skip-gates-exit-0 "exit $rc: $(tail -2 "$d/err")" [ "$rc" = 0 ]
check skip-gates-in-ledger "$(head -c 400 "$d/run.json")" [ "$(py "d['skip_gates']" <"$d/run.json")" = True ]
check skip-gates-list "$(cd "$d" && "$bin" runs --json 2>&1 | head -c 600)" \
  [ "$(cd "$d" && "${clean_env[@]}" "$bin" runs --json | py "[r['skip_gates'] for r in d if r['ds']=='$DS']")" = "[False, False, True]" ]
check skip-gates-gates-recorded "$(cat "$d/run.json")" \
  [ "$(py "[g['passed'] for t in d['tasks'] if t['task']=='transform' for g in t['gates'] if g.get('file')=='West_orders.csv'][0]" <"$d/run.json")" = False ]
check skip-gates-manifest "$(manifest "$d" "d['gate_action']" $DS)" [ "$(manifest "$d" "d['gate_action']" $DS)" = skipped ]
(cd "$d" && "${clean_env[@]}" "$bin" runs "$(py "d['run_id']" <"$d/run.json")" >"$d/runs.txt" 2>&1)
check skip-gates-text "$(head -5 "$d/runs.txt")" has "quality gates not enforced (--skip-gates)" "$d/runs.txt"
# The task command takes --skip-gates too.
sp "$d" -- transform --ds $DS --skip-gates
check task-skip-gates "exit $rc: $(tail -1 "$d/err")" [ "$rc" = 0 ] && has "going on (--skip-gates)" "$d/err"

# ---- 4. MAX_ROW_DROP against the last load recorded in the warehouse -----------------------
d=$(project rowdrop)
with_data "$d"
DS=2024-02-04
sp "$d" -- run --ds $DS
check rowdrop-first-no-previous "$(grep MAX_ROW_DROP "$d/err")" \
  has "gate passed: MAX_ROW_DROP: 0.00% fewer rows kept, maximum 50.00% (no previous load recorded in sqlite:./warehouse.db)" "$d/err"
check etl-load-recorded "$(wh "$d" "SELECT * FROM etl_load")" \
  [ "$(wh "$d" "SELECT ds, rows_kept FROM etl_load")" = "$DS|400" ]
wh_before=$(whstate "$d")
rm "$d/data/raw/West_orders.csv" "$d/data/raw/East_orders.csv" "$d/data/raw/South_orders.csv"
DS2=2024-02-05
sp "$d" -- run --ds $DS2 --retries 0
check row-drop-fails "exit $rc: $(grep ERROR "$d/err" | head -1)" [ "$rc" = 1 ] && \
  has "MAX_ROW_DROP: 75.00% fewer rows kept, maximum 50.00% (100 rows kept, 400 in the last load: run " "$d/err"
check row-drop-untouched "$(whstate "$d")" [ "$(whstate "$d")" = "$wh_before" ]
hook=$(hook_for $DS2)
check row-drop-alert "$hook" \
  [ "$(py "[(g['figure'], g['threshold'], g['passed']) for g in d['gates'] if g['name']=='MAX_ROW_DROP'][0]" <<<"$hook")" = "(0.75, 0.5, False)" ]
sp "$d" MAX_ROW_DROP=0.8 -- run --ds $DS2 --retries 0
check row-drop-passes-below "exit $rc: $(grep MAX_ROW_DROP "$d/err")" [ "$rc" = 0 ] && \
  [ "$(wh "$d" "SELECT rows_kept FROM etl_load ORDER BY load_id")" = "$(printf '400\n100')" ]

# ---- 5. QUALITY_SQL on SQLite: inside the load, before COMMIT ---------------------------------
d=$(project quality)
with_data "$d"
DS=2024-02-06
sp "$d" -- run --ds $DS
wh_before=$(whstate "$d")
cat >"$d/checks.sql" <<'SQL'
-- name: facts have a date
SELECT sale_id FROM fact_sales f LEFT JOIN dim_date d ON d.date_id = f.date_id
 WHERE d.date_id IS NULL;
-- a comment; with a semicolon, and a string ';' below
-- name: no big orders
SELECT sale_id, quantity, ';' AS why FROM fact_sales WHERE quantity >= 9 ORDER BY sale_id;
SQL
big=$(wh "$d" "SELECT count(*) FROM fact_sales WHERE quantity >= 9")
first=$(wh "$d" "SELECT sale_id, quantity FROM fact_sales WHERE quantity >= 9 ORDER BY sale_id LIMIT 1" | sed 's/|/, quantity=/')
sp "$d" QUALITY_SQL=checks.sql -- run --ds $DS --retries 2
run_json "$d" $DS >"$d/run.json"
check quality-sqlite-fails "exit $rc ($big big orders): $(grep ERROR "$d/err" | head -1)" [ "$rc" = 1 ] && [ "$big" -gt 5 ]
check quality-sqlite-names-check "$(grep ERROR "$d/err" | head -1)" \
  has "QUALITY_SQL (no big orders): $big rows returned, maximum 0 (line 6 of checks.sql; {sale_id=$first, why=;}" "$d/err"
check quality-sqlite-five-rows "$(grep ERROR "$d/err" | head -1)" \
  [ "$(grep -m1 'QUALITY_SQL (no big orders)' "$d/err" | grep -o '{sale_id=' | wc -l)" = 5 ]
check quality-sqlite-rolled-back "$(whstate "$d")" [ "$(whstate "$d")" = "$wh_before" ]
check quality-sqlite-not-retried "$(head -c 300 "$d/run.json")" \
  [ "$(py "[t['attempts'] for t in d['tasks'] if t['task']=='load'][0]" <"$d/run.json")" = 1 ]
check quality-in-ledger "$(cat "$d/run.json")" \
  [ "$(py "[(g['check'], g['passed']) for t in d['tasks'] if t['task']=='load' for g in t['gates']]" <"$d/run.json")" = \
    "[('facts have a date', True), ('no big orders', False)]" ]
sed -i 's/quantity >= 9/quantity > 1000/' "$d/checks.sql"
sp "$d" QUALITY_SQL=checks.sql -- run --ds $DS
check quality-sqlite-passes "exit $rc: $(grep -i quality "$d/err" | tail -2)" [ "$rc" = 0 ] && \
  has "gate passed: QUALITY_SQL (no big orders): 0 rows returned" "$d/err"
sp "$d" QUALITY_SQL=missing.sql -- load --ds $DS
check quality-file-unreadable "exit $rc: $(tail -1 "$d/err")" [ "$rc" = 1 ] && \
  has "QUALITY_SQL missing.sql: No such file or directory" "$d/err"
printf -- '-- name: broken\nSELECT nope FROM fact_sales;\n' >"$d/broken.sql"
wh_before=$(whstate "$d")
sp "$d" QUALITY_SQL=broken.sql -- load --ds $DS
check quality-statement-fails "exit $rc: $(tail -1 "$d/err")" [ "$rc" = 1 ] && \
  has "QUALITY_SQL broken.sql: check 'broken' (line 2)" "$d/err" && has "nope" "$d/err" && \
  [ "$(whstate "$d")" = "$wh_before" ]

# ---- 6. PostgreSQL: QUALITY_SQL rolls back; MAX_ROW_DROP against its etl_load; deferral ----
d=$(project pg)
with_data "$d"
DS=2024-02-07
sp "$d" DATABASE_URL="$PGURL" -- run --ds $DS
check pg-baseline "exit $rc: $(tail -2 "$d/err")" [ "$rc" = 0 ]
pgstate() { pq "SELECT count(*), sum(quantity), sum(total_sales) FROM fact_sales; SELECT load_id, run_id, ds, rows_kept FROM etl_load ORDER BY load_id"; }
pg_before=$(pgstate)
check pg-etl-load "$pg_before" [ "$(pq "SELECT ds || ' ' || rows_kept FROM etl_load")" = "$DS 400" ]
big=$(pq "SELECT count(*) FROM fact_sales WHERE quantity >= 9")
cat >"$d/pg.sql" <<'SQL'
-- name: no big orders
SELECT sale_id, quantity FROM fact_sales WHERE quantity >= 9 ORDER BY sale_id
SQL
sp "$d" DATABASE_URL="$PGURL" QUALITY_SQL=pg.sql -- run --ds $DS --retries 0
check pg-quality-fails "exit $rc: $(grep ERROR "$d/err" | head -1)" [ "$rc" = 1 ] && \
  has "QUALITY_SQL (no big orders): $big rows returned, maximum 0 (line 2 of pg.sql; {sale_id=" "$d/err"
check pg-quality-rolled-back "$(pgstate)" [ "$(pgstate)" = "$pg_before" ]
# MAX_ROW_DROP reads PostgreSQL's etl_load.
rm "$d/data/raw/West_orders.csv" "$d/data/raw/East_orders.csv" "$d/data/raw/South_orders.csv"
sp "$d" DATABASE_URL="$PGURL" -- run --ds 2024-02-08 --retries 0
check pg-row-drop "exit $rc: $(grep ERROR "$d/err" | head -1)" [ "$rc" = 1 ] && \
  has "MAX_ROW_DROP: 75.00% fewer rows kept, maximum 50.00% (100 rows kept, 400 in the last load: run " "$d/err" && \
  [ "$(pgstate)" = "$pg_before" ]
# The warehouse unreachable at transform: MAX_ROW_DROP is left to load,
# which checks it before its transaction begins.
sp "$d" DATABASE_URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:1/$PG_DB" -- stage --ds 2024-02-08
sp "$d" DATABASE_URL="postgresql://$PG_USER:$PG_PASS@127.0.0.1:1/$PG_DB" -- transform --ds 2024-02-08
check pg-deferred-transform "exit $rc: $(grep MAX_ROW_DROP "$d/err")" [ "$rc" = 0 ] && \
  has "MAX_ROW_DROP: the warehouse cannot be read now" "$d/err" && \
  [ "$(manifest "$d" "d['row_drop_deferred']" 2024-02-08)" = 1 ]
sp "$d" DATABASE_URL="$PGURL" -- load --ds 2024-02-08
check pg-deferred-load-fails "exit $rc: $(grep -i 'error\|gate' "$d/err" | head -2)" [ "$rc" = 1 ] && \
  has "MAX_ROW_DROP: 75.00% fewer rows kept" "$d/err" && [ "$(pgstate)" = "$pg_before" ]
sp "$d" DATABASE_URL="$PGURL" MAX_ROW_DROP=0.9 -- load --ds 2024-02-08
check pg-deferred-load-passes "exit $rc: $(tail -2 "$d/err")" [ "$rc" = 0 ] && \
  [ "$(pq "SELECT rows_kept FROM etl_load ORDER BY load_id DESC LIMIT 1")" = 100 ]

finish
