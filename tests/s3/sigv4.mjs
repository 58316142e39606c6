// sigv4.mjs — AWS Signature Version 4 as S3 computes it, for the S3 test
// harness (tests/s3): proxy.mjs verifies client requests with it, selftest.mjs
// signs its own requests and checks it against AWS's published vectors.
// Node stdlib only. It is the independent check of the C signer, so it must
// never borrow from src/; it is test code, never shipped.
import { createHash, createHmac } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

export function sha256Hex(data) {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key, data) {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// isUnreserved: RFC 3986 unreserved bytes, the only ones SigV4 leaves as is.
function isUnreserved(b) {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
         (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e ||
         b === 0x5f || b === 0x7e;
}

// uriEncode: percent-encode every byte but the unreserved ones (and '/' when
// keepSlash), upper-case hex. Takes a string (UTF-8) or the raw bytes.
export function uriEncode(input, keepSlash = false) {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// percentDecode: the bytes a URL component stands for. Lenient like S3: a '%'
// not followed by two hex digits stays a literal '%'. plusIsSpace for query
// strings, where the servers behind us (s3rver, koa) read '+' as a space.
export function percentDecode(s, plusIsSpace = false) {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b === 0x25 && i + 2 < src.length && /^[0-9a-fA-F]{2}$/.test(src.toString('latin1', i + 1, i + 3))) {
      out[n++] = parseInt(src.toString('latin1', i + 1, i + 3), 16);
      i += 2;
    } else if (plusIsSpace && b === 0x2b) {
      out[n++] = 0x20;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n);
}

// canonicalUri: S3's canonical path. Each segment of the path as received is
// decoded and encoded once (S3 neither normalises '.'/'..'/'//' nor encodes
// twice, unlike the other services), so a client that signs "a%3Db" but sends
// "a=b" matches, and one that signs "a=b" does not — as on AWS.
export function canonicalUri(rawPath) {
  if (rawPath === '' || rawPath === undefined) return '/';
  return rawPath.split('/').map((seg) => uriEncode(percentDecode(seg))).join('/');
}

// canonicalQuery: parameters decoded, encoded, sorted by encoded name then
// value, "name=" for an empty or missing value. exclude lists decoded names
// left out (X-Amz-Signature for presigned URLs).
export function canonicalQuery(rawQuery, exclude = []) {
  if (!rawQuery) return '';
  const pairs = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const name = percentDecode(rawName, true);
    if (exclude.includes(name.toString('utf8'))) continue;
    pairs.push([uriEncode(name), uriEncode(percentDecode(rawValue, true))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

// headerMap: lower-cased name -> list of values, from node's rawHeaders
// (a flat [name, value, name, value, …] list) so repeated headers survive.
export function headerMap(rawHeaders) {
  const m = new Map();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!m.has(name)) m.set(name, []);
    m.get(name).push(rawHeaders[i + 1]);
  }
  return m;
}

// canonicalHeaderValue: values trimmed, runs of spaces collapsed, repeated
// headers joined with ','.
export function canonicalHeaderValue(values) {
  return values.map((v) => String(v).trim().replace(/[ \t]+/g, ' ')).join(',');
}

// canonicalRequest: the six lines SigV4 hashes. headers is a headerMap;
// signedHeaders the lower-case names the client listed, in its order (which
// must be sorted for the client's own signature to match).
export function canonicalRequest({ method, rawPath, rawQuery, headers, signedHeaders, payloadHash, excludeQuery = [] }) {
  const lines = [method, canonicalUri(rawPath), canonicalQuery(rawQuery, excludeQuery)];
  for (const name of signedHeaders) {
    lines.push(`${name}:${canonicalHeaderValue(headers.get(name) || [])}`);
  }
  lines.push('', signedHeaders.join(';'), payloadHash);
  return lines.join('\n');
}

export function stringToSign(amzDate, scope, canonical) {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secret, date, region, service) {
  const kDate = hmac('AWS4' + secret, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export function signature(secret, date, region, service, toSign) {
  return createHmac('sha256', signingKey(secret, date, region, service)).update(toSign, 'utf8').digest('hex');
}

// amzDateOf: ISO 8601 basic format, as x-amz-date carries it.
export function amzDateOf(d) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// signRequest: headers (a plain object, names as the caller wants them sent)
// gain x-amz-date, x-amz-content-sha256 (unless already set) and
// Authorization; every header given is signed. Returns the headers.
export function signRequest({ method, url, headers, body = '', accessKey, secret, region = 'us-east-1', service = 's3', now = new Date() }) {
  const u = new URL(url);
  const out = { ...headers };
  const get = (n) => Object.entries(out).find(([k]) => k.toLowerCase() === n)?.[1];
  const has = (n) => get(n) !== undefined;
  if (!has('host')) out.host = u.host;
  if (!has('x-amz-date')) out['x-amz-date'] = amzDateOf(now);
  const amzDate = get('x-amz-date');
  const date = amzDate.slice(0, 8);
  if (!has('x-amz-content-sha256')) out['x-amz-content-sha256'] = sha256Hex(body);
  const payloadHash = get('x-amz-content-sha256');
  const raw = Object.entries(out).flatMap(([k, v]) => [k, String(v)]);
  const map = headerMap(raw);
  const signed = [...map.keys()].sort();
  const canonical = canonicalRequest({
    method, rawPath: u.pathname, rawQuery: u.search.replace(/^\?/, ''),
    headers: map, signedHeaders: signed, payloadHash,
  });
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sig = signature(secret, date, region, service, stringToSign(amzDate, scope, canonical));
  out.authorization = `${ALGORITHM} Credential=${accessKey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
  return out;
}
