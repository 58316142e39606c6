// check-compose.mjs [FILE] — offline check of docker-compose.yml for `make
// lint` (no Docker engine needed): the file parses as YAML (merge keys
// allowed), and every service, named volume and network it references is one
// it defines; depends_on conditions are valid, service_healthy targets have a
// healthcheck, a service outside any profile never depends on one inside a
// profile, build contexts exist. Prints problems, one per line; exits 1 on any.
import { parseDocument } from 'yaml';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const file = process.argv[2] || 'docker-compose.yml';
const base = dirname(resolve(file));
const problems = [];
const say = (m) => problems.push(`${file}: ${m}`);

const doc = parseDocument(readFileSync(file, 'utf8'), { merge: true, prettyErrors: true });
for (const e of doc.errors) say(`YAML: ${e.message.split('\n')[0]}`);
const c = doc.errors.length ? {} : doc.toJS({ maxAliasCount: 100 }) || {};

const services = c.services && typeof c.services === 'object' ? c.services : {};
if (!doc.errors.length && !Object.keys(services).length) say('no services');
const volumes = new Set(Object.keys(c.volumes || {}));
const networks = new Set(['default', ...Object.keys(c.networks || {})]);
const usedVolumes = new Set();
const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const names = (x) => (Array.isArray(x) ? x : x && typeof x === 'object' ? Object.keys(x) : []);
const profiled = (s) => Array.isArray(s.profiles) && s.profiles.length > 0;
// A volume source that is not a path (nor a variable standing for one) names a volume.
const isNamed = (src) => !/^([./~$]|[A-Za-z]:[\\/])/.test(src);

for (const [name, s] of Object.entries(services)) {
  const at = `service "${name}"`;
  if (!s || typeof s !== 'object') { say(`${at} is not a mapping`); continue; }
  if (!s.image && !s.build) say(`${at} has neither image nor build`);
  if (s.profiles !== undefined && !(Array.isArray(s.profiles) && s.profiles.every((p) => typeof p === 'string')))
    say(`${at}: profiles must be a list of names`);

  const deps = s.depends_on;
  for (const d of names(deps)) {
    const target = services[d];
    if (!target) { say(`${at} depends on undefined service "${d}"`); continue; }
    if (d === name) say(`${at} depends on itself`);
    if (!profiled(s) && profiled(target)) say(`${at} (no profile) depends on "${d}", which only runs in profile ${target.profiles.join(',')}`);
    const cond = Array.isArray(deps) ? 'service_started' : (deps[d] && deps[d].condition) || 'service_started';
    if (!CONDITIONS.has(cond)) say(`${at}: depends_on ${d}: unknown condition "${cond}"`);
    if (cond === 'service_healthy' && !(target.healthcheck && target.healthcheck.test && !target.healthcheck.disable))
      say(`${at} waits for "${d}" to be healthy, but "${d}" has no healthcheck`);
  }
  for (const l of s.links || []) {
    const d = String(l).split(':')[0];
    if (!services[d]) say(`${at} links to undefined service "${d}"`);
  }
  for (const v of s.volumes_from || []) {
    const d = String(v).replace(/^service:/, '').split(':')[0];
    if (!String(v).startsWith('container:') && !services[d]) say(`${at}: volumes_from undefined service "${d}"`);
  }
  if (s.extends && s.extends.service && !s.extends.file && !services[s.extends.service])
    say(`${at} extends undefined service "${s.extends.service}"`);
  if (typeof s.network_mode === 'string' && s.network_mode.startsWith('service:') && !services[s.network_mode.slice(8)])
    say(`${at}: network_mode names undefined service "${s.network_mode.slice(8)}"`);

  for (const v of s.volumes || []) {
    let src, type;
    if (typeof v === 'string') {
      const parts = v.split(':');
      if (parts.length < 2) continue; // an anonymous volume
      src = parts[0];
      type = isNamed(src) ? 'volume' : 'bind';
    } else if (v && typeof v === 'object') {
      src = v.source;
      type = v.type;
      if (!v.target) say(`${at}: a volume without a target`);
    }
    if (type === 'volume' && src) {
      usedVolumes.add(src);
      if (!volumes.has(src)) say(`${at} mounts undefined volume "${src}"`);
    }
  }
  for (const n of names(s.networks))
    if (!networks.has(n)) say(`${at} joins undefined network "${n}"`);

  if (s.build) {
    const ctx = resolve(base, typeof s.build === 'string' ? s.build : s.build.context || '.');
    const df = typeof s.build === 'object' && s.build.dockerfile ? s.build.dockerfile : 'Dockerfile';
    if (!existsSync(ctx)) say(`${at}: build context ${ctx} does not exist`);
    else if (!existsSync(resolve(ctx, df))) say(`${at}: ${df} not found in the build context`);
  }
}
for (const v of volumes) if (!usedVolumes.has(v)) say(`volume "${v}" is defined but no service mounts it`);

for (const p of problems) console.log(p);
if (!problems.length)
  console.log(`${Object.keys(services).length} services, ${volumes.size} volumes: every reference is defined`);
process.exit(problems.length ? 1 : 0);
