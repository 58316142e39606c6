// peer_duckdb.mjs — bench/transform.sh's DuckDB peer (@duckdb/node-api, from
// tests/interop's node_modules): the transform's job on the same files —
// read every CSV as text, SPEC §4's rules for this (month-first, clean) data
// in SQL, fact_sales with its lineage columns, dim_date, dim_product, each
// written as ZSTD Parquet into OUT. Prints "RESULT seconds fact_rows version".
// A benchmark peer: it writes no rejects file and no manifest.
import { createRequire } from 'node:module';
const { DuckDBInstance } = createRequire(process.env.REQUIRE_FROM)('@duckdb/node-api');
const files = process.env.FILES.split('\n').filter(Boolean).sort();
const out = process.env.OUT, runId = 'bench';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
const list = files.map((f) => `'${f}'`).join(', ');
const t0 = Number(process.hrtime.bigint()) / 1e9;
// source_line: DuckDB's CSV reader has no line numbers; the record's index
// in its file + 2 (the header is line 1) is the line for files without
// quoted newlines, which these are.
await q(`CREATE TEMP TABLE clean AS
  WITH src AS (SELECT *, row_number() OVER (PARTITION BY filename) + 1 AS line
               FROM read_csv([${list}], all_varchar = true, header = true, filename = true)),
  typed AS (SELECT try_strptime(trim("Order Date"), '%m/%d/%Y')::DATE AS order_date,
                   try_strptime(trim("Ship Date"), '%m/%d/%Y')::DATE AS ship_date,
                   trim("Product ID") AS product_id, trim("Category") AS category,
                   try_cast(trim("Quantity") AS INTEGER) AS quantity,
                   try_cast(trim("Sales") AS DECIMAL(18,4)) AS total_sales,
                   try_cast(trim("Profit") AS DECIMAL(18,4)) AS profit,
                   trim("Region") AS region, nullif(trim("Order ID"), '') AS order_id,
                   parse_filename(filename) AS source_file, line::BIGINT AS source_line FROM src)
  SELECT order_date, product_id, category, quantity, total_sales, profit,
         round(total_sales / quantity, 2)::DECIMAL(18,2) AS unit_price,
         round(profit / total_sales, 2)::DECIMAL(18,2) AS profit_margin,
         region, order_id, source_file, source_line, '${runId}' AS run_id, ship_date
  FROM typed WHERE order_date IS NOT NULL AND ship_date IS NOT NULL AND product_id <> ''
    AND quantity > 0 AND total_sales > 0 AND total_sales <= 10000 AND profit IS NOT NULL`);
await q(`COPY (SELECT * EXCLUDE (category) FROM clean)
  TO '${out}/fact_sales.parquet' (FORMAT parquet, COMPRESSION zstd)`);
await q(`COPY (SELECT DISTINCT order_date, day(order_date)::INTEGER AS day, month(order_date)::INTEGER AS month,
  quarter(order_date)::INTEGER AS quarter, year(order_date)::INTEGER AS year FROM clean ORDER BY 1)
  TO '${out}/dim_date.parquet' (FORMAT parquet, COMPRESSION zstd)`);
await q(`COPY (SELECT product_id, first(category) AS category FROM clean GROUP BY 1 ORDER BY 1)
  TO '${out}/dim_product.parquet' (FORMAT parquet, COMPRESSION zstd)`);
const t = Number(process.hrtime.bigint()) / 1e9 - t0;
const [[n]] = await q(`SELECT count(*) FROM read_parquet('${out}/fact_sales.parquet')`);
console.log(`RESULT ${t.toFixed(3)} ${n} ${(await q('SELECT version()'))[0][0]}`);
