// peer_polars.mjs — bench/transform.sh's Polars peer (nodejs-polars, from
// tests/interop's node_modules): the transform's job on the same files —
// read every CSV as text, SPEC §4's rules for this (month-first, clean) data
// as expressions, fact_sales with its lineage columns, dim_date, dim_product,
// each written as ZSTD Parquet into OUT. Prints "RESULT seconds fact_rows".
// A benchmark peer: it writes no rejects file and no manifest.
// The package lives in tests/interop/node_modules (REQUIRE_FROM: that folder's package.json).
import { createRequire } from 'node:module';
const pl = createRequire(process.env.REQUIRE_FROM)('nodejs-polars');
const files = process.env.FILES.split('\n').filter(Boolean).sort();
const out = process.env.OUT, runId = 'bench';
const t0 = Number(process.hrtime.bigint()) / 1e9;
const text = (name) => pl.col(name).str.stripChars(' \t');
const date = (name) => text(name).str.strptime(pl.Date, '%m/%d/%Y');
const dec = (name) => text(name).cast(pl.Decimal(18, 4), false);
const one = (file) => pl.scanCSV(file, { inferSchemaLength: 0 })
  .withRowIndex('source_line', 2)
  .select(
    date('Order Date').alias('order_date'), text('Product ID').alias('product_id'),
    text('Category').alias('category'),
    text('Quantity').cast(pl.Int32, false).alias('quantity'),
    dec('Sales').alias('total_sales'), dec('Profit').alias('profit'),
    text('Region').alias('region'), text('Order ID').alias('order_id'),
    pl.lit(file.replace(/.*\//, '')).alias('source_file'),
    pl.col('source_line').cast(pl.Int64), pl.lit(runId).alias('run_id'),
    date('Ship Date').alias('ship_date'))
  .filter(pl.col('order_date').isNotNull().and(pl.col('ship_date').isNotNull())
    .and(pl.col('product_id').neq(pl.lit(''))).and(pl.col('quantity').gt(0))
    .and(pl.col('total_sales').cast(pl.Float64).gt(0))
    .and(pl.col('total_sales').cast(pl.Float64).ltEq(10000)).and(pl.col('profit').isNotNull()));
const clean = pl.concat(files.map(one)).collectSync();
const f64 = (name) => pl.col(name).cast(pl.Float64);
const facts = clean.select(
  'order_date', 'product_id', 'quantity', 'total_sales', 'profit',
  f64('total_sales').div(f64('quantity')).round(2).cast(pl.Decimal(18, 2)).alias('unit_price'),
  f64('profit').div(f64('total_sales')).round(2).cast(pl.Decimal(18, 2)).alias('profit_margin'),
  'region', 'order_id', 'source_file', 'source_line', 'run_id', 'ship_date');
facts.writeParquet(`${out}/fact_sales.parquet`, { compression: 'zstd' });
clean.select('order_date').unique().sort('order_date')
  .select('order_date', pl.col('order_date').date.day().cast(pl.Int32).alias('day'),
    pl.col('order_date').date.month().cast(pl.Int32).alias('month'),
    pl.col('order_date').date.month().add(2).cast(pl.Int32).div(3).cast(pl.Int32).alias('quarter'),
    pl.col('order_date').date.year().cast(pl.Int32).alias('year'))
  .writeParquet(`${out}/dim_date.parquet`, { compression: 'zstd' });
clean.groupBy('product_id').agg(pl.col('category').first()).sort('product_id')
  .writeParquet(`${out}/dim_product.parquet`, { compression: 'zstd' });
const t = Number(process.hrtime.bigint()) / 1e9 - t0;
console.log(`RESULT ${t.toFixed(3)} ${facts.height} nodejs-polars`);
