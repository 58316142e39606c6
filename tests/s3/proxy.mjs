// proxy.mjs — the S3 test harness's front door (tests/s3, started by
// server.sh): every client request is checked here as AWS would (SigV4
// signature, payload hash, Content-MD5 / x-amz-checksum-*, multipart rules
// s3rver lacks), then streamed to s3rver and the answer streamed back
// unchanged. Faults (503, SlowDown, 500, reset, timeout before the request
// is handled; drop-response after s3rver acted on it) are injected on
// request through an unsigned admin API under /__admin. Loopback only; it must
// never accept a request AWS would refuse for its signature or its payload.
//
// Usage: node proxy.mjs --backend http://127.0.0.1:PORT [--port N]
//          [--port-file FILE] [--tmpdir DIR] [--watch-pid PID --kill-pid PID]
// Env: PROXY_KEYS="id:secret[:session-token],…" (default S3RVER:S3RVER),
//      PROXY_REGION (default us-east-1; "*" accepts any region).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { percentDecode, verifyRequestAuth } from './sigv4.mjs';

// ---- configuration ---------------------------------------------------------

function parseArgs(argv) {
  const opts = { backend: null, port: 0, portFile: null, tmpdir: os.tmpdir(), watchPid: 0, killPid: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--backend') opts.backend = new URL(value);
    else if (flag === '--port') opts.port = Number(value);
    else if (flag === '--port-file') opts.portFile = value;
    else if (flag === '--tmpdir') opts.tmpdir = value;
    else if (flag === '--watch-pid') opts.watchPid = Number(value);
    else if (flag === '--kill-pid') opts.killPid = Number(value);
    else usage(`unknown option ${flag}`);
  }
  if (!opts.backend) usage('--backend is required');
  return opts;
}

function usage(why) {
  process.stderr.write(`proxy.mjs: ${why}\nusage: node proxy.mjs --backend URL [--port N] [--port-file FILE] [--tmpdir DIR] [--watch-pid PID --kill-pid PID]\n`);
  process.exit(2);
}

function parseKeys(spec) {
  const keys = new Map();
  for (const item of spec.split(',')) {
    if (!item) continue;
    const [id, secret, token] = item.split(':');
    if (!id || !secret) usage(`PROXY_KEYS entry "${item}" is not id:secret[:token]`);
    keys.set(id, { id, secret, token: token || null });
  }
  return keys;
}

const opts = parseArgs(process.argv.slice(2));
const KEYS = parseKeys(process.env.PROXY_KEYS || 'S3RVER:S3RVER');
const REGION = process.env.PROXY_REGION || 'us-east-1';
const BACKEND_KEY = 'S3RVER';           // the only key s3rver knows; it checks no v4 signature
const MEMORY_SPOOL = 1024 * 1024;        // bodies above this go to a temp file
const MIN_PART = 5 * 1024 * 1024;
const MAX_COMPLETE_BODY = 16 * 1024 * 1024;
const MAX_RESPONSE_PEEK = 1024 * 1024;   // CreateMultipartUpload answers are tiny
const LOG_CAP = 100000;
const DEFAULT_TIMEOUT_MS = 30000;

// ---- state -----------------------------------------------------------------

const uploads = new Map();   // uploadId -> { bucket, key, uploadId, state, parts: Map(n -> {size, etag}) }
let log = [];
let faults = [];
let nextFaultId = 1;
const hung = new Set();      // sockets held by a 'timeout' fault
let spoolSeq = 0;

// ---- S3 answers ------------------------------------------------------------

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

function requestId() {
  return randomBytes(8).toString('hex').toUpperCase();
}

// s3Error: an answer in S3's XML error format. extra adds elements after
// Message, as AWS does (StringToSign, CanonicalRequest, …).
function s3Error(res, ctx, status, code, message, extra = {}) {
  if (ctx.dropResponse) { ctx.entry.code = code; return dropAnswer(res, ctx); }
  const id = requestId();
  const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<Resource>${xmlEscape(ctx.path)}</Resource><RequestId>${id}</RequestId></Error>`;
  ctx.entry.status = status;
  ctx.entry.code = code;
  ctx.entry.responseBytes = ctx.method === 'HEAD' ? 0 : Buffer.byteLength(body);
  const headers = { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), 'x-amz-request-id': id };
  if (ctx.closeAfter) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

// answerEarly: answer before (or instead of) reading the body. A client that
// asked "Expect: 100-continue" has sent nothing yet: answer and close. One
// that is sending a body gets its answer once the body is drained, so it
// reads the answer rather than a broken pipe.
function answerEarly(req, res, ctx, fn) {
  if (req.complete || !ctx.hasBody) return fn();
  if (ctx.expectContinue && !ctx.continued) {
    ctx.closeAfter = true;
    return fn();
  }
  req.on('end', fn);
  req.on('error', () => {});
  req.resume();
}

// ---- the request log and fault rules ---------------------------------------

function pushLog(entry) {
  if (log.length >= LOG_CAP) log.shift();
  log.push(entry);
}

function compileFault(spec) {
  const actions = ['503', 'slowdown', '500', 'reset', 'timeout', 'drop-response'];
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('a fault is a JSON object');
  const action = String(spec.action ?? '');
  if (!actions.includes(action)) throw new Error(`action must be one of ${actions.join(', ')}`);
  const count = spec.count === undefined ? 1 : spec.count;
  if (!(count === null || count === -1 || (Number.isInteger(count) && count >= 1))) throw new Error('count is an integer >= 1, or -1 / null for every match');
  const after = spec.after === undefined ? 0 : spec.after;
  if (!Number.isInteger(after) || after < 0) throw new Error('after is an integer >= 0');
  const ms = spec.ms === undefined ? DEFAULT_TIMEOUT_MS : spec.ms;
  if (!Number.isInteger(ms) || ms < 1 || ms > 600000) throw new Error('ms is an integer in 1..600000');
  for (const k of Object.keys(spec)) {
    if (!['method', 'path', 'query', 'action', 'count', 'after', 'ms'].includes(k)) throw new Error(`unknown field "${k}"`);
  }
  const rule = {
    id: nextFaultId++,
    method: spec.method ? String(spec.method).toUpperCase() : null,
    path: spec.path ?? null,
    query: spec.query ?? null,
    action,
    count: count === null || count === -1 ? null : count,
    after,
    ms,
    applied: 0,
  };
  // Compile now so a bad regex is the caller's 400, not our crash later.
  rule.pathRe = rule.path === null ? null : new RegExp(String(rule.path));
  rule.queryRe = rule.query === null ? null : new RegExp(String(rule.query));
  return rule;
}

function publicFault(r) {
  return { id: r.id, method: r.method, path: r.path, query: r.query, action: r.action, count: r.count, after: r.after, ms: r.ms, applied: r.applied };
}

// takeFault: the first live rule matching this request, with its counters
// moved on; null when none applies.
function takeFault(entry) {
  for (const r of faults) {
    if (r.count === 0) continue;
    if (r.method && r.method !== entry.method) continue;
    if (r.pathRe && !r.pathRe.test(entry.path)) continue;
    if (r.queryRe && !r.queryRe.test(entry.query)) continue;
    if (r.after > 0) { r.after--; continue; }
    if (r.count !== null) r.count--;
    r.applied++;
    return r;
  }
  return null;
}

function resetSocket(socket) {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

// dropAnswer: the 'drop-response' fault. The request has been handled
// (forwarded to s3rver, which acted on it, or answered here); its answer is
// never sent: the connection is reset instead, as when a response is lost
// after the server did the work. The log entry keeps status null.
function dropAnswer(res, ctx) {
  ctx.entry.status = null;
  if (res.socket) resetSocket(res.socket);
  else res.destroy();
}

function applyFault(req, res, ctx, rule) {
  ctx.entry.fault = rule.action;
  switch (rule.action) {
    case '503':
      return answerEarly(req, res, ctx, () => s3Error(res, ctx, 503, 'ServiceUnavailable', 'Service is unable to handle request (injected by the harness).'));
    case 'slowdown':
      return answerEarly(req, res, ctx, () => s3Error(res, ctx, 503, 'SlowDown', 'Please reduce your request rate (injected by the harness).'));
    case '500':
      return answerEarly(req, res, ctx, () => s3Error(res, ctx, 500, 'InternalError', 'We encountered an internal error. Please try again (injected by the harness).'));
    case 'reset':
      // Mid-request: after the headers, and after the first piece of the body
      // when one is coming, the connection goes away without an answer.
      if (!ctx.hasBody || req.complete || ctx.expectContinue) return resetSocket(req.socket);
      req.once('data', () => resetSocket(req.socket));
      req.once('end', () => resetSocket(req.socket));
      return undefined;
    case 'timeout': {
      // Take the whole request, never answer; drop the connection after
      // rule.ms so nothing is held for ever.
      const socket = req.socket;
      if (ctx.expectContinue) res.writeContinue();
      req.on('error', () => {});
      req.resume();
      hung.add(socket);
      const timer = setTimeout(() => socket.destroy(), rule.ms);
      socket.once('close', () => { clearTimeout(timer); hung.delete(socket); });
      return undefined;
    }
    default:
      throw new Error(`unreachable fault action ${rule.action}`);
  }
}

// ---- SigV4 verification (the rules are in sigv4.mjs verifyRequestAuth) -------

// verifyAuth: null when the request's headers carry a valid SigV4 header
// signature, else [status, code, message, extra]. Sets ctx.payloadHash,
// ctx.accessKey and ctx.headers on success. Checks nothing about the body:
// see checkBody.
function verifyAuth(req, ctx) {
  const got = verifyRequestAuth({
    method: ctx.method, rawPath: ctx.rawPath, rawQuery: ctx.rawQuery, rawHeaders: req.rawHeaders,
    keys: KEYS, region: REGION, now: Date.now(),
  });
  if (got.error) return got.error;
  ctx.payloadHash = got.payloadHash;
  ctx.accessKey = got.accessKey;
  if (ctx.entry) ctx.entry.accessKey = got.accessKey; // which credentials signed it (tests/aws)
  ctx.headers = got.headers;
  return null;
}

// ---- the body: spooled, hashed, then checked ----------------------------------

// crc32Table / crc32: the two CRCs of x-amz-checksum-crc32 and -crc32c
// (reflected, polynomials 0xEDB88320 and 0x82F63B78).
function crcTable(poly) {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
const CRC_TABLES = { crc32: crcTable(0xedb88320), crc32c: crcTable(0x82f63b78) };

class Crc {
  constructor(kind) { this.table = CRC_TABLES[kind]; this.c = 0xffffffff; }
  update(buf) {
    let c = this.c;
    for (const b of buf) c = this.table[(c ^ b) & 0xff] ^ (c >>> 8);
    this.c = c >>> 0;
    return this;
  }
  digest() {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.c ^ 0xffffffff) >>> 0);
    return out;
  }
}

const CHECKSUMS = {
  'x-amz-checksum-sha256': { name: 'SHA256', len: 32, make: () => createHash('sha256') },
  'x-amz-checksum-sha1': { name: 'SHA1', len: 20, make: () => createHash('sha1') },
  'x-amz-checksum-crc32': { name: 'CRC32', len: 4, make: () => new Crc('crc32') },
  'x-amz-checksum-crc32c': { name: 'CRC32C', len: 4, make: () => new Crc('crc32c') },
};

// spool: read the whole body, hashing as it comes; up to MEMORY_SPOOL in
// memory, beyond that in a temp file under opts.tmpdir (removed by
// dropSpool). Resolves { size, sha256, hashes, buffer | file }, or null when
// the client went away.
function spool(req, ctx) {
  return new Promise((resolve) => {
    const sha = createHash('sha256');
    const extra = {};
    if (ctx.headers.has('content-md5')) extra['content-md5'] = createHash('md5');
    for (const h of Object.keys(CHECKSUMS)) if (ctx.headers.has(h)) extra[h] = CHECKSUMS[h].make();
    let size = 0;
    let chunks = [];
    let file = null;
    let out = null;
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      if (out) out.destroy();
      if (file) fs.rm(file, { force: true }, () => {});
      resolve(null);
    };
    req.on('data', (chunk) => {
      sha.update(chunk);
      for (const h of Object.values(extra)) h.update(chunk);
      size += chunk.length;
      if (out) {
        if (!out.write(chunk)) { req.pause(); out.once('drain', () => req.resume()); }
        return;
      }
      chunks.push(chunk);
      if (size > MEMORY_SPOOL) {
        file = path.join(opts.tmpdir, `proxy-body-${process.pid}-${++spoolSeq}`);
        out = fs.createWriteStream(file);
        out.on('error', fail);
        for (const c of chunks) out.write(c);
        chunks = null;
      }
    });
    req.on('close', () => { if (!req.complete) fail(); });
    req.on('error', fail);
    req.on('end', () => {
      if (failed) return;
      const done = {
        size,
        sha256: sha.digest('hex'),
        hashes: Object.fromEntries(Object.entries(extra).map(([k, h]) => [k, h.digest()])),
        buffer: out ? null : Buffer.concat(chunks),
        file,
      };
      if (!out) return resolve(done);
      out.end(() => resolve(done));
    });
  });
}

function dropSpool(body) {
  if (body && body.file) fs.rm(body.file, { force: true }, () => {});
}

// checkBody: null, or the error AWS gives for a body that does not match
// what the headers claim about it.
function checkBody(ctx, body) {
  if (ctx.payloadHash !== 'UNSIGNED-PAYLOAD' && ctx.payloadHash !== body.sha256) {
    return [400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: ctx.payloadHash, S3ComputedContentSHA256: body.sha256 }];
  }
  const md5 = ctx.headers.get('content-md5');
  if (md5) {
    const claimed = Buffer.from(md5.join(','), 'base64');
    if (claimed.length !== 16 || claimed.toString('base64') !== md5.join(',').trim()) return [400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.'];
    if (!claimed.equals(body.hashes['content-md5'])) {
      return [400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.',
        { ExpectedDigest: md5.join(','), CalculatedDigest: body.hashes['content-md5'].toString('base64') }];
    }
  }
  for (const [h, spec] of Object.entries(CHECKSUMS)) {
    if (!ctx.headers.has(h)) continue;
    const value = ctx.headers.get(h).join(',').trim();
    const claimed = Buffer.from(value, 'base64');
    if (claimed.length !== spec.len || claimed.toString('base64') !== value) return [400, 'InvalidRequest', `Value for ${h} header is invalid.`];
    if (!claimed.equals(body.hashes[h])) return [400, 'BadDigest', `The ${spec.name} you specified did not match the calculated checksum.`];
  }
  return null;
}

// ---- multipart bookkeeping ------------------------------------------------------

function splitBucketKey(decodedPath) {
  const p = decodedPath.replace(/^\//, '');
  const slash = p.indexOf('/');
  return slash < 0 ? [p, ''] : [p.slice(0, slash), p.slice(slash + 1)];
}

function queryParams(rawQuery) {
  const m = new Map();
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = percentDecode(eq < 0 ? part : part.slice(0, eq), true).toString();
    m.set(name, percentDecode(eq < 0 ? '' : part.slice(eq + 1), true).toString());
  }
  return m;
}

// multipartKind: which multipart call this request is, or null.
function multipartKind(ctx) {
  const q = ctx.query;
  if (ctx.method === 'POST' && q.has('uploads')) return 'create';
  if (ctx.method === 'GET' && q.has('uploads') && ctx.key === '') return 'list-uploads';
  if (!q.has('uploadId')) return null;
  if (ctx.method === 'PUT') return 'part';
  if (ctx.method === 'POST') return 'complete';
  if (ctx.method === 'DELETE') return 'abort';
  if (ctx.method === 'GET') return 'list-parts';
  return null;
}

// openUpload: the tracked upload this request names, or the NoSuchUpload
// error AWS gives for an unknown, finished or aborted one.
function openUpload(ctx) {
  const u = uploads.get(ctx.query.get('uploadId'));
  if (!u || u.state !== 'open' || u.bucket !== ctx.bucket || u.key !== ctx.key) {
    return [null, [404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: ctx.query.get('uploadId') }]];
  }
  return [u, null];
}

function unquote(etag) {
  return String(etag).trim().replace(/^"|"$/g, '');
}

// checkComplete: the part list of a CompleteMultipartUpload against what was
// uploaded: ascending, every part known, every part but the last >= 5 MiB.
function checkComplete(upload, xml) {
  const parts = [];
  for (const m of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const n = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1]);
    const e = /<ETag>([\s\S]*?)<\/ETag>/.exec(m[1]);
    if (!n) return [400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'];
    parts.push({ n: Number(n[1]), etag: e ? unquote(e[1].replace(/&quot;/g, '"')) : null });
  }
  if (parts.length === 0) return [400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema (no Part).'];
  for (let i = 1; i < parts.length; i++) {
    if (parts[i].n <= parts[i - 1].n) return [400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.'];
  }
  for (const part of parts) {
    const got = upload.parts.get(part.n);
    if (!got || (part.etag !== null && unquote(got.etag) !== part.etag)) {
      return [400, 'InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', { PartNumber: part.n, UploadId: upload.uploadId }];
    }
  }
  for (let i = 0; i < parts.length; i++) {
    const got = upload.parts.get(parts[i].n);
    if (i < parts.length - 1 && got.size < MIN_PART) {
      return [400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.',
        { ProposedSize: got.size, MinSizeAllowed: MIN_PART, PartNumber: parts[i].n, ETag: got.etag }];
    }
  }
  return null;
}

// ListParts and ListMultipartUploads, which s3rver lacks, answered from the
// proxy's own record (one page: no markers, IsTruncated always false).
function answerXml(res, ctx, xml) {
  if (ctx.dropResponse) return dropAnswer(res, ctx);
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  ctx.entry.status = 200;
  ctx.entry.responseBytes = Buffer.byteLength(body);
  res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), 'x-amz-request-id': requestId() });
  res.end(body);
}

function el(name, value) {
  return `<${name}>${xmlEscape(value)}</${name}>`;
}

function listPartsXml(u) {
  const parts = [...u.parts.entries()].sort((a, b) => a[0] - b[0]);
  return '<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    el('Bucket', u.bucket) + el('Key', u.key) + el('UploadId', u.uploadId) +
    el('PartNumberMarker', 0) + el('NextPartNumberMarker', parts.length ? parts[parts.length - 1][0] : 0) +
    el('MaxParts', 10000) + el('IsTruncated', 'false') + el('StorageClass', 'STANDARD') +
    parts.map(([n, p]) => `<Part>${el('PartNumber', n)}${el('LastModified', p.lastModified.toISOString())}${el('ETag', p.etag)}${el('Size', p.size)}</Part>`).join('') +
    '</ListPartsResult>';
}

function listUploadsXml(ctx) {
  const prefix = ctx.query.get('prefix') || '';
  const open = [...uploads.values()]
    .filter((u) => u.state === 'open' && u.bucket === ctx.bucket && u.key.startsWith(prefix))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated - b.initiated));
  return '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    el('Bucket', ctx.bucket) + el('KeyMarker', '') + el('UploadIdMarker', '') + el('Prefix', prefix) +
    el('MaxUploads', 1000) + el('IsTruncated', 'false') +
    open.map((u) => `<Upload>${el('Key', u.key)}${el('UploadId', u.uploadId)}${el('StorageClass', 'STANDARD')}${el('Initiated', u.initiated.toISOString())}</Upload>`).join('') +
    '</ListMultipartUploadsResult>';
}

async function bodyText(body) {
  if (body.buffer) return body.buffer.toString('utf8');
  if (body.size > MAX_COMPLETE_BODY) return null;
  return fs.promises.readFile(body.file, 'utf8');
}

// ---- forwarding ------------------------------------------------------------------

// A fresh connection to s3rver per request: a kept-alive one can be closed by
// s3rver (5 s idle) just as it is reused, and the client would see a 502
// that no real S3 would have given it.
const agent = new http.Agent({ keepAlive: false });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'content-length']);

// forward: send the checked request to s3rver, stream its answer back as is;
// afterwards(status, headers, peek) runs once the answer is complete. With
// slice {start, end, size} (a ranged GET, see serveRange) the Range header
// sent is rewritten and only bytes start..end of the object are passed on,
// as a 206.
function forward(req, res, ctx, body, afterwards, slice = null) {
  const headers = {};
  for (const [name, values] of ctx.headers) {
    if (HOP.has(name)) continue;
    headers[name] = values.length === 1 ? values[0] : values;
  }
  if (slice) {
    delete headers.range;
    if (slice.start > 0) headers.range = `bytes=${slice.start}-`;
  }
  if (body && (body.size > 0 || ['PUT', 'POST'].includes(ctx.method))) headers['content-length'] = String(body.size);
  // s3rver checks no v4 signature but wants an access key it knows.
  if (headers.authorization && ctx.accessKey !== BACKEND_KEY) {
    headers.authorization = headers.authorization.replace(`Credential=${ctx.accessKey}/`, `Credential=${BACKEND_KEY}/`);
  }
  if (headers['x-amz-security-token'] !== undefined) delete headers['x-amz-security-token'];
  const breq = http.request({
    host: opts.backend.hostname, port: opts.backend.port, method: ctx.method, path: req.url, headers, agent,
  });
  let answered = false;
  res.on('close', () => { if (!res.writableFinished) breq.destroy(); });
  breq.on('error', (err) => {
    dropSpool(body);
    if (res.writableEnded) return; // a slice served whole, then s3rver cut off
    if (answered || res.headersSent) { res.destroy(); return; }
    s3Error(res, ctx, 502, 'InternalError', `S3 test harness: the backend (s3rver at ${opts.backend.host}) failed: ${err.message}`);
  });
  breq.on('response', (bres) => {
    answered = true;
    dropSpool(body);
    if (ctx.dropResponse) {
      // s3rver has acted; take its whole answer (so `afterwards` records
      // what it did), then lose it.
      const peek = [];
      bres.on('data', (chunk) => { if (peek.length < 64) peek.push(chunk); });
      bres.on('error', () => dropAnswer(res, ctx));
      bres.on('end', () => {
        if (afterwards) afterwards(bres.statusCode, bres.headers, Buffer.concat(peek).toString('utf8'));
        dropAnswer(res, ctx);
      });
      return;
    }
    const sliced = slice && (bres.statusCode === 200 || bres.statusCode === 206);
    const status = sliced ? 206 : bres.statusCode;
    ctx.entry.status = status;
    const raw = [];
    for (let i = 0; i < bres.rawHeaders.length; i += 2) {
      const name = bres.rawHeaders[i].toLowerCase();
      if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding') continue;
      if (sliced && (name === 'content-length' || name === 'content-range')) continue;
      raw.push(bres.rawHeaders[i], bres.rawHeaders[i + 1]);
    }
    if (sliced) {
      raw.push('Content-Range', `bytes ${slice.start}-${slice.end}/${slice.size}`, 'Content-Length', String(slice.end - slice.start + 1));
    }
    res.writeHead(status, sliced ? 'Partial Content' : bres.statusMessage, raw);
    const peek = [];
    let peeked = 0;
    bres.on('error', () => res.destroy());
    if (sliced) {
      let left = slice.end - slice.start + 1;
      bres.on('data', (chunk) => {
        if (left <= 0) return;
        const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= part.length;
        ctx.entry.responseBytes += part.length;
        if (!res.write(part)) { bres.pause(); res.once('drain', () => bres.resume()); }
        if (left === 0) { res.end(); bres.destroy(); }
      });
      bres.on('end', () => { if (left > 0) res.destroy(); });
      return;
    }
    bres.on('data', (chunk) => {
      if (peeked < MAX_RESPONSE_PEEK) { peek.push(chunk); peeked += chunk.length; }
      ctx.entry.responseBytes += chunk.length;
    });
    bres.on('end', () => afterwards && afterwards(bres.statusCode, bres.headers, Buffer.concat(peek).toString('utf8')));
    bres.pipe(res);
  });
  if (!body) breq.end();
  else if (body.buffer) breq.end(body.buffer);
  else fs.createReadStream(body.file).on('error', (err) => breq.destroy(err)).pipe(breq);
}

// ---- ranged GETs -------------------------------------------------------------------
// s3rver gets ranges wrong: "bytes=-N" (the last N bytes, as Parquet footer
// reads ask) comes back as bytes 0..N, and "bytes=0-0" as the whole object.
// So the proxy resolves a single range itself against the object's size
// (a HEAD to s3rver), asks s3rver from the first byte on, and passes on only
// the bytes asked for. Anything else ("bytes=1-2,5-6", junk) goes to s3rver
// as it came.

function parseRange(value) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(String(value).trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  return { first: m[1] === '' ? null : Number(m[1]), last: m[2] === '' ? null : Number(m[2]) };
}

// resolveRange: {start, end} inclusive, 'unsatisfiable', or null when the
// header is to be ignored (last < first), as RFC 9110 says.
function resolveRange(r, size) {
  if (r.first === null) {
    if (r.last === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - r.last), end: size - 1 };
  }
  if (r.last !== null && r.last < r.first) return null;
  if (r.first >= size) return 'unsatisfiable';
  return { start: r.first, end: r.last === null ? size - 1 : Math.min(r.last, size - 1) };
}

// backendHead: s3rver's answer to an anonymous HEAD of urlPath,
// { status, headers }; status 0 when s3rver could not be asked.
function backendHead(urlPath, req) {
  return new Promise((resolve) => {
    const head = http.request({
      host: opts.backend.hostname, port: opts.backend.port, method: 'HEAD', path: urlPath, agent,
      headers: { host: req.headers.host || opts.backend.host },
    });
    head.on('response', (r) => { r.resume(); resolve({ status: r.statusCode, headers: r.headers }); });
    head.on('error', () => resolve({ status: 0, headers: {} }));
    head.end();
  });
}

// backendSize: the object's size per s3rver, or null (no such key, …).
async function backendSize(req) {
  const { status, headers } = await backendHead(req.url, req);
  const n = Number(headers['content-length']);
  return status === 200 && Number.isSafeInteger(n) ? n : null;
}

// rangeSlice: for a GET with one valid Range, the slice to serve, or an S3
// error, or null to forward the request unchanged.
async function rangeSlice(req, ctx) {
  if (ctx.method !== 'GET' || !ctx.headers.has('range') || ctx.query.has('partNumber')) return null;
  const wanted = parseRange(ctx.headers.get('range').join(','));
  if (!wanted) return null;
  const size = await backendSize(req);
  if (size === null) return null;
  const got = resolveRange(wanted, size);
  if (got === 'unsatisfiable') {
    return { error: [416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: ctx.headers.get('range').join(','), ActualObjectSize: size }] };
  }
  if (got === null) { ctx.headers.delete('range'); return null; }
  return { ...got, size };
}

// ---- the request path ------------------------------------------------------------

async function handleS3(req, res, ctx) {
  const rule = takeFault(ctx.entry);
  if (rule && rule.action === 'drop-response') {
    ctx.entry.fault = rule.action;
    ctx.dropResponse = true; // handled as usual below; the answer is then lost
  } else if (rule) {
    return applyFault(req, res, ctx, rule);
  }

  const authError = verifyAuth(req, ctx);
  if (authError) return answerEarly(req, res, ctx, () => s3Error(res, ctx, ...authError));

  const kind = multipartKind(ctx);
  let upload = null;
  if (kind && kind !== 'create' && kind !== 'list-uploads') {
    let err;
    [upload, err] = openUpload(ctx);
    if (err) return answerEarly(req, res, ctx, () => s3Error(res, ctx, ...err));
  }
  if (kind === 'part') {
    const n = Number(ctx.query.get('partNumber'));
    if (!Number.isInteger(n) || n < 1 || n > 10000) {
      return answerEarly(req, res, ctx, () => s3Error(res, ctx, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: ctx.query.get('partNumber') }));
    }
  }
  if (kind === 'abort') {
    // s3rver has no AbortMultipartUpload: answered here.
    return answerEarly(req, res, ctx, () => {
      upload.state = 'aborted';
      if (ctx.dropResponse) return dropAnswer(res, ctx);
      ctx.entry.status = 204;
      res.writeHead(204, { 'x-amz-request-id': requestId() });
      res.end();
    });
  }

  if (ctx.expectContinue) { ctx.continued = true; res.writeContinue(); }
  const body = await spool(req, ctx);
  if (!body) { ctx.entry.code = 'ClientDisconnected'; return undefined; }
  ctx.entry.bytes = body.size;
  const bodyError = checkBody(ctx, body);
  if (bodyError) { dropSpool(body); return s3Error(res, ctx, ...bodyError); }

  if (kind === 'list-parts') return answerXml(res, ctx, listPartsXml(upload));
  if (kind === 'list-uploads') {
    if ((await backendHead(`/${encodeURIComponent(ctx.bucket)}`, req)).status !== 200) {
      return s3Error(res, ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: ctx.bucket });
    }
    return answerXml(res, ctx, listUploadsXml(ctx));
  }

  let afterwards = null;
  if (kind === 'create') {
    afterwards = (status, _headers, text) => {
      const m = /<UploadId>([^<]+)<\/UploadId>/.exec(text);
      if (status === 200 && m) uploads.set(m[1], { bucket: ctx.bucket, key: ctx.key, uploadId: m[1], state: 'open', parts: new Map(), initiated: new Date() });
    };
  } else if (kind === 'part') {
    const n = Number(ctx.query.get('partNumber'));
    afterwards = (status, headers) => { if (status === 200) upload.parts.set(n, { size: body.size, etag: headers.etag || '', lastModified: new Date() }); };
  } else if (kind === 'complete') {
    const xml = await bodyText(body);
    const err = xml === null ? [400, 'MalformedXML', 'The CompleteMultipartUpload body is too large.'] : checkComplete(upload, xml);
    if (err) { dropSpool(body); return s3Error(res, ctx, ...err); }
    afterwards = (status) => { if (status === 200) upload.state = 'completed'; };
  }
  const slice = await rangeSlice(req, ctx);
  if (slice && slice.error) return s3Error(res, ctx, ...slice.error);
  return forward(req, res, ctx, body, afterwards, slice);
}

// ---- admin API -------------------------------------------------------------------

function json(res, status, value) {
  const body = JSON.stringify(value, null, 1) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readSmall(req, cap) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= cap) chunks.push(c); });
    req.on('end', () => (size > cap ? reject(new Error(`body over ${cap} bytes`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function isLoopback(addr) {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

async function handleAdmin(req, res, ctx) {
  if (!isLoopback(req.socket.remoteAddress)) return json(res, 403, { error: 'the admin API answers loopback clients only' });
  if (ctx.expectContinue) res.writeContinue();
  const route = `${req.method} ${ctx.rawPath.replace(/\/+$/, '')}`;
  switch (route) {
    case 'GET /__admin/health':
      return json(res, 200, { ok: true, backend: opts.backend.href });
    case 'GET /__admin/uploads':
      return json(res, 200, [...uploads.values()].filter((u) => u.state === 'open').map((u) => ({
        bucket: u.bucket, key: u.key, uploadId: u.uploadId,
        parts: [...u.parts.entries()].sort((a, b) => a[0] - b[0]).map(([n, p]) => ({ partNumber: n, size: p.size, etag: p.etag })),
      })));
    case 'GET /__admin/log':
      return json(res, 200, log);
    case 'DELETE /__admin/log':
      log = [];
      return json(res, 200, { cleared: true });
    case 'GET /__admin/faults':
      return json(res, 200, faults.map(publicFault));
    case 'DELETE /__admin/faults':
      faults = [];
      return json(res, 200, { cleared: true });
    case 'POST /__admin/faults': {
      let rule;
      try {
        rule = compileFault(JSON.parse(await readSmall(req, 64 * 1024)));
      } catch (err) {
        return json(res, 400, { error: `bad fault rule: ${err.message}` });
      }
      faults.push(rule);
      return json(res, 201, publicFault(rule));
    }
    default:
      req.resume();
      return json(res, 404, { error: `no admin route ${route}; see tests/s3/README.md` });
  }
}

function handle(req, res, expectContinue) {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  const decodedPath = percentDecode(rawPath).toString('utf8');
  const te = req.headers['transfer-encoding'];
  const ctx = {
    method: req.method, rawPath, rawQuery, path: decodedPath,
    query: queryParams(rawQuery),
    expectContinue, continued: false, closeAfter: false, dropResponse: false,
    hasBody: Boolean(te) || Number(req.headers['content-length'] || 0) > 0,
    entry: null,
  };
  [ctx.bucket, ctx.key] = splitBucketKey(decodedPath);
  const run = rawPath === '/__admin' || rawPath.startsWith('/__admin/') ? handleAdmin : handleS3;
  if (run === handleS3) {
    ctx.entry = {
      time: Date.now(), method: req.method, path: decodedPath, query: percentDecode(rawQuery, true).toString('utf8'),
      status: null, fault: null, code: null, bytes: 0, responseBytes: 0,
    };
    pushLog(ctx.entry);
  }
  run(req, res, ctx).catch((err) => {
    process.stderr.write(`proxy.mjs: ${req.method} ${req.url}: ${err.stack}\n`);
    if (!res.headersSent) {
      if (ctx.entry) s3Error(res, ctx, 500, 'InternalError', `S3 test harness proxy bug: ${err.message}`);
      else json(res, 500, { error: err.message });
    } else {
      res.destroy();
    }
  });
}

// ---- start -------------------------------------------------------------------------

const server = http.createServer({ requestTimeout: 0 });
server.keepAliveTimeout = 30000; // S3 keeps idle connections about this long
server.on('request', (req, res) => handle(req, res, false));
server.on('checkContinue', (req, res) => handle(req, res, true));
server.on('clientError', (err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); });

function shutdown() {
  for (const s of hung) s.destroy();
  server.close();
  server.closeAllConnections();
  agent.destroy();
  if (opts.killPid) { try { process.kill(opts.killPid, 'SIGTERM'); } catch { /* already gone */ } }
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  if (opts.portFile) {
    fs.writeFileSync(`${opts.portFile}.tmp`, `${port}\n`);
    fs.renameSync(`${opts.portFile}.tmp`, opts.portFile);
  }
  process.stdout.write(`proxy.mjs: listening on 127.0.0.1:${port}, backend ${opts.backend.href}\n`);
});

// --watch-pid: when the process that started the harness is gone, stop
// (and take s3rver, --kill-pid, along) so a killed test run leaves nothing.
// A zombie (exited, not yet reaped) counts as gone.
function processGone(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

if (opts.watchPid) {
  setInterval(() => { if (processGone(opts.watchPid)) shutdown(); }, 1000).unref();
}
