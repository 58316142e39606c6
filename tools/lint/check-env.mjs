// check-env.mjs — `make lint` check that .env.example stays the one complete
// template: NAME=value lines only, each group under a comment, no duplicates;
// it names every configuration name salespipe knows (src/config/config.c),
// every root Terraform variable (infra/variables.tf, upper-cased) and every
// ${NAME} docker-compose.yml interpolates; secrets hold no real-looking value
// (empty or "change-me…"). Run from the project root. Exits 1 on a problem.
import { parse } from '@cdktf/hcl2json';
import { readFileSync } from 'node:fs';

const problems = [];
const lines = readFileSync('.env.example', 'utf8').split('\n');
const names = new Map();
let prev = '';
lines.forEach((raw, i) => {
  const line = raw.trim();
  const at = `.env.example:${i + 1}`;
  if (line && !line.startsWith('#')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) problems.push(`${at}: not a NAME=value line`);
    else {
      if (names.has(m[1])) problems.push(`${at}: ${m[1]} already set on line ${names.get(m[1]).line}`);
      names.set(m[1], { line: i + 1, value: m[2] });
      if (prev === '') problems.push(`${at}: ${m[1]} has no comment above it`);
      if (/(PASS|PASSWORD|SECRET|TOKEN)$/.test(m[1]) && m[2] !== '' && !m[2].startsWith('change-me'))
        problems.push(`${at}: ${m[1]} looks like a real secret; use an empty value or change-me`);
    }
  }
  prev = line;
});

const want = (source, list) => {
  for (const n of list) if (!names.has(n)) problems.push(`.env.example: ${n} is missing (${source})`);
};
const config = readFileSync('src/config/config.c', 'utf8');
want('src/config/config.c', [...config.matchAll(/^\s*\{"([A-Z][A-Z0-9_]*)",/gm)].map((m) => m[1]));
const tf = await parse('infra/variables.tf', readFileSync('infra/variables.tf', 'utf8'));
want('infra/variables.tf', Object.keys(tf.variable || {}).map((v) => v.toUpperCase()));
const compose = readFileSync('docker-compose.yml', 'utf8').replace(/\$\$/g, '');
want('docker-compose.yml', [...new Set([...compose.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]))]);

for (const p of problems) console.log(p);
if (!problems.length) console.log(`${names.size} names, each commented; covers config.c, infra/variables.tf, docker-compose.yml`);
process.exit(problems.length ? 1 : 0);
