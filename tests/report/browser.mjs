// browser.mjs — opens salespipe run reports in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core) and checks what a reader
// sees: the page loads with no console error and no request but the file
// itself; no dialog opens and no script runs (a hostile product id and
// category stay text); the SVG charts exist and their labelled figures
// equal the run's _manifest.json; a screenshot is saved.
// Usage: node browser.mjs SPEC.json — SPEC is a list of
//   {name, report, manifest, screenshot, expect: {outcome, attempts_min,
//    failed_attempts_min, hostile: [texts], gates: bool, facts: bool}}.
// Prints "ok NAME" / "FAIL NAME: why" lines; exit 1 when any failed.
import { chromium } from 'playwright-core';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let failed = 0;
const ok = (name) => console.log(`ok   ${name}`);
const bad = (name, why) => { console.log(`FAIL ${name}: ${String(why).slice(0, 1500)}`); failed++; };
const check = (name, cond, why) => (cond ? ok(name) : bad(name, why));

// "123.4500" → 1234500n (scale 4), exact.
const scaled = (s) => {
  const m = /^(-?)(\d+)(?:\.(\d{0,4}))?$/.exec(String(s).trim());
  if (!m) throw new Error(`not a decimal: ${s}`);
  const v = BigInt(m[2]) * 10000n + BigInt((m[3] || '').padEnd(4, '0'));
  return m[1] ? -v : v;
};

// A fresh profile each time (playwright passes it as --user-data-dir).
const profile = mkdtempSync(join(tmpdir(), 'salespipe-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// Anything but the reports themselves is refused (and recorded per page).
const allowed = new Set(spec.map((s) => pathToFileURL(s.report).href));
await context.route('**/*', (route) => (allowed.has(route.request().url()) ? route.continue() : route.abort()));

try {
  for (const s of spec) {
    const manifest = s.manifest ? JSON.parse(readFileSync(s.manifest, 'utf8')) : null;
    const url = pathToFileURL(s.report).href;
    const page = await context.newPage();
    const consoleErrors = [], requests = [], dialogs = [], pageErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('request', (r) => requests.push(r.url()));
    const resp = await page.goto(url, { waitUntil: 'load' });
    await page.waitForTimeout(300); // late errors, late requests
    const n = s.name;
    check(`${n}: page loads`, resp === null || resp.ok(), `status ${resp && resp.status()}`);
    check(`${n}: no console error`, consoleErrors.length === 0 && pageErrors.length === 0,
      JSON.stringify([...consoleErrors, ...pageErrors]));
    const foreign = requests.filter((r) => r !== url);
    check(`${n}: no request leaves the file`, foreign.length === 0, JSON.stringify(foreign));
    check(`${n}: no dialog`, dialogs.length === 0, JSON.stringify(dialogs));
    const facts = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      pwned: window.__pwned ?? null,
      outcome: document.querySelector('#outcome')?.textContent,
      attempts: document.querySelectorAll('svg#timeline g.attempt').length,
      failedAttempts: document.querySelectorAll('svg#timeline g.attempt.failed').length,
      text: document.body.textContent,
      bars: Object.fromEntries([...document.querySelectorAll('svg.chart')].map((svg) => [svg.id,
        [...svg.querySelectorAll('g.bar')].map((g) => [g.getAttribute('data-label'), g.getAttribute('data-value'),
          g.querySelector('text.val')?.textContent ?? null])])),
      inputs: [...document.querySelectorAll('tr.input')].map((tr) => ({
        file: tr.dataset.file, rows: tr.dataset.rows, kept: tr.dataset.kept, bytes: tr.dataset.bytes })),
      gates: [...document.querySelectorAll('tr.gate')].map((tr) => ({
        name: tr.dataset.gate, figure: tr.dataset.figure, passed: tr.dataset.passed })),
    }));
    check(`${n}: no script element, nothing ran`, facts.scripts === 0 && facts.pwned === null,
      `scripts ${facts.scripts}, __pwned ${facts.pwned}`);
    check(`${n}: outcome ${s.expect.outcome}`, facts.outcome === s.expect.outcome, facts.outcome);
    check(`${n}: timeline has every attempt`, facts.attempts >= s.expect.attempts_min,
      `${facts.attempts} bars, want >= ${s.expect.attempts_min}`);
    if (s.expect.failed_attempts_min)
      check(`${n}: failed attempts drawn with their error`, facts.failedAttempts >= s.expect.failed_attempts_min &&
        facts.text.includes(s.expect.error_text || ''), `${facts.failedAttempts} failed bars`);
    for (const h of s.expect.hostile || [])
      check(`${n}: hostile text shown as text: ${h.slice(0, 30)}`, facts.text.includes(h), 'not in the page text');
    for (const id of ['trend-rows-kept', 'trend-reject-rate', 'trend-duration'])
      check(`${n}: chart ${id}`, (facts.bars[id] || []).length >= 1, JSON.stringify(Object.keys(facts.bars)));
    if (manifest) {
      const rej = Object.fromEntries((facts.bars['rejects-by-reason'] || []).map(([l, v]) => [l, v]));
      const want = Object.fromEntries(Object.entries(manifest.rejected).map(([k, v]) => [k, String(v)]));
      check(`${n}: rejects chart equals the manifest`, JSON.stringify(rej) === JSON.stringify(want),
        `${JSON.stringify(rej)} vs ${JSON.stringify(want)}`);
      const rows = facts.inputs.map((i) => `${i.file}:${i.rows}:${i.kept}:${i.bytes}`).join(' ');
      const wantRows = manifest.inputs.map((i) => `${i.file}:${i.rows}:${i.kept}:${i.bytes}`).join(' ');
      check(`${n}: inputs table equals the manifest`, rows === wantRows, `${rows} vs ${wantRows}`);
      const total = scaled(manifest.sums.total_sales);
      for (const id of ['sales-by-month', 'sales-by-category', 'sales-by-region']) {
        const bars = facts.bars[id] || [];
        const sum = bars.reduce((a, [, v]) => a + scaled(v), 0n);
        const shown = bars.every(([, v, t]) => t === v);
        check(`${n}: ${id} sums to the manifest's total_sales`, bars.length > 0 && sum === total && shown,
          `${bars.length} bars, sum ${sum} vs ${total}, labels shown ${shown}`);
      }
      if (s.expect.regions) {
        const labels = (facts.bars['sales-by-region'] || []).map(([l]) => l).sort();
        check(`${n}: sales-by-region has the facts' regions`, JSON.stringify(labels) === JSON.stringify(s.expect.regions),
          JSON.stringify(labels));
      }
      const kept = facts.bars['trend-rows-kept'] || [];
      const last = kept[kept.length - 1];
      check(`${n}: newest trend bar is this run's rows kept`, last && last[1] === String(manifest.rows_kept),
        JSON.stringify(last));
      if (manifest.gates) {
        const got = facts.gates.map((g) => `${g.name}=${g.figure}:${g.passed}`).join(' ');
        const wantG = manifest.gates.map((g) => `${g.name}=${g.figure}:${g.passed ? 'passed' : 'failed'}`).join(' ');
        check(`${n}: gates table equals the manifest`, got === wantG, `${got} vs ${wantG}`);
      }
    } else {
      check(`${n}: says why there are no figures`, /no manifest|did not finish|belongs to run/.test(facts.text),
        'no explanation in the page');
    }
    await page.screenshot({ path: s.screenshot, fullPage: true });
    ok(`${n}: screenshot ${s.screenshot}`);
    await page.close();
  }
} catch (e) {
  bad('browser', e.stack || e);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
