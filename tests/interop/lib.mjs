// lib.mjs — shared helpers of the interop suite (tests/interop/interop.mjs):
// an RFC 4180 CSV parser that keeps NULL (empty field) apart from "" (quoted
// empty), typed value comparison, the pass/fail counter, process helpers.
// It must never decide what a value should be: expected values always come
// from the generator's CSV or from DuckDB, never from constants here.
import { spawnSync } from 'node:child_process';

// ---- CSV ---------------------------------------------------------------

// Parse CSV text into { header, rows }; a field is null when it is empty and
// unquoted, else its string value (quoted "" is the empty string).
export function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false, inQuotes = false, started = false;
  const endField = () => {
    row.push(!quoted && field === '' ? null : field);
    field = ''; quoted = false; started = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
      } else field += ch;
      continue;
    }
    if (ch === '"' && !started) { inQuotes = true; quoted = true; started = true; continue; }
    if (ch === ',') { endField(); continue; }
    if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++;
      endField(); rows.push(row); row = [];
      continue;
    }
    field += ch; started = true;
  }
  if (inQuotes) throw new Error('CSV ends inside a quoted field');
  if (started || row.length) { endField(); rows.push(row); }
  const header = rows.shift() ?? [];
  return { header, rows };
}

// ---- comparison ----------------------------------------------------------

// DuckDB type name -> comparison class.
export function typeClass(duckType) {
  if (duckType === 'DOUBLE' || duckType === 'FLOAT' || duckType === 'REAL') return 'float';
  if (duckType === 'BOOLEAN') return 'bool';
  return 'exact';
}

function normBool(v) {
  if (v === null) return null;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1' || s === 't') return 'true';
  if (s === 'false' || s === '0' || s === 'f') return 'false';
  return v;
}

// Equal values of one comparison class. `loose`: NULL and '' are the same
// (a CSV renderer that does not quote empty strings cannot tell them apart).
export function sameValue(cls, a, b, loose = false) {
  if (loose) { if (a === '') a = null; if (b === '') b = null; }
  if (a === null || b === null) return a === b;
  if (cls === 'float') {
    const x = Number(a), y = Number(b);
    if (Number.isNaN(x) && Number.isNaN(y)) return true;
    return x === y;
  }
  if (cls === 'bool') return normBool(a) === normBool(b);
  return a === b;
}

const show = (v) => (v === null ? 'NULL' : JSON.stringify(v));

// Compare expected rows with a parsed table { header, rows }. names: the
// expected column names; classes: one class per column. Returns null when
// equal, else a message naming the first differing row and column.
export function compareTables(expected, table, names, classes, loose = false) {
  const actual = table.rows;
  if (table.header.length !== names.length || table.header.some((h, i) => h !== names[i]))
    return `header differs: expected ${JSON.stringify(names)}, got ${JSON.stringify(table.header)}`;
  const n = Math.min(expected.length, actual.length);
  for (let r = 0; r < n; r++) {
    const e = expected[r], a = actual[r];
    if (a.length !== e.length) return `row ${r}: expected ${e.length} fields, got ${a.length}`;
    for (let c = 0; c < e.length; c++) {
      if (!sameValue(classes[c], e[c], a[c], loose))
        return `row ${r} column ${names[c]}: expected ${show(e[c])}, got ${show(a[c])}`;
    }
  }
  if (expected.length !== actual.length)
    return `expected ${expected.length} rows, got ${actual.length}`;
  return null;
}

// ---- counting --------------------------------------------------------------

export const tally = { passed: 0, failed: 0, failures: [] };

// One test: fn returns null/undefined on success or a failure message; a throw
// is a failure too.
export async function check(label, fn) {
  let msg;
  try { msg = await fn(); } catch (e) { msg = `exception: ${e?.stack ?? e}`; }
  if (msg) {
    tally.failed++;
    tally.failures.push(label);
    console.log(`FAIL ${label}: ${String(msg).slice(0, 2000)}`);
  } else {
    tally.passed++;
    console.log(`ok   ${label}`);
  }
}

// ---- processes -------------------------------------------------------------

// Run a command; returns { status, signal, stdout, stderr } with utf8 text.
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30, ...opts });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ? r.stdout.toString('utf8') : '',
    stderr: r.stderr ? r.stderr.toString('utf8') : (r.error ? String(r.error) : ''),
  };
}

// A failure message for a command that did not exit 0, else null.
export function runFailure(r, what) {
  if (r.signal) return `${what} killed by ${r.signal}: ${r.stderr.slice(0, 1000)}`;
  if (r.status !== 0) return `${what} exited ${r.status}: ${r.stderr.slice(0, 1000)}`;
  return null;
}

export const sqlStr = (s) => `'${s.replaceAll("'", "''")}'`;
export const sqlId = (s) => `"${s.replaceAll('"', '""')}"`;
