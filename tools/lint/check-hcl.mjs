// check-hcl.mjs DIR — offline Terraform check for `make lint`: every .tf
// under DIR parses as HCL (@cdktf/hcl2json, the HCL library Terraform uses),
// and within each module every var.X and local.X is declared, every local
// module source exists, takes the arguments passed and gets its required
// ones, and every module.M.O names an output of M. Prints problems, one per
// line; exits 1 on any. It never contacts a provider or a registry.
import { parse } from '@cdktf/hcl2json';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] || 'infra');
const problems = [];
const META = new Set(['source', 'version', 'count', 'for_each', 'providers', 'depends_on']);

function tfDirs(dir, out = []) {
  const names = readdirSync(dir);
  if (names.some((n) => n.endsWith('.tf'))) out.push(dir);
  for (const n of names) {
    if (n === '.terraform' || n.startsWith('.')) continue;
    const p = join(dir, n);
    if (statSync(p).isDirectory()) tfDirs(p, out);
  }
  return out;
}

// Merge the JSON of every file of one module: blocks of the same kind add up.
async function loadModule(dir) {
  const mod = { variable: {}, output: {}, locals: {}, module: {}, body: [] };
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.tf')).sort()) {
    const file = join(dir, f);
    let json;
    try {
      json = await parse(relative(process.cwd(), file), readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(String(e.message || e).replace(/^parse config: /, ''));
      continue;
    }
    for (const [k, v] of Object.entries(json.variable || {})) mod.variable[k] = v[0];
    for (const [k, v] of Object.entries(json.output || {})) mod.output[k] = v[0];
    for (const l of json.locals || []) Object.assign(mod.locals, l);
    for (const [k, v] of Object.entries(json.module || {})) mod.module[k] = { ...v[0], file };
    mod.body.push({ file, json });
  }
  return mod;
}

// Strings of a block that are Terraform expressions (descriptions and error
// messages are prose and may mention var.x in passing).
function expressions(node, out = []) {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) node.forEach((n) => expressions(n, out));
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node))
      if (k !== 'description' && k !== 'error_message') expressions(v, out);
  return out;
}

const dirs = tfDirs(root);
const mods = new Map();
for (const d of dirs) mods.set(d, await loadModule(d));

for (const [dir, mod] of mods) {
  const where = relative(process.cwd(), dir) || '.';
  for (const { file, json } of mod.body) {
    const text = expressions(json).join('\n');
    for (const [, name] of text.matchAll(/\bvar\.([A-Za-z_][\w-]*)/g))
      if (!(name in mod.variable)) problems.push(`${relative(process.cwd(), file)}: var.${name} is not declared in ${where}`);
    for (const [, name] of text.matchAll(/\blocal\.([A-Za-z_][\w-]*)/g))
      if (!(name in mod.locals)) problems.push(`${relative(process.cwd(), file)}: local.${name} is not defined in ${where}`);
    for (const [, m, o] of text.matchAll(/\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)/g)) {
      const call = mod.module[m];
      if (!call) { problems.push(`${relative(process.cwd(), file)}: module.${m} is not declared`); continue; }
      const child = mods.get(resolve(dir, String(call.source)));
      if (child && !(o in child.output))
        problems.push(`${relative(process.cwd(), file)}: module.${m}.${o}: ${call.source} has no output "${o}"`);
    }
  }
  for (const [name, call] of Object.entries(mod.module)) {
    const src = String(call.source || '');
    if (!src.startsWith('./') && !src.startsWith('../')) continue; // registry modules: not offline
    const child = mods.get(resolve(dir, src));
    const at = `${relative(process.cwd(), call.file)}: module "${name}"`;
    if (!child || !existsSync(resolve(dir, src))) { problems.push(`${at}: source ${src} has no .tf files`); continue; }
    for (const arg of Object.keys(call))
      if (arg !== 'file' && !META.has(arg) && !(arg in child.variable))
        problems.push(`${at}: ${src} has no variable "${arg}"`);
    for (const [v, def] of Object.entries(child.variable))
      if (!('default' in def) && !(v in call)) problems.push(`${at}: required variable "${v}" of ${src} is not set`);
  }
}

if (!dirs.length) problems.push(`${root}: no .tf files`);
for (const p of problems) console.log(p);
if (!problems.length) {
  const files = [...mods.values()].reduce((n, m) => n + m.body.length, 0);
  console.log(`${files} files in ${dirs.length} modules parse; references resolve`);
}
process.exit(problems.length ? 1 : 0);
