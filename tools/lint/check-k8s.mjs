// check-k8s.mjs [DIR] — offline check of the Kubernetes manifests (default
// deploy/k8s) for `make lint`, no cluster needed. Each file opens with its
// README comment; its only placeholders are ${DS} and ${INPUTS} (what the
// docs' envsubst fills), and once they are filled every document parses as
// YAML and has the fields that matter: names, a ConfigMap of known salespipe
// names, Jobs whose pods never restart in place, whose $(VAR) references
// are defined, whose service account, ConfigMaps, Secrets and volumes exist;
// the map Job is Indexed with completions = ${INPUTS}; every container runs
// `salespipe COMMAND` with options that command takes (src/cli/commands.c),
// and the run's steps are all there in order. Prints problems; exits 1 on any.
import { parseAllDocuments } from 'yaml';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] || 'deploy/k8s';
const problems = [];
const SAMPLE = { DS: '2024-01-10', INPUTS: '4' };

// ---- what salespipe accepts ------------------------------------------------
// Configuration names: src/config/config.c's table and .env.example (which
// also holds libpq's PG* names); TMPDIR is where the work files go.
const config = readFileSync('src/config/config.c', 'utf8');
const knownNames = new Set([
  ...[...config.matchAll(/^\s*\{"([A-Z][A-Z0-9_]*)",/gm)].map((m) => m[1]),
  ...[...readFileSync('.env.example', 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]),
  'TMPDIR',
]);
// Commands and their options: src/cli/commands.c's command table, its
// option macros (#define OPT_DS {"--ds", "D", …}) expanded.
const cmdSrc = readFileSync('src/cli/commands.c', 'utf8');
const macros = new Map();
for (const m of cmdSrc.matchAll(/^#define\s+(\w+)\s+\{"(--[a-z-]+)",\s*(NULL|")/gm))
  macros.set(m[1], { opt: m[2], value: m[3] !== 'NULL' });
const commands = new Map();
const blocks = cmdSrc.split(/\{\s*\.name\s*=\s*"/).slice(1);
for (const b of blocks) {
  const name = b.slice(0, b.indexOf('"'));
  const opts = new Map();
  const optArea = b.slice(b.indexOf('.options'));
  for (const m of optArea.matchAll(/\{"(--[a-z-]+)",\s*(NULL|")/g)) opts.set(m[1], m[2] !== 'NULL');
  for (const [k, v] of macros) if (new RegExp(`\\b${k}\\b`).test(optArea)) opts.set(v.opt, v.value);
  commands.set(name, opts);
}
if (!commands.has('transform')) problems.push('src/cli/commands.c: no command table found');

// Check one container's salespipe command line; returns [command, options].
function checkCommand(at, argv) {
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
    problems.push(`${at}: command must be a list of strings`);
    return null;
  }
  if (argv[0] !== 'salespipe') {
    problems.push(`${at}: runs "${argv[0]}", not salespipe`);
    return null;
  }
  const cmd = argv[1];
  const opts = commands.get(cmd);
  if (!opts) {
    problems.push(`${at}: "salespipe ${cmd}" is not a salespipe command`);
    return null;
  }
  const seen = new Map();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { problems.push(`${at}: unexpected argument "${a}" after salespipe ${cmd}`); continue; }
    if (!opts.has(a)) { problems.push(`${at}: salespipe ${cmd} takes no option ${a}`); continue; }
    if (opts.get(a)) {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) problems.push(`${at}: ${a} needs a value`);
      seen.set(a, argv[++i]);
    } else seen.set(a, true);
  }
  if (seen.get('--ds') !== '$(DS)') problems.push(`${at}: salespipe ${cmd} must run with --ds $(DS)`);
  return [cmd, seen];
}

// ---- the files ---------------------------------------------------------------
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
if (!files.length) problems.push(`${dir}: no manifests`);
const docs = [];
for (const f of files) {
  const path = join(dir, f);
  let text = readFileSync(path, 'utf8');
  const head = text.split('\n').slice(0, 3);
  if (!head.every((l) => l.startsWith('#')) || !head[0].startsWith(`# ${f} — `))
    problems.push(`${path}: must open with its README comment ("# ${f} — what it is, how to use it")`);
  for (const m of text.matchAll(/\$\{([^}]*)\}/g))
    if (!(m[1] in SAMPLE)) problems.push(`${path}: placeholder \${${m[1]}} (only \${DS} and \${INPUTS} are filled)`);
  text = text.replace(/\$\{(DS|INPUTS)\}/g, (_, n) => SAMPLE[n]);
  for (const d of parseAllDocuments(text, { prettyErrors: true })) {
    for (const e of d.errors) problems.push(`${path}: YAML: ${e.message.split('\n')[0]}`);
    if (d.errors.length) continue;
    const o = d.toJS({ maxAliasCount: 100 });
    if (o === null || o === undefined) continue;
    docs.push({ path, raw: readFileSync(path, 'utf8'), o });
  }
}

const KINDS = { ConfigMap: 'v1', Secret: 'v1', ServiceAccount: 'v1', Job: 'batch/v1' };
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const defined = { ConfigMap: new Map(), Secret: new Map(), ServiceAccount: new Map(), Job: new Map() };
for (const { path, o } of docs) {
  const at = `${path}: ${o.kind} ${o.metadata && o.metadata.name}`;
  if (!(o.kind in KINDS)) { problems.push(`${path}: unexpected kind ${o.kind}`); continue; }
  if (o.apiVersion !== KINDS[o.kind]) problems.push(`${at}: apiVersion ${o.apiVersion}, expected ${KINDS[o.kind]}`);
  const name = o.metadata && o.metadata.name;
  if (typeof name !== 'string' || !DNS1123.test(name) || name.length > 63)
    problems.push(`${at}: metadata.name must be a DNS-1123 name of at most 63 characters`);
  defined[o.kind].set(name, o);
}

// ConfigMap and Secret keys: salespipe's names, string values.
for (const kind of ['ConfigMap', 'Secret']) {
  for (const [name, o] of defined[kind]) {
    const data = kind === 'ConfigMap' ? o.data : o.stringData;
    if (!data || typeof data !== 'object') { problems.push(`${kind} ${name}: no data`); continue; }
    for (const [k, v] of Object.entries(data)) {
      if (!knownNames.has(k)) problems.push(`${kind} ${name}: ${k} is not a salespipe configuration name`);
      if (typeof v !== 'string') problems.push(`${kind} ${name}: ${k} must be a string (quote it)`);
      if (kind === 'Secret' && v !== '') problems.push(`${kind} ${name}: ${k} holds a value; keep the example empty`);
    }
  }
}

// Jobs.
const steps = []; // [job name, container, command] in the order each pod runs them
for (const [name, job] of defined.Job) {
  const at = `Job ${name}`;
  const spec = job.spec || {};
  const pod = (spec.template && spec.template.spec) || {};
  if (!['Never', 'OnFailure'].includes(pod.restartPolicy)) problems.push(`${at}: restartPolicy must be Never or OnFailure`);
  const indexed = spec.completionMode === 'Indexed';
  if (indexed) {
    if (!Number.isInteger(spec.completions) || spec.completions < 1) problems.push(`${at}: Indexed needs completions >= 1`);
    if (!/^\s*completions:\s*\$\{INPUTS\}\s*$/m.test(docs.find((d) => d.o === job).raw))
      problems.push(`${at}: completions must be \${INPUTS}, the number of inputs of \`transform --list\``);
    if ((spec.backoffLimitPerIndex !== undefined || spec.podFailurePolicy) && pod.restartPolicy !== 'Never')
      problems.push(`${at}: backoffLimitPerIndex and podFailurePolicy need restartPolicy Never`);
  }
  if (pod.serviceAccountName && !defined.ServiceAccount.has(pod.serviceAccountName))
    problems.push(`${at}: service account ${pod.serviceAccountName} is not defined here`);
  const volumes = new Set((pod.volumes || []).map((v) => v.name));
  const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
  if (!(pod.containers || []).length) problems.push(`${at}: no containers`);
  const names = new Set(containers.map((c) => c.name));
  for (const r of (spec.podFailurePolicy && spec.podFailurePolicy.rules) || []) {
    const cn = r.onExitCodes && r.onExitCodes.containerName;
    if (cn && !names.has(cn)) problems.push(`${at}: podFailurePolicy names container ${cn}, which it does not have`);
    if (!['FailJob', 'FailIndex', 'Ignore', 'Count'].includes(r.action))
      problems.push(`${at}: podFailurePolicy action ${r.action} is not FailJob, FailIndex, Ignore or Count`);
    if (r.action === 'FailIndex' && spec.backoffLimitPerIndex === undefined)
      problems.push(`${at}: FailIndex needs backoffLimitPerIndex`);
  }
  for (const c of containers) {
    const cat = `${at}, container ${c.name}`;
    if (!c.image) problems.push(`${cat}: no image`);
    const env = new Set((c.env || []).map((e) => e.name));
    if (indexed) env.add('JOB_COMPLETION_INDEX');
    for (const src of c.envFrom || []) {
      const ref = src.configMapRef || src.secretRef;
      const kind = src.configMapRef ? 'ConfigMap' : 'Secret';
      const target = ref && defined[kind].get(ref.name);
      if (!target && !(ref && ref.optional)) problems.push(`${cat}: envFrom ${kind} ${ref && ref.name} is not defined here`);
      if (target) for (const k of Object.keys((kind === 'ConfigMap' ? target.data : target.stringData) || {})) env.add(k);
    }
    for (const a of [...(c.command || []), ...(c.args || [])])
      for (const m of String(a).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
        if (!env.has(m[1])) problems.push(`${cat}: $(${m[1]}) is not in its environment (Kubernetes would pass it literally)`);
    for (const vm of c.volumeMounts || [])
      if (!volumes.has(vm.name)) problems.push(`${cat}: mounts undefined volume ${vm.name}`);
    const r = checkCommand(cat, [...(c.command || []), ...(c.args || [])]);
    if (r) steps.push({ job: name, indexed, cmd: r[0], opts: r[1] });
  }
}

// The run's steps: an Indexed map by JOB_COMPLETION_INDEX, and one pod
// running merge, create-tables and load in this order.
const map = steps.find((s) => s.indexed && s.cmd === 'transform' && s.opts.get('--map-index') === '$(JOB_COMPLETION_INDEX)');
if (!map) problems.push(`${dir}: no Indexed Job running transform --map-index $(JOB_COMPLETION_INDEX)`);
const want = ['transform --merge', 'create-tables', 'load'];
const runsAll = [...defined.Job.keys()].some((j) => {
  const seq = steps.filter((s) => s.job === j).map((s) => (s.opts.get('--merge') ? 'transform --merge' : s.cmd));
  return seq.join(',') === want.join(',');
});
if (!runsAll) problems.push(`${dir}: no Job running ${want.join(', ')} in this order`);

for (const p of problems) console.log(p);
if (!problems.length) console.log(`${files.length} files, ${docs.length} documents, ${steps.length} salespipe commands: ok`);
process.exit(problems.length ? 1 : 0);
