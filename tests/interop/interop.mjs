// interop.mjs — the real check of salespipe's Parquet codec: DuckDB reads the
// files our writer makes (build/pq_fixture write), and our reader
// (build/pq_fixture dump|meta, build/salespipe inspect --csv) reads the files
// DuckDB makes; values, types, statistics and codecs are compared one by one.
// Run through tests/interop/run.sh. It must never compare against constants:
// expected values come from the generator's CSV or from DuckDB itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  check, compareTables, parseCsv, run, runFailure, sameValue, sqlId, sqlStr, tally, typeClass,
} from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// INTEROP_BUILD=build/san runs the same checks on the ASan+UBSan binaries.
const build = resolve(root, process.env.INTEROP_BUILD ?? 'build');
const FIXTURE = join(build, 'pq_fixture');
const SALESPIPE = join(build, 'salespipe');
const work = mkdtempSync(join(tmpdir(), 'sp-interop-'));
const keep = process.env.INTEROP_KEEP === '1';

const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const rowsOf = async (sql) => (await con.runAndReadAll(sql)).getRows();

// ---- shared steps ------------------------------------------------------------

// DuckDB's view of a file: column names and types, and every value rendered
// by DuckDB itself as VARCHAR (DATE -> YYYY-MM-DD, DECIMAL -> exact digits).
async function duckTable(file) {
  const desc = await rowsOf(`DESCRIBE SELECT * FROM read_parquet(${sqlStr(file)})`);
  const names = desc.map((r) => r[0]);
  const types = desc.map((r) => r[1]);
  const list = names.length ? names.map((n) => `${sqlId(n)}::VARCHAR`).join(', ') : '1';
  const rows = await rowsOf(`SELECT ${list} FROM read_parquet(${sqlStr(file)})`);
  return { names, types, rows };
}

// Our reader, through the test tool.
function fixtureDump(file) {
  const r = run(FIXTURE, ['dump', file]);
  const bad = runFailure(r, 'pq_fixture dump');
  if (bad) return { error: bad };
  return { table: parseCsv(r.stdout) };
}

let inspectOk = null;
function inspectAvailable() {
  if (inspectOk === null) {
    const r = run(SALESPIPE, ['inspect', '--help']);
    inspectOk = r.status === 0;
    if (!inspectOk) console.log('note: `salespipe inspect --help` fails: its --csv checks are skipped');
  }
  return inspectOk;
}

// Our reader, through the CLI (only when it supports inspect).
function inspectDump(file, nrows) {
  const r = run(SALESPIPE, ['inspect', file, '--csv', '--head', String(Math.max(nrows, 1))]);
  const bad = runFailure(r, 'salespipe inspect --csv');
  if (bad) return { error: bad };
  return { table: parseCsv(r.stdout) };
}

// DuckDB's footer view, one entry per row group with its chunks in order.
async function duckMeta(file) {
  const rows = await rowsOf(`
    SELECT row_group_id, row_group_num_rows, column_id, path_in_schema, type,
           coalesce(stats_min_value, stats_min), coalesce(stats_max_value, stats_max),
           stats_null_count, compression, encodings, dictionary_page_offset,
           total_compressed_size, total_uncompressed_size, num_values
    FROM parquet_metadata(${sqlStr(file)}) ORDER BY row_group_id, column_id`);
  const groups = [];
  for (const r of rows) {
    const rg = Number(r[0]);
    groups[rg] ??= { rows: Number(r[1]), chunks: [] };
    groups[rg].chunks.push({
      name: r[3], physical: r[4], min: r[5], max: r[6],
      nullCount: r[7] === null ? null : Number(r[7]), codec: r[8],
      encodings: r[9] ? r[9].split(/,\s*/).sort() : [],
      dictionary: r[10] !== null, compressed: Number(r[11]), uncompressed: Number(r[12]),
      numValues: Number(r[13]),
    });
  }
  const schema = await rowsOf(`
    SELECT name, type, repetition_type, converted_type, scale, precision, logical_type, type_length
    FROM parquet_schema(${sqlStr(file)}) WHERE type IS NOT NULL`);
  return { groups, schema };
}

// Compare what our reader says about the footer (pq_fixture meta) with DuckDB.
async function compareMeta(file, duckTypes) {
  const r = run(FIXTURE, ['meta', file]);
  const bad = runFailure(r, 'pq_fixture meta');
  if (bad) return bad;
  let ours;
  try { ours = JSON.parse(r.stdout); } catch (e) { return `meta is not JSON: ${e.message}`; }
  const duck = await duckMeta(file);
  const total = duck.groups.reduce((s, g) => s + g.rows, 0);
  if (ours.num_rows !== total) return `num_rows: DuckDB ${total}, ours ${ours.num_rows}`;
  if (ours.columns.length !== duck.schema.length)
    return `columns: DuckDB ${duck.schema.length}, ours ${ours.columns.length}`;
  for (let i = 0; i < duck.schema.length; i++) {
    const [name, type, rep, conv, scale, prec, logical, tlen] = duck.schema[i];
    const c = ours.columns[i];
    const isDecimal = conv === 'DECIMAL' || /^Decimal/.test(logical ?? '');
    const wantLogical = isDecimal ? 'DECIMAL' : conv === 'DATE' ? 'DATE'
      : conv === 'UTF8' || /^String/.test(logical ?? '') ? 'STRING' : null;
    const where = `column ${i} (${name})`;
    if (c.name !== name) return `${where}: name ${JSON.stringify(c.name)}`;
    if (c.physical !== type) return `${where}: physical DuckDB ${type}, ours ${c.physical}`;
    if (wantLogical && c.logical !== wantLogical) return `${where}: logical DuckDB ${wantLogical}, ours ${c.logical}`;
    if (!wantLogical && !['NONE', 'OTHER'].includes(c.logical)) return `${where}: logical DuckDB none, ours ${c.logical}`;
    if (isDecimal && (c.scale !== Number(scale) || c.precision !== Number(prec)))
      return `${where}: DECIMAL(${prec},${scale}) read as DECIMAL(${c.precision},${c.scale})`;
    if (type === 'FIXED_LEN_BYTE_ARRAY' && c.type_length !== Number(tlen))
      return `${where}: type_length DuckDB ${tlen}, ours ${c.type_length}`;
    if (c.optional !== (rep === 'OPTIONAL')) return `${where}: repetition DuckDB ${rep}, ours optional=${c.optional}`;
  }
  if (ours.row_groups.length !== duck.groups.length)
    return `row groups: DuckDB ${duck.groups.length}, ours ${ours.row_groups.length}`;
  for (let g = 0; g < duck.groups.length; g++) {
    const dg = duck.groups[g], og = ours.row_groups[g];
    if (og.rows !== dg.rows) return `row group ${g}: rows DuckDB ${dg.rows}, ours ${og.rows}`;
    for (let i = 0; i < dg.chunks.length; i++) {
      const d = dg.chunks[i], o = og.chunks[i];
      const where = `row group ${g} column ${d.name}`;
      const cls = typeClass(duckTypes[i]);
      if (o.codec !== d.codec) return `${where}: codec DuckDB ${d.codec}, ours ${o.codec}`;
      if (o.num_values !== d.numValues) return `${where}: num_values DuckDB ${d.numValues}, ours ${o.num_values}`;
      if (o.compressed !== d.compressed || o.uncompressed !== d.uncompressed)
        return `${where}: sizes DuckDB ${d.compressed}/${d.uncompressed}, ours ${o.compressed}/${o.uncompressed}`;
      const oe = [...o.encodings].sort();
      if (oe.join() !== d.encodings.join()) return `${where}: encodings DuckDB ${d.encodings}, ours ${oe}`;
      if (o.dictionary !== d.dictionary) return `${where}: dictionary page DuckDB ${d.dictionary}, ours ${o.dictionary}`;
      const nc = o.null_count < 0 ? null : o.null_count;
      if (nc !== d.nullCount) return `${where}: null_count DuckDB ${d.nullCount}, ours ${nc}`;
      if (!sameValue(cls, d.min, o.min)) return `${where}: min DuckDB ${JSON.stringify(d.min)}, ours ${JSON.stringify(o.min)}`;
      if (!sameValue(cls, d.max, o.max)) return `${where}: max DuckDB ${JSON.stringify(d.max)}, ours ${JSON.stringify(o.max)}`;
    }
  }
  return null;
}

// Typed ordering for statistics checks; returns a comparator over strings.
function orderFor(duckType) {
  if (duckType === 'INTEGER' || duckType === 'BIGINT' || duckType === 'SMALLINT')
    return (a, b) => { const x = BigInt(a), y = BigInt(b); return x < y ? -1 : x > y ? 1 : 0; };
  if (duckType.startsWith('DECIMAL'))
    return (a, b) => { const x = BigInt(a.replace('.', '')), y = BigInt(b.replace('.', '')); return x < y ? -1 : x > y ? 1 : 0; };
  if (duckType === 'DOUBLE') return (a, b) => Number(a) - Number(b);
  if (duckType === 'BOOLEAN') return (a, b) => (a === b ? 0 : a === 'false' ? -1 : 1);
  return (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); // DATE (4-digit years), VARCHAR
}

// ---- files we write, read by DuckDB --------------------------------------------

// The schema the fixture kinds declare, in DuckDB's names: [name, type, optional].
const ALL_COLS = [
  ['id', 'BIGINT', false], ['i32', 'INTEGER', true], ['i64', 'BIGINT', true],
  ['flag', 'BOOLEAN', true], ['dbl', 'DOUBLE', true], ['name', 'VARCHAR', true],
  ['day', 'DATE', true], ['price', 'DECIMAL(9,2)', true], ['amount', 'DECIMAL(18,4)', false],
  ['code', 'VARCHAR', false], ['note', 'VARCHAR', false], ['nothing', 'INTEGER', true],
];
const KIND_COLS = {
  all: ALL_COLS,
  required: ALL_COLS.filter((c) => c[0] !== 'nothing').map(([n, t]) => [n, t, false]),
  fact: [['sale_date', 'DATE', false], ['store_id', 'VARCHAR', false], ['quantity', 'INTEGER', false],
    ['unit_price', 'DECIMAL(18,4)', false], ['gross', 'DECIMAL(18,4)', false],
    ['discount', 'DECIMAL(18,4)', false], ['net', 'DECIMAL(18,4)', false]],
};
const CODEC_NAME = { zstd: 'ZSTD', snappy: 'SNAPPY', gzip: 'GZIP', none: 'UNCOMPRESSED' };

const OURS = [
  { tag: 'all-zstd-5rg', kind: 'all', codec: 'zstd', rows: 5000, rg: 1000 },
  { tag: 'all-snappy', kind: 'all', codec: 'snappy', rows: 4000, rg: 1500 },
  { tag: 'all-none', kind: 'all', codec: 'none', rows: 3000, rg: 3000 },
  { tag: 'all-gzip', kind: 'all', codec: 'gzip', rows: 2000, rg: 600 },
  { tag: 'required-zstd', kind: 'required', codec: 'zstd', rows: 2500, rg: 700 },
  { tag: 'all-zstd-nodict', kind: 'all', codec: 'zstd', rows: 3000, rg: 1000, extra: ['--no-dict'] },
  // PLAIN integer pages (int_fallback plain: for readers without DELTA support)
  { tag: 'all-zstd-nodict-plain-ints', kind: 'all', codec: 'zstd', rows: 3000, rg: 1000,
    extra: ['--no-dict', '--int-fallback', 'plain'] },
  { tag: 'fact-snappy-plain-ints', kind: 'fact', codec: 'snappy', rows: 30000, rg: 8192,
    extra: ['--int-fallback', 'plain'] },
  { tag: 'all-zstd-dict-fallback', kind: 'all', codec: 'zstd', rows: 6000, rg: 6000, extra: ['--dict-max', '8192'] },
  { tag: 'all-zstd-small-pages', kind: 'all', codec: 'zstd', rows: 4000, rg: 4000, extra: ['--page-bytes', '2048'] },
  { tag: 'all-zstd-40rg', kind: 'all', codec: 'zstd', rows: 4000, rg: 100, extra: ['--batch', '333'] },
  { tag: 'all-zstd-1row', kind: 'all', codec: 'zstd', rows: 1, rg: 1000 },
  { tag: 'all-zstd-empty', kind: 'all', codec: 'zstd', rows: 0, rg: 1000 },
  { tag: 'fact-zstd', kind: 'fact', codec: 'zstd', rows: 30000, rg: 8192 },
  // DELTA_BINARY_PACKED (the writer's default int_fallback) in v1 data pages:
  // no dictionary at all, extremes that wrap every delta, levels, many small
  // pages, a single value, dictionary pages followed by DELTA pages in one
  // chunk, and the fact table's amounts after the dictionary probe gives up.
  // `delta` names the columns whose chunks must list DELTA_BINARY_PACKED.
  { tag: 'all-zstd-nodict-delta', kind: 'all', codec: 'zstd', rows: 3000, rg: 1000, extra: ['--no-dict'],
    delta: ['id', 'i32', 'i64', 'day', 'price', 'amount'] },
  { tag: 'required-snappy-nodict-delta', kind: 'required', codec: 'snappy', rows: 2500, rg: 2500, extra: ['--no-dict'],
    delta: ['id', 'i32', 'i64', 'day', 'price', 'amount'] },
  { tag: 'all-none-nodict-delta-small-pages', kind: 'all', codec: 'none', rows: 3000, rg: 3000,
    extra: ['--no-dict', '--page-bytes', '1000'], delta: ['id', 'i32', 'i64', 'day', 'price', 'amount'] },
  { tag: 'all-gzip-nodict-delta-1row', kind: 'all', codec: 'gzip', rows: 1, rg: 1000, extra: ['--no-dict'],
    delta: ['id', 'i32', 'i64', 'day', 'price', 'amount'] },
  { tag: 'all-zstd-dict-then-delta', kind: 'all', codec: 'zstd', rows: 6000, rg: 6000,
    extra: ['--dict-max', '2048', '--page-bytes', '256'], delta: ['id', 'i32', 'i64', 'day', 'price', 'amount'] },
  { tag: 'fact-zstd-delta', kind: 'fact', codec: 'zstd', rows: 50000, rg: 50000,
    delta: ['unit_price', 'gross', 'discount', 'net'] },
];

async function checkOurFile(cfg) {
  const file = join(work, `ours-${cfg.tag}.parquet`);
  const csv = join(work, `ours-${cfg.tag}.csv`);
  const cols = KIND_COLS[cfg.kind];
  const names = cols.map((c) => c[0]);
  const classes = cols.map((c) => typeClass(c[1]));
  const label = (what) => `ours/${cfg.tag}: ${what}`;

  let expected = null;
  await check(label('pq_fixture write'), () => {
    const r = run(FIXTURE, ['write', cfg.kind, file, csv, '--codec', cfg.codec, '--rows', String(cfg.rows),
      '--rg-rows', String(cfg.rg), ...(cfg.extra ?? [])]);
    const bad = runFailure(r, 'pq_fixture write');
    if (bad) return bad;
    expected = parseCsv(readFileSync(csv, 'utf8'));
    if (expected.header.join() !== names.join()) return `expected CSV header ${expected.header}`;
    if (expected.rows.length !== cfg.rows) return `expected CSV has ${expected.rows.length} rows, not ${cfg.rows}`;
    return null;
  });
  if (!expected) return;

  let duck = null;
  await check(label('DuckDB reads every value'), async () => {
    duck = await duckTable(file);
    return compareTables(expected.rows, { header: duck.names, rows: duck.rows }, names, classes);
  });

  await check(label('DuckDB sees the declared types and repetition'), async () => {
    const desc = await rowsOf(`DESCRIBE SELECT * FROM read_parquet(${sqlStr(file)})`);
    const schema = await rowsOf(`SELECT name, repetition_type FROM parquet_schema(${sqlStr(file)}) WHERE type IS NOT NULL`);
    for (let i = 0; i < cols.length; i++) {
      const [n, t, opt] = cols[i];
      if (!desc[i] || desc[i][0] !== n || desc[i][1] !== t)
        return `column ${i}: expected ${n} ${t}, DuckDB says ${desc[i] ? `${desc[i][0]} ${desc[i][1]}` : 'nothing'}`;
      const rep = opt ? 'OPTIONAL' : 'REQUIRED';
      if (schema[i][1] !== rep) return `column ${n}: expected ${rep}, file says ${schema[i][1]}`;
    }
    if (desc.length !== cols.length) return `DuckDB sees ${desc.length} columns, expected ${cols.length}`;
    return null;
  });

  await check(label('row groups, codec, statistics (parquet_metadata)'), async () => {
    const meta = await duckMeta(file);
    const wantGroups = cfg.rows === 0 ? [0, 1] : [Math.ceil(cfg.rows / cfg.rg)];
    if (!wantGroups.includes(meta.groups.length))
      return `expected ${wantGroups.join(' or ')} row groups of <= ${cfg.rg} rows, file has ${meta.groups.length}`;
    let start = 0;
    for (let g = 0; g < meta.groups.length; g++) {
      const mg = meta.groups[g];
      const want = Math.min(cfg.rg, cfg.rows - start);
      if (mg.rows !== want) return `row group ${g}: ${mg.rows} rows, expected ${want}`;
      const slice = expected.rows.slice(start, start + mg.rows);
      for (let c = 0; c < cols.length; c++) {
        const ch = mg.chunks[c];
        const where = `row group ${g} column ${names[c]}`;
        if (ch.codec !== CODEC_NAME[cfg.codec]) return `${where}: codec ${ch.codec}, expected ${CODEC_NAME[cfg.codec]}`;
        const vals = slice.map((r) => r[c]).filter((v) => v !== null);
        const nulls = slice.length - vals.length;
        if (ch.nullCount !== nulls) return `${where}: stats null_count ${ch.nullCount}, expected ${nulls}`;
        if (vals.length === 0) {
          if (ch.min !== null || ch.max !== null) return `${where}: all NULL but min/max ${ch.min}/${ch.max}`;
          continue;
        }
        if (ch.min === null || ch.max === null) return `${where}: no min/max statistics`;
        const cmp = orderFor(cols[c][1]);
        let lo = vals[0], hi = vals[0];
        for (const v of vals) { if (cmp(v, lo) < 0) lo = v; if (cmp(v, hi) > 0) hi = v; }
        if (cmp(ch.min, lo) !== 0) return `${where}: stats min ${JSON.stringify(ch.min)}, expected ${JSON.stringify(lo)}`;
        if (cmp(ch.max, hi) !== 0) return `${where}: stats max ${JSON.stringify(ch.max)}, expected ${JSON.stringify(hi)}`;
      }
      start += mg.rows;
    }
    return null;
  });

  if (cfg.extra?.includes('--no-dict')) {
    await check(label('no dictionary pages when dictionary is off'), async () => {
      const meta = await duckMeta(file);
      for (const [g, mg] of meta.groups.entries())
        for (const ch of mg.chunks)
          if (ch.dictionary || ch.encodings.some((e) => e.includes('DICTIONARY')))
            return `row group ${g} column ${ch.name}: ${ch.encodings} with dictionary=${ch.dictionary}`;
      return null;
    });
  }
  if (cfg.tag.includes('dict-fallback') || cfg.tag === 'all-zstd-5rg') {
    await check(label('dictionary for low-cardinality code, PLAIN fallback for high-cardinality note'), async () => {
      const meta = await duckMeta(file);
      const byName = (n) => meta.groups[0].chunks[names.indexOf(n)];
      const code = byName('code'), note = byName('note');
      if (!code.encodings.some((e) => e.includes('DICTIONARY'))) return `code encodings ${code.encodings}: no dictionary`;
      if (cfg.tag.includes('dict-fallback') && !note.encodings.includes('PLAIN'))
        return `note encodings ${note.encodings}: no PLAIN fallback with --dict-max 8192`;
      return null;
    });
  }

  if (cfg.delta) {
    await check(label('integer chunks list DELTA_BINARY_PACKED (parquet_metadata)'), async () => {
      const meta = await duckMeta(file);
      for (const [g, mg] of meta.groups.entries())
        for (const n of cfg.delta) {
          const ch = mg.chunks[names.indexOf(n)];
          if (!ch.encodings.includes('DELTA_BINARY_PACKED'))
            return `row group ${g} column ${n}: encodings ${ch.encodings}`;
        }
      return null;
    });
  }

  if (cfg.extra?.includes('plain')) {
    await check(label('no chunk uses DELTA_BINARY_PACKED with --int-fallback plain'), async () => {
      const meta = await duckMeta(file);
      let plain = 0;
      for (const [g, mg] of meta.groups.entries())
        for (const ch of mg.chunks) {
          if (ch.encodings.includes('DELTA_BINARY_PACKED'))
            return `row group ${g} column ${ch.name}: encodings ${ch.encodings}`;
          plain += ch.encodings.includes('PLAIN');
        }
      return plain > 0 ? null : 'no chunk lists PLAIN';
    });
  }

  await check(label('our reader round-trips (pq_fixture dump)'), () => {
    const d = fixtureDump(file);
    if (d.error) return d.error;
    return compareTables(expected.rows, d.table, names, classes);
  });

  await check(label('our reader footer view matches DuckDB (pq_fixture meta)'), async () =>
    compareMeta(file, cols.map((c) => c[1])));

  if (inspectAvailable()) {
    await check(label('salespipe inspect --csv'), () => {
      const d = inspectDump(file, cfg.rows);
      if (d.error) return d.error;
      return compareTables(expected.rows, d.table, names, classes, true);
    });
  }
}

// ---- files DuckDB writes, read by us -------------------------------------------

// One query of every type we handle; edge values on the first rows, NULLs
// sprinkled by residues, pseudo-random values from DuckDB's hash().
function sourceQuery(n) {
  const edge = ['plain', 'comma,inside', 'quote"inside"', `line'||chr(10)||'break`,
    `cr'||chr(13)||'lf'||chr(10)||'`, 'héllo wörld', '日本語', 'emoji 😀🎉', '', ' lead', 'a,b,"c"',
    'trailing ', 'NULL'];
  const edgeList = `[${edge.map((s) => `'${s}'`).join(', ')}]`;
  const dec = (hx, intMod, frac) => { // exact decimal text from a hash, then cast
    const h = `(${hx})`;
    return `((CASE WHEN ${h} % 2 = 0 THEN '-' ELSE '' END) || ((${h} // 7) % ${intMod})::VARCHAR || '.' ||
      lpad(((${h} // 3) % ${10 ** frac})::VARCHAR, ${frac}, '0'))`;
  };
  return `
  SELECT
    i::BIGINT AS id,
    (CASE WHEN i % 11 = 5 THEN NULL WHEN i = 0 THEN -2147483648 WHEN i = 1 THEN 2147483647
          ELSE (hash(i) % 4294967296)::BIGINT - 2147483648 END)::INTEGER AS i32,
    (CASE WHEN i % 13 = 6 THEN NULL WHEN i = 0 THEN -9223372036854775808 WHEN i = 1 THEN 9223372036854775807
          ELSE hash(i * 3)::HUGEINT - 9223372036854775808 END)::BIGINT AS i64,
    CASE WHEN i % 7 = 2 THEN NULL ELSE hash(i * 5) % 2 = 0 END AS flag,
    (CASE WHEN i % 9 = 4 THEN NULL WHEN i = 0 THEN -0.0 WHEN i = 1 THEN 1e300 WHEN i = 2 THEN 5e-324
          WHEN i % 2 = 0 THEN ((hash(i * 7) % 2000000000)::DOUBLE - 1e9) / 1024
          ELSE (hash(i * 7) % 1000000007)::DOUBLE / 7 END)::DOUBLE AS dbl,
    CASE WHEN i % 10 = 3 THEN NULL WHEN i % 3 = 0 THEN ${edgeList}[1 + (i // 3) % ${edge.length}]
         ELSE 'name-' || (hash(i * 11) % 100000)::VARCHAR END AS name,
    CASE WHEN i % 8 = 1 THEN NULL WHEN i = 0 THEN DATE '0001-01-01' WHEN i = 2 THEN DATE '9999-12-31'
         ELSE DATE '1900-01-01' + (hash(i * 13) % 73000)::INTEGER END AS day,
    (CASE WHEN i % 6 = 5 THEN NULL WHEN i = 0 THEN '-9999999.99' WHEN i = 2 THEN '9999999.99'
          ELSE ${dec('hash(i * 17)', 10000000, 2)} END)::DECIMAL(9,2) AS price,
    (CASE WHEN i = 0 THEN '-99999999999999.9999' WHEN i = 2 THEN '99999999999999.9999'
          ELSE ${dec('hash(i * 19)', 100000000000000, 4)} END)::DECIMAL(18,4) AS amount,
    (CASE WHEN i % 5 = 4 THEN NULL WHEN i = 0 THEN '-9999.9' ELSE ${dec('hash(i * 23)', 10000, 1)} END)::DECIMAL(5,1) AS small_dec,
    (CASE WHEN i % 4 = 3 THEN NULL WHEN i = 0 THEN '-99999999999999999999999999999999.999999'
          ELSE ${dec('hash(i * 29)::HUGEINT * 10000000000000 + hash(i * 31) % 10000000000000', '100000000000000000000000000000000', 6)} END)::DECIMAL(38,6) AS big_dec,
    'C' || (i % 37)::VARCHAR AS code,
    repeat('ü', (i % 40)::INTEGER) || i::VARCHAR AS note,
    NULL::INTEGER AS nothing
  FROM range(${n}) t(i)`;
}

const DUCKS = [
  { tag: 'v1-zstd', opts: 'COMPRESSION zstd, ROW_GROUP_SIZE 2048', rows: 10000 },
  { tag: 'v1-snappy', opts: 'COMPRESSION snappy, ROW_GROUP_SIZE 2048', rows: 10000 },
  { tag: 'v1-uncompressed', opts: 'COMPRESSION uncompressed, ROW_GROUP_SIZE 2048', rows: 10000 },
  { tag: 'v1-gzip', opts: 'COMPRESSION gzip, ROW_GROUP_SIZE 2048', rows: 10000 },
  { tag: 'v2-zstd', opts: 'COMPRESSION zstd, ROW_GROUP_SIZE 2048, PARQUET_VERSION v2', rows: 10000 },
  { tag: 'v2-snappy', opts: 'COMPRESSION snappy, ROW_GROUP_SIZE 2048, PARQUET_VERSION v2', rows: 10000 },
  { tag: 'v2-uncompressed', opts: 'COMPRESSION uncompressed, PARQUET_VERSION v2', rows: 10000 },
  { tag: 'v1-zstd-200k', opts: 'COMPRESSION zstd, ROW_GROUP_SIZE 100000', rows: 200000 },
  { tag: 'v2-zstd-200k', opts: 'COMPRESSION zstd, ROW_GROUP_SIZE 100000, PARQUET_VERSION v2', rows: 200000 },
  { tag: 'v1-zstd-empty', opts: 'COMPRESSION zstd', rows: 0 },
];

const encodingsSeen = new Set();

async function checkDuckFile(cfg) {
  const file = join(work, `duck-${cfg.tag}.parquet`);
  const label = (what) => `duckdb/${cfg.tag}: ${what}`;
  let duck = null;
  await check(label('DuckDB COPY'), async () => {
    await con.run(`COPY (${sourceQuery(cfg.rows)}) TO ${sqlStr(file)} (FORMAT parquet, ${cfg.opts})`);
    duck = await duckTable(file);
    const meta = await duckMeta(file);
    for (const g of meta.groups) for (const c of g.chunks) c.encodings.forEach((e) => encodingsSeen.add(e));
    return duck.rows.length === cfg.rows ? null : `DuckDB reads back ${duck.rows.length} rows`;
  });
  if (!duck) return;
  const classes = duck.types.map(typeClass);

  await check(label('our reader reads every value (pq_fixture dump)'), () => {
    const d = fixtureDump(file);
    if (d.error) return d.error;
    return compareTables(duck.rows, d.table, duck.names, classes);
  });

  await check(label('our reader footer view matches DuckDB (pq_fixture meta)'), async () =>
    compareMeta(file, duck.types));

  if (inspectAvailable()) {
    await check(label('salespipe inspect --csv'), () => {
      const d = inspectDump(file, cfg.rows);
      if (d.error) return d.error;
      return compareTables(duck.rows, d.table, duck.names, classes, true);
    });
  }
}

// A codec we do not implement must be a clean error, never a crash.
async function checkUnsupportedCodec() {
  const file = join(work, 'duck-lz4.parquet');
  await check('duckdb/v1-lz4_raw: our reader refuses an unsupported codec cleanly', async () => {
    await con.run(`COPY (${sourceQuery(3000)}) TO ${sqlStr(file)} (FORMAT parquet, COMPRESSION lz4_raw)`);
    const r = run(FIXTURE, ['dump', file]);
    if (r.signal) return `pq_fixture dump killed by ${r.signal}`;
    if (r.status === 0) return 'pq_fixture dump accepted LZ4_RAW pages (exit 0): the codec is not in pq_codec';
    if (!/lz4|codec|compress/i.test(r.stderr)) return `error does not name the codec: ${r.stderr.trim()}`;
    return null;
  });
}

// A truncated or garbled file must be a clean error too.
async function checkBrokenFiles() {
  const src = join(work, 'ours-all-zstd-5rg.parquet');
  let bytes;
  try { bytes = readFileSync(src); } catch { return; }
  const cases = [
    ['truncated footer', bytes.subarray(0, bytes.length - 10)],
    ['half the file', bytes.subarray(0, bytes.length >> 1)],
    ['empty file', Buffer.alloc(0)],
    ['bad magic', Buffer.concat([Buffer.from('XXXX'), bytes.subarray(4)])],
  ];
  for (const [what, data] of cases) {
    await check(`ours/broken: ${what} is a clean error`, () => {
      const f = join(work, 'broken.parquet');
      writeFileSync(f, data);
      const r = run(FIXTURE, ['dump', f]);
      if (r.signal) return `pq_fixture dump killed by ${r.signal}: ${r.stderr.slice(0, 500)}`;
      if (r.status === 0) return 'pq_fixture dump succeeded on a broken file';
      if (!r.stderr.includes(f)) return `error does not name the file: ${r.stderr.trim()}`;
      return null;
    });
  }
}

// ---- main ------------------------------------------------------------------------

try {
  for (const cfg of OURS) await checkOurFile(cfg);
  for (const cfg of DUCKS) await checkDuckFile(cfg);
  await checkUnsupportedCodec();
  await checkBrokenFiles();
  console.log(`note: encodings DuckDB used in the files we read: ${[...encodingsSeen].sort().join(', ')}`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`note: files kept in ${work}`);
}
if (tally.failed) console.log(`failed: ${tally.failures.join('; ')}`);
console.log(`${tally.passed} passed, ${tally.failed} failed`);
process.exitCode = tally.failed ? 1 : 0;
