#!/usr/bin/env bash
# transform.sh — the transform benchmark (`make bench` runs it after the
# codec benchmark): `salespipe gen --rows N` (4 files), stage, then time
# `salespipe transform` (wall seconds, peak RSS via GNU time) at N and 2N
# rows per file to show RSS stays flat, and DuckDB (its Node package) doing
# the same job — clean, star schema, three ZSTD Parquet files — on the same
# files in the same run, with the ratio. A benchmark: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${BENCH_TRANSFORM_ROWS:-500000}
sp=$(pwd)/build/salespipe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "transform bench: GNU time missing (make deps installs 'time')"; exit 1; }

measure() { # ROWS → prints "seconds peak_rss_kb bytes"
  local n=$1 dir="$tmp/p$1"
  mkdir -p "$dir"
  (cd "$dir" && "$sp" -q gen --out data/raw --rows "$n" --seed 42 && "$sp" -q stage --ds 2024-01-01)
  local bytes
  bytes=$(cat "$dir"/data/raw/*.csv | wc -c)
  (cd "$dir" && "$TIME" -f '%e %M' -o "$dir/time.txt" "$sp" -q transform --ds 2024-01-01)
  echo "$(cat "$dir/time.txt") $bytes"
}

echo
echo "== transform benchmark: gen --rows $rows (4 files), $(nproc) cores"
read -r s rss bytes < <(measure "$rows")
read -r s_big rss_big _ < <(measure $((rows * 2)))
total=$((rows * 4))
awk -v s="$s" -v b="$bytes" -v r="$total" -v rss="$rss" -v s2="$s_big" -v rss2="$rss_big" 'BEGIN {
  printf "salespipe transform  %d rows  %.0f MB  %.2f s  %.0f MB/s  %.2f M rows/s  peak RSS %.0f MB\n", r, b/1e6, s, b/1e6/s, r/s/1e6, rss/1024
  printf "salespipe transform  %d rows (twice as many)  %.2f s  peak RSS %.0f MB\n", 2*r, s2, rss2/1024 }'

if [ ! -d tests/interop/node_modules/@duckdb/node-api ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null
fi
cat > "$tmp/duck.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const dir = process.env.DIR;
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
const t0 = Number(process.hrtime.bigint()) / 1e9;
// The same rules as SPEC §4 for this (clean, month-first) data, in SQL.
await q(`CREATE TEMP TABLE clean AS
  WITH src AS (SELECT * FROM read_csv('${dir}/data/raw/*_orders.csv', all_varchar = true, header = true)),
  typed AS (SELECT try_strptime("Order Date", '%m/%d/%Y')::DATE AS order_date,
                   try_strptime("Ship Date", '%m/%d/%Y')::DATE AS ship_date,
                   trim("Product ID") AS product_id, trim("Category") AS category,
                   try_cast("Quantity" AS INTEGER) AS quantity,
                   try_cast("Sales" AS DECIMAL(18,4)) AS total_sales,
                   try_cast("Profit" AS DECIMAL(18,4)) AS profit FROM src)
  SELECT order_date, product_id, category, quantity, total_sales, profit,
         round(total_sales / quantity, 2)::DECIMAL(18,2) AS unit_price,
         round(profit / total_sales, 2)::DECIMAL(18,2) AS profit_margin, ship_date
  FROM typed WHERE order_date IS NOT NULL AND ship_date IS NOT NULL AND product_id <> ''
    AND quantity > 0 AND total_sales > 0 AND total_sales <= 10000 AND profit IS NOT NULL`);
await q(`COPY (SELECT order_date, product_id, quantity, total_sales, profit, unit_price, profit_margin, ship_date FROM clean)
  TO '${dir}/fact_sales.parquet' (FORMAT parquet, COMPRESSION zstd)`);
await q(`COPY (SELECT DISTINCT order_date, day(order_date)::INTEGER AS day, month(order_date)::INTEGER AS month,
  quarter(order_date)::INTEGER AS quarter, year(order_date)::INTEGER AS year FROM clean ORDER BY 1)
  TO '${dir}/dim_date.parquet' (FORMAT parquet, COMPRESSION zstd)`);
await q(`COPY (SELECT product_id, first(category) AS category FROM clean GROUP BY 1 ORDER BY 1)
  TO '${dir}/dim_product.parquet' (FORMAT parquet, COMPRESSION zstd)`);
const t = Number(process.hrtime.bigint()) / 1e9 - t0;
const [[n]] = await q(`SELECT count(*) FROM read_parquet('${dir}/fact_sales.parquet')`);
console.log(`RESULT ${t.toFixed(3)} ${n} ${(await q('SELECT version()'))[0][0]}`);
JS
cp "$tmp/duck.mjs" tests/interop/.bench-duck.mjs
trap 'rm -rf "$tmp"; rm -f tests/interop/.bench-duck.mjs' EXIT
rm -rf "$tmp/p$((rows * 2))"
out=$(cd tests/interop && DIR="$tmp/p$rows" "$TIME" -f 'RSS %M' node .bench-duck.mjs 2>&1)
read -r _ ds dn dv < <(grep '^RESULT' <<<"$out")
drss=$(grep -o 'RSS [0-9]*' <<<"$out" | cut -d' ' -f2)
awk -v s="$s" -v d="$ds" -v n="$dn" -v v="$dv" -v drss="$drss" -v b="$bytes" 'BEGIN {
  printf "DuckDB %s same job  %.2f s  %.0f MB/s  peak RSS %.0f MB  (%d fact rows)\n", v, d, b/1e6/d, drss/1024, n
  printf "ratio DuckDB / salespipe: %.1fx (>1: salespipe is faster)\n", d/s }'
