#!/usr/bin/env bash
# run.sh — the schedulers' files, loaded and run (issue 15): the Airflow DAG
# file against stand-ins of Airflow's classes (tests/deploy/standins: no
# Airflow here), both DAGs (sales_data_aggregation, classic or mapped by
# SALESPIPE_DAG_MODE, and sales_data_aggregation_mapped) in both runners
# (bash, docker): ids, arguments, tasks, dependencies, the exact commands,
# dynamic task mapping over list-inputs' XCom; then each DAG executed in
# dependency order with the real binary (the docker runner's containers
# emulated) against directory stores and SQLite (gen's demo data), the
# warehouse compared with a plain `salespipe run`'s, also after a failed
# map; and the Kubernetes Jobs' commands run the same way. Ends "N passed,
# N failed".
# shellcheck disable=SC2317 # helpers are run through check(), out of shellcheck's sight
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
dag="$root/airflow/dags/sales_data_pipeline_dag.py"
checks="$root/tests/deploy/dag_checks.py"

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

# The mapped form, both ways of getting it: list-inputs, one transform-map
# instance per input (all at once), the merge, create-tables, load.
n=$(find "$tmp/gen" -name '*_orders.csv' | wc -l)
maps=$(for ((i = 0; i < n; i++)); do printf 'transform-map[%d] ' "$i"; done)
want_mapped="preflight stage list-inputs ${maps}transform-merge create-tables load"
run_dag mapped sales_data_aggregation_mapped
check mapped-order "$(cat "$tmp/mapped/out")" [ "$(cat "$tmp/mapped/out")" = "$want_mapped" ]
check mapped-list-xcom "$(grep -c 'run transform-map' "$tmp/mapped/err") mapping" \
  grep -qF "run transform-map[0..$((n - 1))] at once" "$tmp/mapped/err"
left=$(find "$tmp/mapped/lake/processed" -path '*_parts*' -type f 2>/dev/null)
check mapped-parts-removed "$left" [ -z "$left" ]
run_dag mode-mapped sales_data_aggregation SALESPIPE_DAG_MODE=mapped
check mode-mapped-order "$(cat "$tmp/mode-mapped/out")" [ "$(cat "$tmp/mode-mapped/out")" = "$want_mapped" ]

# The docker runner, its containers emulated by local processes that get
# only the environment the DAG gives them (standins/docker_emulation.py;
# no bind mount, so the stores and the data are absolute paths, passed as
# salespipe's configuration names are).
mkdir -p "$tmp/image-bin" && ln -s "$bin" "$tmp/image-bin/salespipe"
docker_run() { # NAME DAG_ID [NAME=value …]
  local d="$tmp/$1"
  run_dag "$@" PIPELINE_IMAGE=img:1 PATH="$tmp/image-bin:$PATH" DATA_DIR="$d/data" \
    RAW_STORE="$d/lake/raw" PROCESSED_STORE="$d/lake/processed" DATABASE_URL="sqlite:///$d/warehouse.db"
}
docker_run docker-classic sales_data_aggregation
check docker-classic-order "$(cat "$tmp/docker-classic/out")" \
  [ "$(cat "$tmp/docker-classic/out")" = "preflight stage transform create-tables load" ]
docker_run docker-mapped sales_data_aggregation_mapped
check docker-mapped-order "$(cat "$tmp/docker-mapped/out")" [ "$(cat "$tmp/docker-mapped/out")" = "$want_mapped" ]

# A map that fails (East_orders.csv, index 1: a wrapper exits 1 for it): the
# DAG run stops before the merge; the merge run anyway fails naming the
# missing part; rerunning that map (Airflow: "clear" the instance) and one
# that had succeeded (its parts replaced), then the rest, gives the
# warehouse of a plain run.
d="$tmp/recover"
project "$d"
cat >"$tmp/failing-bin" <<EOF
#!/usr/bin/env bash
case " \$* " in *" --map "*) [ "\${SALESPIPE_INPUT:-}" = East_orders.csv ] && exit 1 ;; esac
exec "$bin" "\$@"
EOF
chmod +x "$tmp/failing-bin"
(cd "$d" && py SALESPIPE_BIN="$tmp/failing-bin" -- run sales_data_aggregation_mapped $ds >out 2>err); rc=$?
map_failed() { [ "$rc" -ne 0 ] && grep -q 'transform-map\[1\]: Bash command failed' "$d/err" &&
               ! grep -q 'run transform-merge' "$d/err"; }
check recover-map-fails "exit $rc: $(tail -3 "$d/err")" map_failed
(cd "$d" && "$bin" -q transform --ds $ds --merge >merge.out 2>merge.err); rc=$?
merge_refused() { [ "$rc" -eq 1 ] && grep -q 'East_orders.csv' "$d/merge.err" &&
                  [ ! -e "$d/lake/processed/runs/$ds/_manifest.json" ]; }
check recover-merge-names-part "exit $rc: $(cat "$d/merge.err")" merge_refused
(cd "$d" && "$bin" -q transform --ds $ds --map East_orders.csv && "$bin" -q transform --ds $ds --map West_orders.csv \
   && "$bin" -q transform --ds $ds --merge && "$bin" -q create-tables --ds $ds && "$bin" -q load --ds $ds) \
   >"$d/out" 2>"$d/err"; rc=$?
check recover-rerun "exit $rc: $(tail -3 "$d/err")" [ $rc -eq 0 ]
summary "$d" >"$d.summary" 2>&1
check recover-warehouse "$(diff "$tmp/plain.summary" "$d.summary" | head -c 600)" cmp -s "$tmp/plain.summary" "$d.summary"

# ---- 3. the Kubernetes Jobs' commands, run here -------------------------------
# deploy/k8s/map-job.yaml filled as docs/deploy.md says (INPUTS from
# `transform --list`), one "pod" per index plus one past the end (it logs
# "nothing to map" and succeeds), index 0 twice (a rerun replaces its
# parts); then merge-load-job.yaml's containers in order.
d="$tmp/k8s"
project "$d"
k8s() { (cd "$d" && env -i PATH="$PATH" HOME="$HOME" TMPDIR="${TMPDIR:-/tmp}" \
           ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$@"); }
k8s "$bin" -q preflight --ds $ds >"$d/out" 2>"$d/err" && k8s "$bin" -q stage --ds $ds >>"$d/out" 2>>"$d/err"; rc=$?
check k8s-stage "exit $rc: $(tail -3 "$d/err")" [ $rc -eq 0 ]
INPUTS=$(k8s "$bin" transform --ds $ds --list 2>"$d/list.err" | wc -l)
check k8s-list "INPUTS=$INPUTS, $n files" [ "$INPUTS" -eq "$n" ]
k8s python3 "$root/tests/deploy/k8s_run.py" "$bin" "$root/deploy/k8s/map-job.yaml" $ds "$INPUTS" 1 \
  >"$d/map.out" 2>"$d/map.err"; rc=$?
want=$(for ((i = 0; i <= n; i++)); do echo "$i map 0"; done)
check k8s-map-pods "exit $rc: $(cat "$d/map.out") $(tail -3 "$d/map.err")" [ "$(cat "$d/map.out")" = "$want" ]
check k8s-map-past-end "$(tail -3 "$d/map.err")" grep -q "nothing to map" "$d/map.err"
k8s python3 "$root/tests/deploy/k8s_run.py" "$bin" "$root/deploy/k8s/map-job.yaml" $ds 1 \
  >"$d/remap.out" 2>"$d/remap.err"; rc=$?
check k8s-map-rerun "exit $rc: $(tail -3 "$d/remap.err")" [ "$(cat "$d/remap.out")" = "0 map 0" ]
k8s python3 "$root/tests/deploy/k8s_run.py" "$bin" "$root/deploy/k8s/merge-load-job.yaml" $ds 1 \
  >"$d/merge.out" 2>"$d/merge.err"; rc=$?
check k8s-merge-load "exit $rc: $(cat "$d/merge.out") $(tail -3 "$d/merge.err")" \
  [ "$(cat "$d/merge.out")" = "$(printf -- '- merge 0\n- create-tables 0\n- load 0')" ]
summary "$d" >"$d.summary" 2>&1
check k8s-warehouse "$(diff "$tmp/plain.summary" "$d.summary" | head -c 600)" cmp -s "$tmp/plain.summary" "$d.summary"
# The merge-load pod rerun (Kubernetes' retry): the merge of a run published
# already is a no-op, create-tables and load idempotent: the same warehouse.
k8s python3 "$root/tests/deploy/k8s_run.py" "$bin" "$root/deploy/k8s/merge-load-job.yaml" $ds 1 \
  >"$d/merge2.out" 2>"$d/merge2.err"; rc=$?
check k8s-merge-load-rerun "exit $rc: $(cat "$d/merge2.out") $(tail -3 "$d/merge2.err")" \
  [ "$(cat "$d/merge2.out")" = "$(printf -- '- merge 0\n- create-tables 0\n- load 0')" ]
summary "$d" >"$d.summary" 2>&1
check k8s-warehouse-rerun "$(diff "$tmp/plain.summary" "$d.summary" | head -c 600)" cmp -s "$tmp/plain.summary" "$d.summary"
# load-job.yaml after it: the same warehouse again (create-tables and load are idempotent).
k8s python3 "$root/tests/deploy/k8s_run.py" "$bin" "$root/deploy/k8s/load-job.yaml" $ds 1 \
  >"$d/load.out" 2>"$d/load.err"; rc=$?
check k8s-load-again "exit $rc: $(cat "$d/load.out") $(tail -3 "$d/load.err")" \
  [ "$(cat "$d/load.out")" = "$(printf -- '- create-tables 0\n- load 0')" ]
summary "$d" >"$d.summary" 2>&1
check k8s-warehouse-again "$(diff "$tmp/plain.summary" "$d.summary" | head -c 600)" cmp -s "$tmp/plain.summary" "$d.summary"

# ---- sanitizers: no report in any run's stderr --------------------------------
reports=$(grep -lE 'Sanitizer|runtime error:' "$tmp"/*/*err 2>/dev/null)
check no-sanitizer-reports "$reports" [ -z "$reports" ]

finish
