#!/usr/bin/env bash
# postgres.sh — `make bench`: the PostgreSQL load, 2 M facts into the star
# schema on a throwaway PostgreSQL 15 (tests/postgres/pg.sh), against, in the
# same run and on the same server:
#   reference  the reference system's method: psql \copy of CSV into the
#              dimensions and a temporary staging table, then INSERT … SELECT
#              joining the dimensions, one transaction, constraints in place;
#   limit      a server-side binary COPY FROM a file into a bare table (no
#              keys, no indexes): what the server alone needs for the rows.
# Only the load is timed (transform runs once before). Prints the times and
# the ratios; a benchmark, never a test: it asserts nothing about time.
# BENCH_PG_ROWS overrides gen's --rows (500000 → about 2 M facts); BENCH_PG_RUNS
# how often our load and the limit run (the best and the median are shown).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${BENCH_PG_ROWS:-500000}
runs=${BENCH_PG_RUNS:-3}
sp="$root/build/salespipe"
work=$(mktemp -d)
# As root the server runs as `postgres`, which must reach its directory:
# /tmp rather than a private TMPDIR.
pgbase=${TMPDIR:-/tmp}; [ "$(id -u)" -eq 0 ] && pgbase=/tmp
pgdir=$(mktemp -d "$pgbase/salespipe-pgbench.XXXXXX")
trap '"$root/tests/postgres/pg.sh" stop "$pgdir"; rm -rf "$work"' EXIT
"$root/tests/postgres/pg.sh" start "$pgdir"
# shellcheck disable=SC1091
. "$pgdir/env"
export PGPASSWORD=$PG_PASS
URL="postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
DS=2024-01-01
now() { date +%s.%N; }
admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "== PostgreSQL load benchmark ($(nproc) cores, $(uname -m), $(admin -c 'SHOW server_version'))"
mkdir -p "$work/data/raw"
cd "$work"
"$sp" -q gen --out data/raw --rows "$rows" --seed 1
DATABASE_URL=$URL "$sp" -q stage --ds $DS
DATABASE_URL=$URL "$sp" -q transform --ds $DS
DATABASE_URL=$URL "$sp" -q create-tables
out="$work/lake/processed/runs/$DS"
facts=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tables"]["fact_sales"])' "$out/_manifest.json")
echo "input: $facts facts, $(du -m "$out/fact_sales.parquet" | cut -f1) MB of Parquet; server: fsync=off, synchronous_commit=off (tests/postgres/pg.sh), same for all three methods"

# ---- ours: salespipe load (Parquet → binary COPY) --------------------------------
# Statement durations go to the server log, for the breakdown printed below.
admin -c "ALTER DATABASE $PG_DB SET log_min_duration_statement = 0"
ours=()
for _ in $(seq 1 "$runs"); do
  t0=$(now)
  DATABASE_URL=$URL "$sp" -q load --ds $DS
  ours+=("$(echo "$(now) - $t0" | bc)")
done
check=$(admin -c "SELECT count(*) || ' ' || sum(total_sales) FROM fact_sales")
# The last load's statements: the facts' COPY, and the keys re-created.
breakdown=$(awk '/duration: .* statement: COPY fact_sales/ {c=$0} /duration: .* statement: ALTER TABLE fact_sales ADD CONSTRAINT/ {k[++n]=$0}
  /duration: .* statement: BEGIN/ {n=0; delete k}
  END {match(c, /duration: [0-9.]+/); cs=substr(c, RSTART+10, RLENGTH-10)/1000;
       for (i in k) {match(k[i], /duration: [0-9.]+/); ks+=substr(k[i], RSTART+10, RLENGTH-10)/1000}
       printf "COPY fact_sales %.2f s, primary and foreign keys re-created %.2f s", cs, ks}' "$pgdir/server.log")

# ---- the limit: server-side binary COPY FROM file into a bare table ----------------
srvdir="$pgdir/bench"
mkdir -p "$srvdir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$srvdir"
admin -c "COPY fact_sales TO '$srvdir/facts.bin' (FORMAT binary)"
limit=()
for _ in $(seq 1 "$runs"); do
  admin -c "DROP TABLE IF EXISTS bare; CREATE TABLE bare (LIKE fact_sales)"
  t0=$(now)
  admin -c "COPY bare FROM '$srvdir/facts.bin' (FORMAT binary)"
  limit+=("$(echo "$(now) - $t0" | bc)")
done
admin -c "DROP TABLE bare"

# ---- the reference's method: CSV, staging table, INSERT … SELECT -------------------
# The CSVs it starts from (not timed): the same rows, written by DuckDB.
if [ ! -d "$root/tests/interop/node_modules/@duckdb/node-api" ]; then
  npm ci --prefix "$root/tests/interop" --no-audit --no-fund --loglevel=error >/dev/null
fi
(cd "$root/tests/interop" && OUT="$out" CSV="$work" node --input-type=module) <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const o = process.env.OUT, c = process.env.CSV;
const con = await (await DuckDBInstance.create(':memory:')).connect();
await con.run(`COPY (SELECT order_date, day, month, quarter, year FROM read_parquet('${o}/dim_date.parquet')) TO '${c}/dim_date.csv' (HEADER false)`);
await con.run(`COPY (SELECT product_id, category FROM read_parquet('${o}/dim_product.parquet')) TO '${c}/dim_product.csv' (HEADER false)`);
await con.run(`COPY (SELECT order_date, product_id, quantity, total_sales, profit, unit_price, profit_margin FROM read_parquet('${o}/fact_sales.parquet')) TO '${c}/facts.csv' (HEADER false)`);
JS
cat >"$work/reference.sql" <<SQL
BEGIN;
TRUNCATE fact_sales, dim_product, dim_date RESTART IDENTITY;
\\copy dim_date(order_date, day, month, quarter, year) FROM '$work/dim_date.csv' CSV
\\copy dim_product(product_id, category) FROM '$work/dim_product.csv' CSV
CREATE TEMP TABLE staging(order_date date, product_id text, quantity int, total_sales numeric,
  profit numeric, unit_price numeric, profit_margin numeric) ON COMMIT DROP;
\\copy staging FROM '$work/facts.csv' CSV
INSERT INTO fact_sales(date_id, product_sk, quantity, total_sales, profit, unit_price, profit_margin)
  SELECT d.date_id, p.product_sk, s.quantity, s.total_sales, s.profit, s.unit_price, s.profit_margin
  FROM staging s JOIN dim_date d USING (order_date) JOIN dim_product p USING (product_id);
COMMIT;
SQL
t0=$(now)
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -f "$work/reference.sql"
reference=$(echo "$(now) - $t0" | bc)
check_ref=$(admin -c "SELECT count(*) || ' ' || sum(total_sales) FROM fact_sales")

best() { printf '%s\n' "$@" | sort -n | head -n 1; }
mid() { printf '%s\n' "$@" | median; }
ob=$(best "${ours[@]}"); om=$(mid "${ours[@]}")
lb=$(best "${limit[@]}"); lm=$(mid "${limit[@]}")
printf '%-58s %9s %9s\n' "method ($facts facts; $runs runs where shown)" "best s" "median s"
printf '%-58s %9.2f %9.2f\n' "salespipe load (binary COPY, keys rebuilt, 1 transaction)" "$ob" "$om"
printf '%-58s %9.2f %9s\n' "reference: \\copy CSV + staging + INSERT…SELECT (1 run)" "$reference" ""
printf '%-58s %9.2f %9.2f\n' "limit: server-side COPY FROM binary file, bare table" "$lb" "$lm"
echo "our last load, from the server log: $breakdown"
echo "same rows loaded by ours and the reference: $([ "$check" = "$check_ref" ] && echo "yes ($check)" || echo "NO: $check vs $check_ref")"
echo "ratio reference / ours: $(echo "scale=1; $reference / $om" | bc)x (median; target >= 8x)"
echo "ratio ours / limit:     $(echo "scale=2; $om / $lm" | bc)x (medians; target <= 1.5x)"
