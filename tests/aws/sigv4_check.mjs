// sigv4_check.mjs — an independent Signature Version 4 check for the AWS
// stand-ins of tests/aws (STS AssumeRole, Secrets Manager) and for RDS IAM
// tokens, written from AWS's SigV4 documents ("Create a canonical request",
// "Create a string to sign", "Calculate the signature", "Authenticating
// requests: using query parameters"), with Node's crypto — not salespipe's
// code, and not tests/s3/sigv4.mjs (which is S3-only).
import crypto from 'node:crypto';

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
// RFC 3986 unreserved characters stay; everything else is %XX, upper case.
export const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function canonicalQuery(pairs) {
  return pairs.map(([k, v]) => [enc(k), enc(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join('&');
}

// The hex signature of a request described by its parts.
export function signature({ method, path, query, headers, signedHeaders, payloadHash, amzDate, region, service, secret }) {
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${String(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const creq = [method, path, canonicalQuery(query), canonicalHeaders, signedHeaders.join(';'), payloadHash].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  let k = hmac('AWS4' + secret, amzDate.slice(0, 8));
  k = hmac(hmac(hmac(k, region), service), 'aws4_request');
  return hmac(k, toSign).toString('hex');
}

// A request signed in its Authorization header. keys: Map id → {secret, token}.
// Returns {ok, accessKey} or {ok: false, code, why}.
export function verifyHeaderSigned({ method, path, query = [], headers, body, keys, region, service }) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(headers.authorization || '');
  if (!m) return { ok: false, code: 'IncompleteSignature', why: 'no or malformed Authorization header' };
  const [, id, date, reg, svc, signed, sig] = m;
  const key = keys.get(id);
  if (!key) return { ok: false, code: 'InvalidClientTokenId', why: `unknown key ${id}` };
  const amzDate = headers['x-amz-date'] || '';
  if (!amzDate.startsWith(date)) return { ok: false, code: 'IncompleteSignature', why: 'credential date is not the x-amz-date' };
  if (reg !== region || svc !== service) return { ok: false, code: 'SignatureDoesNotMatch', why: `scope ${reg}/${svc}, expected ${region}/${service}` };
  const signedHeaders = signed.split(';');
  for (const h of ['host', 'x-amz-date', ...(key.token ? ['x-amz-security-token'] : [])]) {
    if (!signedHeaders.includes(h)) return { ok: false, code: 'IncompleteSignature', why: `${h} not signed` };
  }
  if (key.token && headers['x-amz-security-token'] !== key.token) return { ok: false, code: 'InvalidClientTokenId', why: 'wrong or missing session token' };
  const want = signature({ method, path, query, headers, signedHeaders, payloadHash: sha256(body), amzDate, region, service, secret: key.secret });
  if (want !== sig) return { ok: false, code: 'SignatureDoesNotMatch', why: 'signature differs' };
  const skew = Math.abs(Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`) - Date.now());
  if (skew > 15 * 60 * 1000) return { ok: false, code: 'SignatureDoesNotMatch', why: 'x-amz-date too far from now' };
  return { ok: true, accessKey: id };
}

// An RDS IAM token ("host:port/?Action=connect&DBUser=…&X-Amz-…"): checks every
// documented parameter and recomputes the signature. Returns [] when good,
// else the problems found.
export function verifyRdsToken(token, { host, port, user, region, keys, now = Date.now() }) {
  const bad = [];
  const prefix = `${host}:${port}/?`;
  if (!token.startsWith(prefix)) return [`does not start with ${prefix}`];
  if (token.includes('://')) bad.push('holds a scheme');
  const pairs = token.slice(prefix.length).split('&').map((kv) => {
    const i = kv.indexOf('=');
    return [decodeURIComponent(kv.slice(0, i)), decodeURIComponent(kv.slice(i + 1))];
  });
  const q = new Map(pairs);
  if (q.get('Action') !== 'connect') bad.push(`Action is ${q.get('Action')}`);
  if (q.get('DBUser') !== user) bad.push(`DBUser is ${q.get('DBUser')}, expected ${user}`);
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') bad.push('X-Amz-Algorithm');
  if (q.get('X-Amz-Expires') !== '900') bad.push(`X-Amz-Expires is ${q.get('X-Amz-Expires')}, expected 900`);
  if (q.get('X-Amz-SignedHeaders') !== 'host') bad.push(`X-Amz-SignedHeaders is ${q.get('X-Amz-SignedHeaders')}`);
  const amzDate = q.get('X-Amz-Date') || '';
  const t = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!(Math.abs(t - now) < 5 * 60 * 1000)) bad.push(`X-Amz-Date ${amzDate} is not now`);
  const cred = (q.get('X-Amz-Credential') || '').split('/');
  if (cred.length !== 5 || cred[1] !== amzDate.slice(0, 8) || cred[2] !== region || cred[3] !== 'rds-db' || cred[4] !== 'aws4_request') {
    bad.push(`X-Amz-Credential scope ${cred.slice(1).join('/')}, expected DATE/${region}/rds-db/aws4_request`);
  }
  const key = keys.get(cred[0]);
  if (!key) return [...bad, `unknown access key ${cred[0]}`];
  if ((key.token || undefined) !== q.get('X-Amz-Security-Token')) bad.push('X-Amz-Security-Token is not the session token of those credentials');
  const sig = q.get('X-Amz-Signature');
  const signedPairs = pairs.filter(([k]) => k !== 'X-Amz-Signature');
  // RDS tokens sign the hash of an empty payload (as AWS's SDKs make them).
  const want = signature({ method: 'GET', path: '/', query: signedPairs, headers: { host: `${host}:${port}` }, signedHeaders: ['host'],
    payloadHash: sha256(''), amzDate, region, service: 'rds-db', secret: key.secret });
  if (want !== sig) bad.push('X-Amz-Signature does not match the recomputed signature');
  return bad;
}
