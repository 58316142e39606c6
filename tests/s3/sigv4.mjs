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

// presignUrl: url with SigV4 query authentication added (host is the only
// signed header, the payload UNSIGNED-PAYLOAD), valid for `expires` seconds.
export function presignUrl({ method, url, accessKey, secret, region = 'us-east-1', service = 's3', expires = 900, now = new Date() }) {
  const u = new URL(url);
  const amzDate = amzDateOf(now);
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const add = [
    ['X-Amz-Algorithm', ALGORITHM], ['X-Amz-Credential', `${accessKey}/${scope}`], ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(expires)], ['X-Amz-SignedHeaders', 'host'],
  ].map(([k, v]) => `${k}=${uriEncode(v)}`).join('&');
  const rawQuery = u.search ? `${u.search.slice(1)}&${add}` : add;
  const canonical = canonicalRequest({
    method, rawPath: u.pathname, rawQuery, headers: headerMap(['host', u.host]),
    signedHeaders: ['host'], payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const sig = signature(secret, amzDate.slice(0, 8), region, service, stringToSign(amzDate, scope, canonical));
  return `${u.origin}${u.pathname}?${rawQuery}&X-Amz-Signature=${sig}`;
}

// ---- verification -----------------------------------------------------------

export const MAX_SKEW_MS = 15 * 60 * 1000;

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) ? null : t;
}

// parseHeaderAuth / parseQueryAuth: what a request says about its own
// signature, from the Authorization header or from a presigned URL's query:
// { accessKey, scope: [date, region, service, terminator], signedHeaders,
// signature, amzDate, payloadHash, excludeQuery, expires }, or { error }.
function parseHeaderAuth(authz, one) {
  const space = authz.indexOf(' ');
  const algorithm = space < 0 ? authz : authz.slice(0, space);
  if (algorithm === 'AWS') return fail(400, 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  if (algorithm !== ALGORITHM) return fail(400, 'InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: authz });
  const parts = new Map();
  for (const item of authz.slice(space + 1).split(',')) {
    const t = item.trim();
    const eq = t.indexOf('=');
    if (eq > 0) parts.set(t.slice(0, eq), t.slice(eq + 1));
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!parts.get(name)) return fail(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; missing ${name}.`);
  }
  const cred = parts.get('Credential').split('/');
  if (cred.length !== 5) return fail(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  // SigV4 takes the time from x-amz-date, else from Date (any HTTP date).
  let amzDate = one('x-amz-date');
  if (amzDate === undefined && one('date') !== undefined) {
    const t = Date.parse(one('date'));
    amzDate = Number.isNaN(t) ? 'invalid' : amzDateOf(new Date(t));
  }
  const payloadHash = one('x-amz-content-sha256');
  if (payloadHash === undefined) return fail(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  return {
    accessKey: cred[0], scope: cred.slice(1), signedHeaders: parts.get('SignedHeaders').split(';'),
    signature: parts.get('Signature'), amzDate, payloadHash, excludeQuery: [], expires: null,
    malformed: 'AuthorizationHeaderMalformed',
  };
}

function parseQueryAuth(query, one) {
  const need = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
  if (!need.every((n) => query.has(n))) {
    return fail(400, 'AuthorizationQueryParametersError', `Query-string authentication version 4 requires the ${need.join(', ')} parameters.`);
  }
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) return fail(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const cred = query.get('X-Amz-Credential').split('/');
  if (cred.length !== 5) return fail(400, 'AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  const expires = Number(query.get('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 0) return fail(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  if (expires > 604800) return fail(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds');
  return {
    accessKey: cred[0], scope: cred.slice(1), signedHeaders: query.get('X-Amz-SignedHeaders').split(';'),
    signature: query.get('X-Amz-Signature'), amzDate: query.get('X-Amz-Date'),
    payloadHash: one('x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD', excludeQuery: ['X-Amz-Signature'], expires,
    malformed: 'AuthorizationQueryParametersError',
  };
}

function fail(...e) {
  return { error: e };
}

// verifyRequestAuth: checks a request's SigV4 signature as S3 does, from
// the Authorization header or a presigned URL's query. keys: Map id ->
// { secret, token|null }; region: the one expected, or '*'; now: ms since
// the epoch. Returns { accessKey, payloadHash, headers } when valid, else
// { error: [status, S3 code, message, extra elements] }. The body is not
// looked at: the caller checks it against payloadHash.
export function verifyRequestAuth({ method, rawPath, rawQuery, rawHeaders, keys, region: expectedRegion, now }) {
  const headers = headerMap(rawHeaders);
  const one = (n) => (headers.has(n) ? headers.get(n).join(',') : undefined);
  const query = new Map();
  for (const p of rawQuery.split('&')) {
    if (!p) continue;
    const eq = p.indexOf('=');
    query.set(percentDecode(eq < 0 ? p : p.slice(0, eq), true).toString(), percentDecode(eq < 0 ? '' : p.slice(eq + 1), true).toString());
  }
  const authz = one('authorization');
  const presigned = query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature') || query.has('X-Amz-Credential');
  if (authz !== undefined && presigned) {
    return fail(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { ArgumentName: 'Authorization', ArgumentValue: authz });
  }
  if (authz === undefined && !presigned) return fail(403, 'AccessDenied', 'Access Denied (the request carries no Authorization header and no presigned query).');
  const a = presigned ? parseQueryAuth(query, one) : parseHeaderAuth(authz, one);
  if (a.error) return a;

  const [credDate, region, service, terminator] = a.scope;
  const key = keys.get(a.accessKey);
  if (!key) return fail(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: a.accessKey });
  const when = parseAmzDate(a.amzDate);
  if (when === null) {
    return presigned
      ? fail(400, 'AuthorizationQueryParametersError', "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
      : fail(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const why = presigned ? 'Error parsing the X-Amz-Credential parameter' : 'The authorization header is malformed';
  if (credDate !== a.amzDate.slice(0, 8)) return fail(400, a.malformed, `${why}; Invalid credential date "${credDate}". This date is not the same as X-Amz-Date: "${a.amzDate.slice(0, 8)}".`);
  if (expectedRegion !== '*' && region !== expectedRegion) return fail(400, a.malformed, `${why}; the region '${region}' is wrong; expecting '${expectedRegion}'`, { Region: expectedRegion });
  if (service !== 's3') return fail(400, a.malformed, `${why}; incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminator !== 'aws4_request') return fail(400, a.malformed, `${why}; incorrect terminal "${terminator}". This endpoint uses "aws4_request".`);
  if (presigned) {
    if (now > when + a.expires * 1000) {
      return fail(403, 'AccessDenied', 'Request has expired', { 'X-Amz-Expires': a.expires, Expires: new Date(when + a.expires * 1000).toISOString().replace(/\.\d{3}/, ''), ServerTime: new Date(now).toISOString().replace(/\.\d{3}/, '') });
    }
    if (when - now > MAX_SKEW_MS) return fail(403, 'AccessDenied', 'Request is not valid yet');
  } else if (Math.abs(now - when) > MAX_SKEW_MS) {
    return fail(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.',
      { RequestTime: one('x-amz-date') ?? one('date'), ServerTime: new Date(now).toISOString().replace(/\.\d{3}/, ''), MaxAllowedSkewMilliseconds: MAX_SKEW_MS });
  }

  const notSigned = [];
  if (!a.signedHeaders.includes('host')) notSigned.push('host');
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && !a.signedHeaders.includes(name)) notSigned.push(name);
  }
  if (notSigned.length) return fail(403, 'AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: notSigned.join(', ') });

  const payloadHash = a.payloadHash;
  if (payloadHash.startsWith('STREAMING-')) return fail(501, 'NotImplemented', `The S3 test harness does not verify chunked (aws-chunked, ${payloadHash}) payloads.`);
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    return fail(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.', { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash });
  }

  const canonical = canonicalRequest({ method, rawPath, rawQuery, headers, signedHeaders: a.signedHeaders, payloadHash, excludeQuery: a.excludeQuery });
  const toSign = stringToSign(a.amzDate, a.scope.join('/'), canonical);
  const expected = signature(key.secret, credDate, region, service, toSign);
  if (expected !== a.signature) {
    const bytes = (s) => Buffer.from(s).toString('hex').match(/../g).join(' ');
    return fail(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: a.accessKey, StringToSign: toSign, SignatureProvided: a.signature, StringToSignBytes: bytes(toSign), CanonicalRequest: canonical, CanonicalRequestBytes: bytes(canonical) });
  }

  const token = presigned ? query.get('X-Amz-Security-Token') : one('x-amz-security-token');
  if (key.token !== null && token !== key.token) return fail(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  if (key.token === null && token !== undefined) return fail(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid (this access key takes no session token).');

  return { accessKey: a.accessKey, payloadHash, headers };
}
