#!/usr/bin/env bash
# run.sh — the schedulers' files, loaded and run (issue 15): the Airflow DAG
# file against stand-ins of Airflow's classes (tests/deploy/standins: no
# Airflow here), both DAGs (sales_data_aggregation, classic or mapped by
# SALESPIPE_DAG_MODE, and sales_data_aggregation_mapped) in both runners
# (bash, docker): ids, arguments, tasks, dependencies, the exact commands,
# dynamic task mapping over list-inputs' XCom; then the classic DAG executed
# in dependency order with the real binary against directory stores and
# SQLite (gen's demo data), the warehouse compared with a plain
# `salespipe run`'s. Ends "N passed, N failed".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
cd "$(dirname "$0")/../.." || exit 1
SP=${SALESPIPE:-build/san/salespipe}
[ -x "$SP" ] || SP=build/salespipe
root=$(pwd)
bin="$root/$SP"
dag="$root/airflow/dags/sales_data_pipeline_dag.py"
checks="$root/tests/deploy/dag_checks.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); [ -n "${VERBOSE:-}" ] && echo "ok $1"; return 0; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
check() { # NAME DETAIL COMMAND... : ok when COMMAND succeeds
  local name=$1 detail=$2; shift 2
  if "$@"; then ok "$name"; else bad "$name" "$detail"; fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

# py [NAME=value …] -- CHECK ARGS…: dag_checks.py with the stand-ins and a
# clean environment (plus the names given), in the current directory.
py() {
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}" PYTHONPATH="$root/tests/deploy/standins" \
    PYTHONDONTWRITEBYTECODE=1 ALERT_EMAIL=a@example.com,b@example.com \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    "${vars[@]}" python3 "$checks" "$dag" "$@"
}
docker_env=(PIPELINE_IMAGE=img:1 HOST_DATA_DIR=/srv/data DATA_DIR=/srv/data RDS_PASS=pw STATE_DIR=/state)

# ---- 1. the file, loaded against the stand-ins -------------------------------
check dag-compiles "python3 py_compile failed: $dag" python3 -c '
import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' "$dag" "$tmp/dag.pyc"
for mode in classic mapped; do
  check "dag-shape-$mode-bash" "see the traceback above" py SALESPIPE_DAG_MODE=$mode -- shape
  check "dag-shape-$mode-docker" "see the traceback above" py SALESPIPE_DAG_MODE=$mode "${docker_env[@]}" -- shape
done
# Unset is classic; so is an empty value.
check dag-shape-default "see the traceback above" py -- shape
check dag-shape-empty-mode "see the traceback above" py SALESPIPE_DAG_MODE= -- shape
out=$(py SALESPIPE_DAG_MODE=parallel -- shape 2>&1)
check dag-bad-mode "${out:0:400}" grep -q "SALESPIPE_DAG_MODE must be classic or mapped, not 'parallel'" <<<"$out"
check dag-list-docker "see the traceback above" py "${docker_env[@]}" -- list-docker

# ---- 2. the DAGs run with the real binary -------------------------------------
# project DIR: demo data (gen, with dirty rows) in DIR/data/raw, directory
# stores and the SQLite warehouse inside DIR (the defaults, run from DIR).
"$bin" gen --out "$tmp/gen" --rows 300 --dirty >/dev/null 2>&1 || { bad gen "gen failed"; finish; }
project() { mkdir -p "$1/data" && cp -r "$tmp/gen" "$1/data/raw"; }
ds=2024-01-10
# The reference: one plain run.
project "$tmp/plain"
(cd "$tmp/plain" && env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}" \
   "$bin" -q run --ds $ds --retries 0 >out 2>err); rc=$?
check plain-run "exit $rc: $(tail -3 "$tmp/plain/err")" [ $rc -eq 0 ]

# The warehouse's contents, all of it but the per-run ids, and the manifest's
# counts: what a DAG run must leave exactly as the plain run did.
summary() { # DIR
  python3 - "$1" $ds <<'EOF'
import json, sqlite3, sys
d, ds = sys.argv[1], sys.argv[2]
db = sqlite3.connect(d + "/warehouse.db")
q = lambda sql: db.execute(sql).fetchall()
print("counts", q("SELECT (SELECT count(*) FROM fact_sales), (SELECT count(*) FROM dim_date), "
                  "(SELECT count(*) FROM dim_product)"))
print("facts", q("SELECT d.order_date, p.product_id, p.category, f.quantity, f.total_sales, f.profit, "
                 "f.unit_price, f.profit_margin, f.region, f.order_id, f.source_file, f.source_line "
                 "FROM fact_sales f JOIN dim_date d USING (date_id) JOIN dim_product p USING (product_sk) "
                 "ORDER BY f.source_file, f.source_line"))
m = json.load(open("%s/lake/processed/runs/%s/_manifest.json" % (d, ds)))
print("manifest", {k: m[k] for k in ("rows_in", "rows_kept", "rejected", "tables", "sums")})
print("inputs", [(i["file"], i["bytes"], i["sha256"], i["rows"]) for i in m["inputs"]])
EOF
}
summary "$tmp/plain" >"$tmp/plain.summary" 2>"$tmp/plain.summary.err"
check plain-summary "$(head -c 400 "$tmp/plain.summary.err")" \
  grep -qE '^counts \[\([1-9][0-9]*, [1-9][0-9]*, [1-9][0-9]*\)\]$' "$tmp/plain.summary"

# run_dag NAME DAG_ID [NAME=value …]: execute DAG_ID for $ds in $tmp/NAME.
run_dag() {
  local name=$1 dag_id=$2; shift 2
  local d="$tmp/$name"
  project "$d"
  (cd "$d" && py SALESPIPE_BIN="$bin" "$@" -- run "$dag_id" $ds >out 2>err); rc=$?
  check "$name-runs" "exit $rc: $(tail -5 "$d/err")" [ $rc -eq 0 ]
  summary "$d" >"$d.summary" 2>&1
  check "$name-warehouse" "$(diff "$tmp/plain.summary" "$d.summary" | head -c 600)" \
    cmp -s "$tmp/plain.summary" "$d.summary"
}
run_dag classic sales_data_aggregation
check classic-order "$(cat "$tmp/classic/out")" \
  [ "$(cat "$tmp/classic/out")" = "preflight stage transform create-tables load" ]

# ---- sanitizers: no report in any run's stderr --------------------------------
reports=$(grep -lE 'Sanitizer|runtime error:' "$tmp"/*/*err 2>/dev/null)
check no-sanitizer-reports "$reports" [ -z "$reports" ]

finish
