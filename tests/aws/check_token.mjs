// check_token.mjs — RDS IAM tokens checked independently (sigv4_check.mjs):
//   node check_token.mjs token KEYS HOST PORT USER REGION FILE   one token in FILE
//   node check_token.mjs logins KEYS HOST PORT USER REGION FILE  the fake PostgreSQL's
//       recorded logins (JSON): each over TLS, for USER, with a valid token;
//       two of them, with different tokens (a fresh one per connection)
// KEYS: "id:secret:token,…", the credentials the stand-ins handed out.
// Prints "valid" or the problems found.
import fs from 'node:fs';
import { verifyRdsToken } from './sigv4_check.mjs';

const [mode, keyList, host, port, user, region, file] = process.argv.slice(2);
const keys = new Map(keyList.split(',').map((e) => {
  const [id, secret, token] = e.split(':');
  return [id, { secret, token }];
}));
const opts = { host, port, user, region, keys };
let problems;
if (mode === 'token') {
  problems = verifyRdsToken(fs.readFileSync(file, 'utf8').trim(), opts);
} else {
  const logins = JSON.parse(fs.readFileSync(file, 'utf8'));
  problems = logins.flatMap((l, i) => [
    ...(l.tls ? [] : [`login ${i} without TLS`]),
    ...(l.params.user === user ? [] : [`login ${i} user ${l.params.user}`]),
    ...verifyRdsToken(l.password, opts).map((p) => `login ${i}: ${p}`),
  ]);
  if (logins.length !== 2) problems.push(`${logins.length} logins, expected 2`);
  else if (logins[0].password === logins[1].password) problems.push('the same token twice');
}
console.log(problems.length ? problems.join('; ') : 'valid');
