#!/usr/bin/env bash
# run-demo.sh — what `make run` does after building: when $DATA_DIR/raw
# (./data/raw) holds no input files, generate demo regional files with
# `salespipe gen`; then run the whole pipeline on the configuration in
# effect (embedded defaults: ./lake and ./warehouse.db) and say where the
# results are, with one example query.
set -u
sp=${1:-build/salespipe}
"$sp" --version
config=$("$sp" config) || exit 2 # the effective values, secrets masked
setting() { awk -v n="$1" '$1==n{print $3}' <<<"$config"; }
data_dir=$(setting DATA_DIR)
processed=$(setting PROCESSED_STORE)
db=$(setting DATABASE_URL) # masked by `config`
ds=$(date -u +%F)
if ! ls "$data_dir"/raw/*_orders.csv >/dev/null 2>&1; then
  echo "no input files in $data_dir/raw: generating demo data with 'salespipe gen'"
  "$sp" gen --out "$data_dir/raw" --rows 2500 --seed 1 || exit 1
fi
"$sp" run --ds "$ds"
rc=$?
[ $rc -eq 0 ] || exit $rc
query="SELECT p.category, d.year, ROUND(SUM(f.total_sales), 2) AS sales
                        FROM fact_sales f JOIN dim_product p USING (product_sk)
                        JOIN dim_date d USING (date_id) GROUP BY 1, 2 ORDER BY 1, 2;"
# Suggest only what works here: the SQL client when it is installed (the
# build needs neither sqlite3 nor psql), else how to get it.
case "$db" in
  postgres*) tool=psql; pkg=postgresql-client; client="psql \"\$DATABASE_URL\" -c" ;; # the URL as set (config masks it)
  *) tool=sqlite3; pkg=sqlite3; file=${db#sqlite:///}; client="sqlite3 ${file:-warehouse.db}" ;;
esac
if command -v "$tool" >/dev/null 2>&1; then
  sql="  $client \"$query\""
else
  sql="  (SQL needs the $tool client: sudo apt-get install $pkg; then:)
  $client \"$query\""
fi
cat <<TXT

Where the results are:
  raw lake (bronze):       $(setting RAW_STORE)/runs/$ds/
  processed lake (silver): $processed/runs/$ds/  (Parquet, rejects.csv, _manifest.json)
  warehouse (gold):        ${db:-./warehouse.db (SQLite)}
  run history:             $(setting STATE_DIR)/ledger.db  ($sp runs)

Look inside:
  $sp inspect $processed/runs/$ds/fact_sales.parquet --head 5
  $sp inspect $processed/runs/$ds/dim_product.parquet --csv --head 10
  $sp runs
$sql
TXT
