#!/usr/bin/env bash
# run.sh — `make bench`: the Parquet codec benchmark, the CSV reader and rules
# micro-benchmarks, then the transform benchmark (bench/transform.sh).
# Runs build/bench_pq_bench (our writer and reader, 10M-row fact table, ZSTD),
# then DuckDB writing and reading the same table through node, and prints
# both side by side with the ratio. BENCH_ROWS overrides the row count.
# A benchmark, never a test: it asserts nothing about time.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${BENCH_ROWS:-10000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== Parquet codec benchmark ($rows rows, $(nproc) cores, $(uname -m))"
build/bench_pq_bench "$tmp/ours.parquet" "$rows" | tee "$tmp/ours.txt"
result=$(grep '^RESULT ' "$tmp/ours.txt")

if [ ! -d tests/interop/node_modules/@duckdb/node-api ] || [ ! -d tests/interop/node_modules/nodejs-polars ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null
fi
echo
# node resolves @duckdb/node-api from its working directory: tests/interop.
(cd tests/interop && ROWS="$rows" OURS="$tmp/ours.parquet" OUT="$tmp" RESULT="$result" \
  node --input-type=module) <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const rows = Number(process.env.ROWS), dir = process.env.OUT, ours = process.env.OURS;
const res = Object.fromEntries(process.env.RESULT.split(' ').slice(1).map((kv) => kv.split('=')));
const now = () => Number(process.hrtime.bigint()) / 1e9; // CLOCK_MONOTONIC
const { statSync } = await import('node:fs');
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
// Same formulas as gen_row() in bench/pq_bench.c; the content check below proves it.
await q(`CREATE TABLE fact AS
  WITH g AS (SELECT i, (i * 2654435761) % 4294967296 AS h FROM range(${rows}) t(i)),
  p AS (SELECT i, h, DATE '2020-01-01' + (i // 5480)::INTEGER AS sale_date,
               'ST-' || lpad((h % 2000)::VARCHAR, 5, '0') AS store_id,
               (1 + (h // 2048) % 50)::INTEGER AS quantity,
               5000 + (h * 31 + i) % 9995000 AS up FROM g),
  u AS (SELECT *, up * quantity AS gr FROM p),
  v AS (SELECT *, gr // 100 * ((h // 7) % 16) AS di FROM u)
  SELECT sale_date, store_id, quantity,
         (up::DECIMAL(18,0) / 10000)::DECIMAL(18,4) AS unit_price,
         (gr::DECIMAL(18,0) / 10000)::DECIMAL(18,4) AS gross,
         (di::DECIMAL(18,0) / 10000)::DECIMAL(18,4) AS discount,
         ((gr - di)::DECIMAL(18,0) / 10000)::DECIMAL(18,4) AS net
  FROM v ORDER BY i`);
const lines = [];
const rawBytes = Number(res.raw_bytes);
const fmt = (label, s, fileBytes) =>
  `${label.padEnd(28)} ${s.toFixed(3).padStart(10)} ${(rows / s).toFixed(0).padStart(14)} ` +
  `${(fileBytes / 1e6 / s).toFixed(1).padStart(14)} ${(rawBytes / 1e6 / s).toFixed(1).padStart(14)}`;
// Reading touches every column, as our reader decodes every column.
const ALL_COLUMNS = 'count(*), max(sale_date), max(store_id), sum(quantity), sum(unit_price), sum(gross), sum(discount), sum(net)';
const results = {};
for (const threads of [1, 2]) {
  await q(`SET threads = ${threads}`);
  const file = `${dir}/duck-${threads}.parquet`;
  let t0 = now();
  await q(`COPY fact TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
  const tw = now() - t0;
  const size = statSync(file).size;
  t0 = now();
  await q(`SELECT ${ALL_COLUMNS} FROM read_parquet('${file}')`);
  const tr = now() - t0;
  t0 = now();
  await q(`SELECT ${ALL_COLUMNS} FROM read_parquet('${ours}')`);
  const tro = now() - t0;
  results[threads] = { tw, tr, tro, size };
  lines.push(fmt(`write (DuckDB, ${threads} thr)`, tw, size));
  lines.push(fmt(`read (DuckDB, ${threads} thr)`, tr, size));
  lines.push(fmt(`DuckDB reads ours (${threads} thr)`, tro, Number(res.file_bytes)));
}
const ws = Number(res.write_s), rs = Number(res.read_s);
console.log(`DuckDB ${(await q('SELECT version()'))[0][0]}, same table; file: ours ${(Number(res.file_bytes) / 1e6).toFixed(1)} MB,` +
  ` DuckDB ${(results[1].size / 1e6).toFixed(1)} MB (1 thread), ${(results[2].size / 1e6).toFixed(1)} MB (2 threads)`);
console.log(`${'step'.padEnd(28)} ${'seconds'.padStart(10)} ${'rows/s'.padStart(14)} ${'file MB/s'.padStart(14)} ${'raw MB/s'.padStart(14)}`);
console.log(fmt('write (ours, 1 thread)', ws, Number(res.file_bytes)));
console.log(fmt('read (ours, 1 thread)', rs, Number(res.file_bytes)));
for (const l of lines) console.log(l);
console.log('');
console.log(`ratio write time ours / DuckDB: ${(ws / results[1].tw).toFixed(2)}x vs 1 thread, ${(ws / results[2].tw).toFixed(2)}x vs 2 threads (>1: we are slower)`);
console.log(`ratio read time ours / DuckDB:  ${(rs / results[1].tr).toFixed(2)}x vs 1 thread, ${(rs / results[2].tr).toFixed(2)}x vs 2 threads`);
console.log(`ratio file size ours / DuckDB:  ${(Number(res.file_bytes) / results[1].size).toFixed(2)}x`);
// Same content in both files? (not timed; proves the generators agree)
const sig = async (f) => (await q(`SELECT count(*)::VARCHAR || ':' || sum(hash(sale_date, store_id, quantity, unit_price, gross, discount, net))::VARCHAR FROM read_parquet('${f}')`))[0][0];
const a = await sig(ours), b = await sig(`${dir}/duck-1.parquet`);
console.log(`same content in both files: ${a === b ? 'yes' : `NO (ours ${a}, DuckDB ${b})`}`);
JS
echo
echo "== components: the CSV reader and the rules, one core"
build/bench_csv_bench | grep -v '^RESULT'
build/bench_rules_bench | grep -v '^RESULT' | tail -n 3
bench/transform.sh
# The PostgreSQL load and S3 transfer benchmarks, once they exist.
for b in bench/postgres.sh bench/s3.sh; do
  if [ -x "$b" ]; then "$b"; fi
done
