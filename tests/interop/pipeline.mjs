// pipeline.mjs — the local pipeline end to end (salespipe run on the fs
// store and the SQLite warehouse), checked by independent parts: DuckDB reads
// the input CSVs and the Parquet outputs, a quote-aware scanner written here
// finds every input record's line, BigInt arithmetic recomputes the derived
// values, and the sqlite3 shell reads the warehouse. Expected values never
// come from salespipe itself. Run through tests/pipeline/run.sh.
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync,
  statSync, truncateSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { check, parseCsv, run, runFailure, sqlStr, tally } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const build = resolve(root, process.env.PIPELINE_BUILD ?? 'build');
const SALESPIPE = join(build, 'salespipe');
const work = mkdtempSync(join(tmpdir(), 'sp-pipeline-'));
const shared = process.env.SALESPIPE_SHARED ?? resolve(root, '../shared/data');
const superstore = join(shared, 'superstore');
let skipped = 0;

const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const rowsOf = async (sql) => (await con.runAndReadAll(sql)).getRows();

// A project directory with its own data/, lake/ and warehouse.
function project(name) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'data', 'raw'), { recursive: true });
  return dir;
}

function sp(dir, args, env = {}) {
  return run(SALESPIPE, args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '',
      UBSAN_OPTIONS: process.env.UBSAN_OPTIONS ?? '', ...env,
    },
  });
}

const processed = (dir, ds) => join(dir, 'lake', 'processed', 'runs', ds);
const manifestOf = (dir, ds) => JSON.parse(readFileSync(join(processed(dir, ds), '_manifest.json'), 'utf8'));

function sqlite(db, sql) {
  const r = run('sqlite3', ['-batch', '-noheader', '-separator', '|', db, sql]);
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout.trimEnd();
}

// Exact decimal strings as BigInt units of 10^-scale, more digits rounded
// half away from zero (SPEC §4).
function units(s, scale) {
  const neg = s.startsWith('-');
  const [i, f = ''] = (neg ? s.slice(1) : s).split('.');
  let v = BigInt((i || '0') + f.padEnd(scale, '0').slice(0, scale));
  if (f.length > scale && f[scale] >= '5') v += 1n;
  return neg ? -v : v;
}
function fmt(v, scale) {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, -scale)}.${s.slice(-scale)}`;
}
// round(n / d) half away from zero, exactly.
function divRound(n, d) {
  const neg = (n < 0n) !== (d < 0n);
  const an = n < 0n ? -n : n, ad = d < 0n ? -d : d;
  const q = (2n * an + ad) / (2n * ad);
  return neg ? -q : q;
}

// Every record of a CSV file (bytes): the 1-based line where it starts.
// Blank lines are not records; a quote opens only at a field's start.
function recordLines(buf) {
  const lines = [];
  let line = 1, i = 0;
  const n = buf.length;
  if (n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
  while (i < n) {
    if (buf[i] === 0x0a) { line++; i++; continue; }
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) { line++; i += 2; continue; }
    lines.push(line);
    let inQ = false, atStart = true;
    for (; i < n; i++) {
      const c = buf[i];
      if (inQ) {
        if (c === 0x22) { if (buf[i + 1] === 0x22) i++; else inQ = false; }
        else if (c === 0x0a) line++;
        continue;
      }
      if (c === 0x22 && atStart) { inQ = true; continue; }
      if (c === 0x2c) { atStart = true; continue; }
      if (c === 0x20 || c === 0x09) continue;
      if (c === 0x0a) { line++; i++; break; }
      atStart = false;
    }
  }
  return lines;
}

const DS = '2024-03-15';
const FACT_TYPES = {
  order_date: 'DATE', product_id: 'VARCHAR', quantity: 'INTEGER', total_sales: 'DECIMAL(18,4)',
  profit: 'DECIMAL(18,4)', unit_price: 'DECIMAL(18,2)', profit_margin: 'DECIMAL(18,2)',
  // then lineage, in SPEC §5's order, then ship_date (docs/data-contract.md)
  region: 'VARCHAR', order_id: 'VARCHAR', source_file: 'VARCHAR', source_line: 'BIGINT',
  run_id: 'VARCHAR', ship_date: 'DATE',
};

// ---- superstore, end to end -----------------------------------------------------

async function superstoreSuite() {
  if (!existsSync(superstore)) {
    console.log(`skipped superstore end to end: ${superstore} not found (it lives in ../shared)`);
    skipped += 6;
    return;
  }
  const dir = project('superstore');
  const inputs = readdirSync(superstore).filter((f) => f.endsWith('_orders.csv')).sort();
  for (const f of inputs) copyFileSync(join(superstore, f), join(dir, 'data', 'raw', f));
  const out = processed(dir, DS);
  let r;
  await check('superstore: salespipe run exits 0', () => {
    r = sp(dir, ['run', '--ds', DS]);
    return runFailure(r, 'salespipe run');
  });
  if (!existsSync(join(out, '_manifest.json'))) return;
  const m = manifestOf(dir, DS);
  const glob = sqlStr(join(dir, 'data', 'raw', '*_orders.csv'));
  const src = `read_csv(${glob}, all_varchar = true, header = true)`;

  await check('superstore: counts and exact sums equal DuckDB reading the CSVs', async () => {
    const [[rowsIn]] = await rowsOf(`SELECT count(*) FROM ${src}`);
    const [[over]] = await rowsOf(`SELECT count(*) FROM ${src} WHERE "Sales"::DECIMAL(18,4) > 10000`);
    const [[q, s, p]] = await rowsOf(`SELECT sum("Quantity"::INTEGER)::VARCHAR,
        sum("Sales"::DECIMAL(18,4))::VARCHAR, sum("Profit"::DECIMAL(18,4))::VARCHAR
        FROM ${src} WHERE "Sales"::DECIMAL(18,4) <= 10000`);
    const want = {
      rows_in: Number(rowsIn), rows_kept: Number(rowsIn) - Number(over), threshold: Number(over),
      quantity: String(q), total_sales: fmt(units(s, 4), 4), profit: fmt(units(p, 4), 4),
    };
    const got = {
      rows_in: m.rows_in, rows_kept: m.rows_kept, threshold: m.rejected.threshold,
      quantity: String(m.sums.quantity), total_sales: m.sums.total_sales, profit: m.sums.profit,
    };
    if (JSON.stringify(want) !== JSON.stringify(got))
      return `manifest ${JSON.stringify(got)} != DuckDB ${JSON.stringify(want)}`;
    const sumRej = Object.values(m.rejected).reduce((a, b) => a + b, 0);
    if (m.rows_in !== m.rows_kept + sumRej) return 'rows_in != rows_kept + sum(rejected)';
    if (m.inputs.length !== inputs.length) return `${m.inputs.length} inputs, expected ${inputs.length}`;
    for (const inp of m.inputs) {
      const bytes = statSync(join(dir, 'data', 'raw', inp.file)).size;
      if (inp.bytes !== bytes) return `${inp.file}: bytes ${inp.bytes} != ${bytes}`;
      const sha = run('sha256sum', [join(dir, 'data', 'raw', inp.file)]).stdout.split(' ')[0];
      if (inp.sha256 !== sha) return `${inp.file}: sha256 differs`;
    }
    return null;
  });

  await check('superstore: DuckDB reads the three Parquet files with SPEC §5 types', async () => {
    const want = {
      dim_date: { order_date: 'DATE', day: 'INTEGER', month: 'INTEGER', quarter: 'INTEGER', year: 'INTEGER' },
      dim_product: { product_id: 'VARCHAR', category: 'VARCHAR' },
      fact_sales: FACT_TYPES,
    };
    for (const [t, cols] of Object.entries(want)) {
      const f = sqlStr(join(out, `${t}.parquet`));
      const desc = await rowsOf(`DESCRIBE SELECT * FROM read_parquet(${f})`);
      for (const [c, ty] of Object.entries(cols)) {
        const d = desc.find((x) => x[0] === c);
        if (!d || d[1] !== ty) return `${t}.${c}: ${d ? d[1] : 'missing'}, expected ${ty}`;
      }
      const names = desc.map((x) => x[0]).slice(0, Object.keys(cols).length);
      if (names.join() !== Object.keys(cols).join()) return `${t}: columns ${names} not in contract order`;
      const [[n]] = await rowsOf(`SELECT count(*) FROM read_parquet(${f})`);
      if (Number(n) !== m.tables[t]) return `${t}: ${n} rows, manifest ${m.tables[t]}`;
    }
    const meta = await rowsOf(`SELECT DISTINCT compression FROM parquet_metadata(${sqlStr(join(out, 'fact_sales.parquet'))})`);
    if (meta.length !== 1 || meta[0][0] !== 'ZSTD') return `compression ${JSON.stringify(meta)}`;
    return null;
  });

  await check('superstore: facts match the CSV rows, derived values exact (BigInt), lineage', async () => {
    const f = sqlStr(join(out, 'fact_sales.parquet'));
    const facts = await rowsOf(`SELECT source_file, source_line, order_date::VARCHAR, product_id,
        quantity, total_sales::VARCHAR, profit::VARCHAR, unit_price::VARCHAR, profit_margin::VARCHAR,
        region, order_id, run_id
        FROM read_parquet(${f})`);
    const csvRows = new Map();
    for (const file of inputs) {
      const buf = readFileSync(join(dir, 'data', 'raw', file));
      const { header, rows } = parseCsv(buf.toString('utf8').replace(/^\uFEFF/, ''));
      const lines = recordLines(buf).slice(1);
      rows.forEach((row, k) => csvRows.set(`${file}:${lines[k]}`, Object.fromEntries(header.map((h, i) => [h, row[i]]))));
    }
    let bad = 0, first = '';
    for (const [file, line, od, pid, q, s, p, up, pm, region, orderId, runId] of facts) {
      const row = csvRows.get(`${file}:${line}`);
      if (row && (region !== row.Region || orderId !== row['Order ID'] || runId !== m.run_id)) {
        if (!bad++) first = `${file}:${line} lineage ${[region, orderId, runId]} vs ${row.Region}, ${row['Order ID']}, ${m.run_id}`;
        continue;
      }
      const S = units(s, 4), P = units(p, 4), Q = BigInt(q);
      const [mm, dd, yy] = row?.['Order Date'].split('/') ?? [];
      const iso = row && `${yy}-${mm.padStart(2, '0')}-${dd.padStart(2, '0')}`;
      const ok = row && iso === od && row['Product ID'] === pid && String(row.Quantity) === String(q) &&
        units(row.Sales, 4) === S && units(row.Profit, 4) === P &&
        fmt(divRound(S, Q * 100n), 2) === up && fmt(divRound(P * 100n, S), 2) === pm;
      if (!ok && !bad++) first = `${file}:${line} ${[od, pid, q, s, p, up, pm]} vs ${JSON.stringify(row)}`;
    }
    return bad ? `${bad} fact rows differ; first ${first}` : null;
  });

  await check('superstore: dim_date parts and dim_product categories agree with DuckDB', async () => {
    const d = sqlStr(join(out, 'dim_date.parquet'));
    const [[badDates]] = await rowsOf(`SELECT count(*) FROM read_parquet(${d}) WHERE day <> day(order_date)
        OR month <> month(order_date) OR quarter <> quarter(order_date) OR year <> year(order_date)`);
    const fs = sqlStr(join(out, 'fact_sales.parquet'));
    const [[nd, np]] = await rowsOf(`SELECT count(DISTINCT order_date), count(DISTINCT product_id) FROM read_parquet(${fs})`);
    if (Number(badDates) !== 0) return `${badDates} dim_date rows with wrong parts`;
    if (Number(nd) !== m.tables.dim_date || Number(np) !== m.tables.dim_product)
      return `distinct facts ${nd}/${np} vs dims ${m.tables.dim_date}/${m.tables.dim_product}`;
    // first category per product, files in name order then line order (kept rows)
    const first = new Map();
    for (const file of inputs) {
      const { header, rows } = parseCsv(readFileSync(join(dir, 'data', 'raw', file), 'utf8').replace(/^\uFEFF/, ''));
      const [pi, ci, si] = ['Product ID', 'Category', 'Sales'].map((h) => header.indexOf(h));
      for (const row of rows)
        if (units(row[si], 4) <= 100000000n && !first.has(row[pi])) first.set(row[pi], row[ci]);
    }
    const prods = await rowsOf(`SELECT product_id, category FROM read_parquet(${sqlStr(join(out, 'dim_product.parquet'))})`);
    if (prods.length !== first.size) return `${prods.length} products, CSVs have ${first.size}`;
    const wrong = prods.filter(([id, cat]) => first.get(id) !== cat).length;
    return Number(wrong) ? `${wrong} products with a category other than their first` : null;
  });

  await check('superstore: the SQLite warehouse joins every fact to both dimensions', () => {
    const db = join(dir, 'warehouse.db');
    const n = Number(sqlite(db, 'SELECT count(*) FROM fact_sales f JOIN dim_date d USING (date_id) JOIN dim_product p USING (product_sk)'));
    if (n !== m.rows_kept) return `${n} joined facts, ${m.rows_kept} kept`;
    if (sqlite(db, 'PRAGMA foreign_key_check') !== '') return 'foreign_key_check reports violations';
    const dims = sqlite(db, 'SELECT (SELECT count(*) FROM dim_date) || \',\' || (SELECT count(*) FROM dim_product)');
    if (dims !== `${m.tables.dim_date},${m.tables.dim_product}`) return `dims ${dims}`;
    let s = 0n, p = 0n;
    for (const l of sqlite(db, "SELECT printf('%.4f', total_sales), printf('%.4f', profit) FROM fact_sales").split('\n')) {
      const [a, b] = l.split('|');
      s += units(a, 4); p += units(b, 4);
    }
    if (fmt(s, 4) !== m.sums.total_sales || fmt(p, 4) !== m.sums.profit)
      return `warehouse sums ${fmt(s, 4)} / ${fmt(p, 4)} != manifest ${m.sums.total_sales} / ${m.sums.profit}`;
    return null;
  });

  // Only run_id (a column of fact_sales, and of the warehouse once it keeps
  // it) tells two runs apart.
  await check('superstore: a second run gives the same warehouse and the same Parquet but its run_id', async () => {
    const db = join(dir, 'warehouse.db');
    const factCols = sqlite(db, "SELECT group_concat(name, ',') FROM pragma_table_info('fact_sales') WHERE name <> 'run_id'");
    const dump = () => sqlite(db, `SELECT * FROM dim_date ORDER BY 1; SELECT * FROM dim_product ORDER BY 1; SELECT ${factCols} FROM fact_sales ORDER BY 1`);
    const before = dump();
    const pq = ['dim_date', 'dim_product'].map((t) => readFileSync(join(out, `${t}.parquet`)));
    const f = sqlStr(join(out, 'fact_sales.parquet'));
    const facts = async () => (await rowsOf(`SELECT * EXCLUDE (run_id) FROM read_parquet(${f})`)).map((r) => r.join('|')).join('\n');
    const factsBefore = await facts();
    const r2 = sp(dir, ['run', '--ds', DS]);
    const fail = runFailure(r2, 'second run');
    if (fail) return fail;
    if (!/unchanged/.test(r2.stderr)) return 'stage did not report the unchanged files';
    if (dump() !== before) return 'warehouse differs after the second run';
    const pq2 = ['dim_date', 'dim_product'].map((t) => readFileSync(join(out, `${t}.parquet`)));
    if (!pq.every((b, i) => b.equals(pq2[i]))) return 'dimension Parquet bytes differ between runs';
    if (await facts() !== factsBefore) return 'fact_sales differs between runs (run_id aside)';
    const m2 = manifestOf(dir, DS);
    const ids = await rowsOf(`SELECT DISTINCT run_id FROM read_parquet(${f})`);
    if (m2.run_id === m.run_id) return 'both runs have the same run_id';
    return ids.length === 1 && ids[0][0] === m2.run_id ? null : `run_id ${JSON.stringify(ids)}, manifest ${m2.run_id}`;
  });
}

// ---- gen --dirty: nothing lost ----------------------------------------------

async function dirtySuite() {
  const dir = project('dirty');
  const raw = join(dir, 'data', 'raw');
  await check('dirty: gen --dirty then run exits 0', () => {
    const g = sp(dir, ['gen', '--out', raw, '--rows', '400', '--seed', '7', '--dirty']);
    return runFailure(g, 'gen') ?? runFailure(sp(dir, ['run', '--ds', DS]), 'run');
  });
  const out = processed(dir, DS);
  if (!existsSync(join(out, '_manifest.json'))) return;
  const m = manifestOf(dir, DS);
  await check('dirty: every input record is in fact_sales or rejects.csv, exactly once', async () => {
    const facts = await rowsOf(`SELECT source_file, source_line FROM read_parquet(${sqlStr(join(out, 'fact_sales.parquet'))})`);
    const rej = parseCsv(readFileSync(join(out, 'rejects.csv'), 'utf8'));
    if (rej.header.join() !== 'source_file,line,reason,record') return `rejects header ${rej.header}`;
    const seen = new Map();
    const add = (k, what) => seen.set(k, (seen.get(k) ?? []).concat(what));
    for (const [f, l] of facts) add(`${f}:${l}`, 'fact');
    const reasons = new Set(['malformed', 'order_date', 'ship_date', 'product_id', 'quantity', 'sales', 'threshold', 'profit']);
    for (const [f, l, reason, record] of rej.rows) {
      if (!reasons.has(reason)) return `unknown reason ${reason}`;
      if (!record) return `${f}:${l} has no record text`;
      add(`${f}:${l}`, reason);
    }
    let expected = 0;
    for (const f of readdirSync(raw).filter((x) => x.endsWith('_orders.csv'))) {
      const lines = recordLines(readFileSync(join(raw, f))).slice(1); // minus the header
      expected += lines.length;
      for (const l of lines) {
        const got = seen.get(`${f}:${l}`);
        if (!got) return `${f}:${l} is neither a fact nor a reject`;
        if (got.length !== 1) return `${f}:${l} appears ${got.length} times (${got})`;
        seen.delete(`${f}:${l}`);
      }
    }
    if (seen.size) return `${seen.size} outputs match no input record, e.g. ${[...seen.keys()][0]}`;
    if (expected !== m.rows_in) return `scanner found ${expected} records, manifest rows_in ${m.rows_in}`;
    const counts = {};
    for (const [, , reason] of rej.rows) counts[reason] = (counts[reason] ?? 0) + 1;
    for (const [k, v] of Object.entries(m.rejected))
      if ((counts[k] ?? 0) !== v) return `rejects.csv has ${counts[k] ?? 0} ${k}, manifest ${v}`;
    return facts.length === m.rows_kept ? null : `${facts.length} facts, manifest ${m.rows_kept}`;
  });
  await check('dirty: every reason occurs, and the windows-1252 / day-first files were detected', () => {
    const missing = Object.entries(m.rejected).filter(([, v]) => v === 0).map(([k]) => k);
    if (missing.length) return `no rejects for ${missing}`;
    if (!m.inputs.some((i) => i.encoding === 'windows-1252')) return 'no input read as windows-1252';
    if (!m.inputs.some((i) => i.date_order === 'dmy')) return 'no input detected as day-first';
    return null;
  });
}

// ---- failures: atomic, named ---------------------------------------------------

async function failureSuite() {
  const dir = project('failures');
  const raw = join(dir, 'data', 'raw');
  const g = sp(dir, ['gen', '--out', raw, '--rows', '300', '--seed', '3']);
  const ok = sp(dir, ['run', '--ds', DS]);
  const db = join(dir, 'warehouse.db');
  const dump = () => sqlite(db, 'SELECT count(*), sum(quantity) FROM fact_sales; SELECT * FROM fact_sales ORDER BY 1 LIMIT 50; SELECT * FROM dim_product ORDER BY 1');
  await check('failures: baseline run', () => runFailure(g, 'gen') ?? runFailure(ok, 'run'));
  const before = dump();
  const out = processed(dir, DS);
  const fact = join(out, 'fact_sales.parquet');
  const saved = readFileSync(fact);

  await check('failures: a truncated fact_sales.parquet fails load, warehouse unchanged', () => {
    truncateSync(fact, Math.floor(saved.length / 2));
    const r = sp(dir, ['load', '--ds', DS]);
    writeFileSync(fact, saved);
    if (r.status !== 1) return `load exited ${r.status}`;
    if (!r.stderr.includes('fact_sales.parquet')) return `error does not name the file: ${r.stderr.slice(0, 500)}`;
    return dump() === before ? null : 'warehouse changed';
  });

  await check('failures: a fact missing from dim_product fails mid-load, rolled back', async () => {
    const dp = join(out, 'dim_product.parquet');
    const savedDp = readFileSync(dp);
    const mf = join(out, '_manifest.json');
    const savedM = readFileSync(mf);
    // DuckDB rewrites dim_product without its last product (same column types)
    const tmp = join(work, 'dp.parquet');
    await con.run(`COPY (SELECT * FROM read_parquet(${sqlStr(dp)}) ORDER BY product_id
        LIMIT (SELECT count(*) - 1 FROM read_parquet(${sqlStr(dp)}))) TO ${sqlStr(tmp)} (FORMAT parquet)`);
    copyFileSync(tmp, dp);
    const m = JSON.parse(savedM);
    m.tables.dim_product -= 1;
    writeFileSync(mf, JSON.stringify(m));
    const r = sp(dir, ['load', '--ds', DS]);
    writeFileSync(dp, savedDp);
    writeFileSync(mf, savedM);
    if (r.status !== 1) return `load exited ${r.status}: ${r.stderr.slice(0, 300)}`;
    if (!/fact_sales/.test(r.stderr) || !/dim_product/.test(r.stderr)) return `error: ${r.stderr.slice(0, 500)}`;
    return dump() === before ? null : 'warehouse changed';
  });

  await check('failures: transform failing to write (file size limit) leaves the published run intact', () => {
    const files = readdirSync(out).sort();
    const before = files.map((f) => readFileSync(join(out, f)));
    // SIGXFSZ ignored: writes past the limit fail with EFBIG instead of killing.
    const r = run('bash', ['-c', `trap '' XFSZ; ulimit -f 4; exec ${SALESPIPE} transform --ds ${DS}`], {
      cwd: dir, env: { PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '' },
    });
    if (r.status !== 1) return `transform exited ${r.status}: ${r.stderr.slice(0, 300)}`;
    if (!/File too large/.test(r.stderr)) return `error does not name the cause: ${r.stderr.slice(0, 400)}`;
    const after = readdirSync(out).sort();
    if (after.join() !== files.join()) return `files changed: ${after}`;
    if (!before.every((b, i) => b.equals(readFileSync(join(out, files[i]))))) return 'a published file changed';
    const left = readdirSync(join(dir, 'lake', 'processed')).filter((f) => f.startsWith('.tmp'));
    return left.length ? `work files left behind: ${left}` : null;
  });

  await check('failures: a missing required column fails transform naming file and column; nothing written', () => {
    const d2 = project('missing-column');
    const f = readFileSync(join(raw, 'West_orders.csv'), 'utf8').replace('Product ID', 'Product Code');
    writeFileSync(join(d2, 'data', 'raw', 'West_orders.csv'), f);
    const r = sp(d2, ['run', '--ds', DS]);
    if (r.status !== 1) return `run exited ${r.status}`;
    if (!r.stderr.includes('West_orders.csv') || !r.stderr.includes("'Product ID'")) return r.stderr.slice(0, 500);
    return existsSync(join(processed(d2, DS), '_manifest.json')) || existsSync(join(processed(d2, DS), 'fact_sales.parquet'))
      ? 'outputs were written' : null;
  });

  await check('failures: day-first and month-first dates in one file is an error naming both lines', () => {
    const d3 = project('date-conflict');
    const lines = readFileSync(join(raw, 'East_orders.csv'), 'utf8').split('\n');
    // make record 2 day-first-only and record 5 month-first-only
    const hdr = lines[0].split(',');
    const od = hdr.indexOf('Order Date');
    const set = (i, v) => { const c = lines[i].split(','); c[od] = v; lines[i] = c.join(','); };
    set(2, '25/03/2016');
    set(5, '03/25/2016');
    writeFileSync(join(d3, 'data', 'raw', 'East_orders.csv'), lines.join('\n'));
    const s = sp(d3, ['stage', '--ds', DS]);
    const t = sp(d3, ['transform', '--ds', DS]);
    if (s.status !== 0) return `stage exited ${s.status}`;
    if (t.status !== 1) return `transform exited ${t.status}`;
    return /day-first on line 3 \('25\/03\/2016'\) and month-first on line \d+/.test(t.stderr) ? null : t.stderr.slice(0, 500);
  });

  await check('failures: no input files → stage warns, transform fails clearly', () => {
    const d4 = project('empty');
    const s = sp(d4, ['stage', '--ds', DS]);
    const t = sp(d4, ['transform', '--ds', DS]);
    if (s.status !== 0 || !/no files matching/.test(s.stderr)) return `stage: ${s.status} ${s.stderr}`;
    return t.status === 1 && /no input files/.test(t.stderr) ? null : `transform: ${t.status} ${t.stderr}`;
  });

  await check('failures: preflight names an unwritable store and a missing input folder', () => {
    const d5 = join(work, 'preflight');
    mkdirSync(d5);
    writeFileSync(join(d5, 'afile'), 'x');
    const r = sp(d5, ['preflight'], { PROCESSED_STORE: join(d5, 'afile', 'lake') });
    if (r.status !== 1) return `preflight exited ${r.status}`;
    return /PROCESSED_STORE/.test(r.stderr) && /data\/raw/.test(r.stderr) ? null : r.stderr.slice(0, 600);
  });
}

try {
  await superstoreSuite();
  await dirtySuite();
  await failureSuite();
} finally {
  if (process.env.PIPELINE_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(`${tally.passed} passed, ${tally.failed} failed, ${skipped} skipped`);
process.exit(tally.failed ? 1 : 0);
