// mock.mjs — loopback STAND-INS for AWS's own endpoints, because AWS itself
// cannot be reached from the tests. Each speaks the documented protocol:
//   imds       EC2 instance metadata, IMDSv2 only: PUT /latest/api/token with
//              X-aws-ec2-metadata-token-ttl-seconds (1-21600) → a token and
//              the granted TTL in the same header; GETs without a valid,
//              unexpired X-aws-ec2-metadata-token → 401; the role name at
//              /latest/meta-data/iam/security-credentials/, its credentials
//              (JSON: Code, Type, AccessKeyId, SecretAccessKey, Token,
//              Expiration) at …/ROLE.
//   container  ECS/EKS container credentials: GET, Authorization header equal
//              to the configured token (else 401 JSON {code, message}).
//   sts        STS query API (POST form, Version 2011-06-15):
//              AssumeRoleWithWebIdentity (unsigned; WebIdentityToken and
//              RoleArn checked) and AssumeRole (SigV4-signed for service sts
//              with the source keys, checked by sigv4_check.mjs); answers the
//              documented XML, or <ErrorResponse> with Code and Message.
//   sm         Secrets Manager JSON API: POST, X-Amz-Target
//              secretsmanager.GetSecretValue, application/x-amz-json-1.1,
//              SigV4 for service secretsmanager; {SecretId} → {ARN, Name,
//              SecretString, VersionId} or 400 {__type, Message}.
//   pg         a fake PostgreSQL server that only records what libpq sends as
//              the password (SSLRequest answered with TLS when a key is
//              given; startup message; cleartext password request), then
//              refuses the login with 28P01. It proves what a client sends,
//              never that RDS would accept it.
//   admin      GET /log, DELETE /log, POST /config (JSON merged into the
//              state), GET /pg (the logins recorded).
// Temporary credentials handed out rotate through MOCK_TEMP_KEYS
// ("id:secret:token,…": the S3 proxy is started with the same keys, so it
// verifies every S3 request signed with them, session token included). Ports
// are written as JSON to the file named by argv[2]. Stops itself when the
// process MOCK_WATCH_PID is gone.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { verifyHeaderSigned } from './sigv4_check.mjs';

const parseKeys = (s) => (s || '').split(',').filter(Boolean).map((e) => {
  const [id, secret, token] = e.split(':');
  return { id, secret, token };
});
const TEMP = parseKeys(process.env.MOCK_TEMP_KEYS);
const SOURCE = parseKeys(process.env.MOCK_SOURCE_KEYS);
const ALL = new Map([...TEMP, ...SOURCE].map((k) => [k.id, k]));
const REGION = process.env.MOCK_REGION || 'us-east-1';

const state = {
  imdsTtlMax: 21600,       // the longest token TTL granted
  credLifetime: 3600,      // seconds until issued credentials expire
  containerToken: null,    // the Authorization value the container endpoint wants
  webToken: null,          // the web identity token STS accepts
  roleArn: 'arn:aws:iam::123456789012:role/salespipe',
  secrets: {},             // SecretId → SecretString
  failImds: 0,             // answer the next N credential GETs with 500
};
const log = [];
const logins = [];
const imdsTokens = new Map(); // token → expiry (ms)
let next = 0;

function issue() {
  const k = TEMP[next++ % TEMP.length];
  return { ...k, expiration: new Date(Date.now() + state.credLifetime * 1000).toISOString().replace(/\.\d+Z$/, 'Z') };
}

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

// ---- IMDSv2 -------------------------------------------------------------------
async function imds(req, res) {
  await readBody(req);
  const entry = { svc: 'imds', time: Date.now(), method: req.method, path: req.url, status: 0 };
  log.push(entry);
  if (req.url === '/latest/api/token') {
    const asked = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    entry.ttlAsked = req.headers['x-aws-ec2-metadata-token-ttl-seconds'] ?? null;
    if (req.method !== 'PUT') return send(res, entry.status = 405, 'text/plain', '');
    if (!Number.isInteger(asked) || asked < 1 || asked > 21600) return send(res, entry.status = 400, 'text/plain', '');
    const ttl = Math.min(asked, state.imdsTtlMax);
    const token = crypto.randomBytes(24).toString('base64');
    imdsTokens.set(token, Date.now() + ttl * 1000);
    entry.ttlGranted = ttl;
    return send(res, entry.status = 200, 'text/plain', token, { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
  }
  const token = req.headers['x-aws-ec2-metadata-token'];
  const exp = token && imdsTokens.get(token);
  entry.token = token ? (exp ? (exp > Date.now() ? 'valid' : 'expired') : 'unknown') : 'none';
  if (req.method !== 'GET' || !exp || exp <= Date.now()) return send(res, entry.status = 401, 'text/plain', '');
  const base = '/latest/meta-data/iam/security-credentials/';
  if (req.url === base) return send(res, entry.status = 200, 'text/plain', 'salespipe-role');
  if (req.url === base + 'salespipe-role') {
    if (state.failImds > 0) {
      state.failImds--;
      return send(res, entry.status = 500, 'text/plain', '');
    }
    const c = issue();
    entry.issued = c.id;
    return send(res, entry.status = 200, 'text/plain', JSON.stringify({
      Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC',
      AccessKeyId: c.id, SecretAccessKey: c.secret, Token: c.token, Expiration: c.expiration,
    }, null, 2));
  }
  return send(res, entry.status = 404, 'text/plain', '');
}

// ---- container credentials ------------------------------------------------------
async function container(req, res) {
  await readBody(req);
  const entry = { svc: 'container', time: Date.now(), method: req.method, path: req.url, status: 0,
    authorization: req.headers.authorization === undefined ? 'none' : req.headers.authorization === state.containerToken ? 'right' : 'wrong' };
  log.push(entry);
  if (state.containerToken && req.headers.authorization !== state.containerToken) {
    return send(res, entry.status = 401, 'application/json', JSON.stringify({ code: 'AccessDenied', message: 'Unable to authenticate the request' }));
  }
  const c = issue();
  entry.issued = c.id;
  send(res, entry.status = 200, 'application/json', JSON.stringify({
    AccessKeyId: c.id, SecretAccessKey: c.secret, Token: c.token, Expiration: c.expiration, RoleArn: state.roleArn,
  }));
}

// ---- STS --------------------------------------------------------------------------
const xmlEscape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
function stsError(res, entry, status, code, message) {
  entry.status = status;
  entry.code = code;
  send(res, status, 'text/xml', `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`);
}
async function sts(req, res) {
  const body = await readBody(req);
  const form = new URLSearchParams(body);
  const action = form.get('Action');
  const entry = { svc: 'sts', time: Date.now(), method: req.method, action, status: 0, roleArn: form.get('RoleArn'),
    sessionName: form.get('RoleSessionName'), signed: req.headers.authorization !== undefined };
  log.push(entry);
  if (req.method !== 'POST' || form.get('Version') !== '2011-06-15') return stsError(res, entry, 400, 'InvalidAction', 'POST with Version=2011-06-15 expected');
  if (!form.get('RoleSessionName')) return stsError(res, entry, 400, 'ValidationError', 'RoleSessionName is required');
  if (form.get('RoleArn') !== state.roleArn) return stsError(res, entry, 403, 'AccessDenied', `Not authorized to assume ${form.get('RoleArn')}`);
  if (action === 'AssumeRoleWithWebIdentity') {
    if (req.headers.authorization) return stsError(res, entry, 400, 'InvalidRequest', 'AssumeRoleWithWebIdentity is not signed');
    if (form.get('WebIdentityToken') !== state.webToken) return stsError(res, entry, 403, 'InvalidIdentityToken', 'Incorrect token audience or signature');
  } else if (action === 'AssumeRole') {
    const v = verifyHeaderSigned({ method: req.method, path: '/', headers: req.headers, body, keys: new Map(SOURCE.map((k) => [k.id, k])), region: REGION, service: 'sts' });
    entry.signature = v.ok ? 'valid' : v.why;
    if (!v.ok) return stsError(res, entry, 403, v.code, `The request signature we calculated does not match (${v.why})`);
  } else {
    return stsError(res, entry, 400, 'InvalidAction', `unknown action ${action}`);
  }
  const c = issue();
  entry.issued = c.id;
  entry.status = 200;
  send(res, 200, 'text/xml', `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <${action}Result>
    <Credentials>
      <AccessKeyId>${c.id}</AccessKeyId>
      <SecretAccessKey>${xmlEscape(c.secret)}</SecretAccessKey>
      <SessionToken>${xmlEscape(c.token)}</SessionToken>
      <Expiration>${c.expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>${state.roleArn}/${xmlEscape(form.get('RoleSessionName'))}</Arn><AssumedRoleId>AROA:${xmlEscape(form.get('RoleSessionName'))}</AssumedRoleId></AssumedRoleUser>
  </${action}Result>
  <ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>
</${action}Response>`);
}

// ---- Secrets Manager ------------------------------------------------------------
async function sm(req, res) {
  const body = await readBody(req);
  const entry = { svc: 'sm', time: Date.now(), method: req.method, target: req.headers['x-amz-target'], status: 0 };
  log.push(entry);
  const fail = (status, type, message) => {
    entry.status = status;
    entry.code = type;
    send(res, status, 'application/x-amz-json-1.1', JSON.stringify({ __type: type, Message: message }));
  };
  if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') return fail(400, 'UnknownOperationException', '');
  if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) return fail(400, 'SerializationException', 'wrong content type');
  const v = verifyHeaderSigned({ method: req.method, path: '/', headers: req.headers, body, keys: ALL, region: REGION, service: 'secretsmanager' });
  entry.signature = v.ok ? 'valid' : v.why;
  entry.accessKey = v.accessKey;
  if (!v.ok) return fail(400, v.code === 'SignatureDoesNotMatch' ? 'InvalidSignatureException' : 'UnrecognizedClientException', v.why);
  let id;
  try {
    id = JSON.parse(body).SecretId;
  } catch {
    return fail(400, 'SerializationException', 'body is not JSON');
  }
  entry.secretId = id;
  if (!(id in state.secrets)) return fail(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  entry.status = 200;
  send(res, 200, 'application/x-amz-json-1.1', JSON.stringify({
    ARN: `arn:aws:secretsmanager:${REGION}:123456789012:secret:${id}-AbCdEf`, Name: id,
    SecretString: state.secrets[id], VersionId: crypto.randomUUID(), VersionStages: ['AWSCURRENT'], CreatedDate: Date.now() / 1000,
  }));
}

// ---- a fake PostgreSQL front door --------------------------------------------------
const TLS_KEY = process.env.MOCK_TLS_KEY ? fs.readFileSync(process.env.MOCK_TLS_KEY) : null;
const TLS_CERT = process.env.MOCK_TLS_CERT ? fs.readFileSync(process.env.MOCK_TLS_CERT) : null;

function pgConversation(sock, tlsUsed) {
  let buf = Buffer.alloc(0);
  let stage = 'startup';
  const login = { time: Date.now(), tls: tlsUsed, params: {}, password: null };
  sock.on('error', () => {});
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (stage === 'startup') {
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        const msg = buf.subarray(8, len);
        buf = buf.subarray(len);
        if (code === 80877103) { // SSLRequest
          if (TLS_KEY && !tlsUsed) {
            sock.removeAllListeners('data');
            sock.write('S');
            const t = new tls.TLSSocket(sock, { isServer: true, key: TLS_KEY, cert: TLS_CERT });
            pgConversation(t, true);
            return;
          }
          sock.write('N');
          continue;
        }
        if (code === 80877104) { // GSSENCRequest
          sock.write('N');
          continue;
        }
        const fields = msg.toString('utf8').split('\0');
        for (let i = 0; i + 1 < fields.length && fields[i]; i += 2) login.params[fields[i]] = fields[i + 1];
        const r = Buffer.alloc(9);
        r.write('R', 0);
        r.writeInt32BE(8, 1);
        r.writeInt32BE(3, 5); // AuthenticationCleartextPassword
        sock.write(r);
        stage = 'password';
      } else {
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const type = String.fromCharCode(buf[0]);
        const payload = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 'p') {
          login.password = payload.toString('utf8').replace(/\0$/, '');
          logins.push(login);
          const text = `SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "${login.params.user}"\0\0`;
          const e = Buffer.alloc(5 + Buffer.byteLength(text));
          e.write('E', 0);
          e.writeInt32BE(4 + Buffer.byteLength(text), 1);
          e.write(text, 5);
          sock.end(e);
          return;
        }
      }
    }
  });
}

// ---- admin ------------------------------------------------------------------------
async function admin(req, res) {
  const body = await readBody(req);
  if (req.url === '/log' && req.method === 'GET') return send(res, 200, 'application/json', JSON.stringify(log));
  if (req.url === '/log' && req.method === 'DELETE') {
    log.length = 0;
    logins.length = 0;
    return send(res, 200, 'application/json', '{}');
  }
  if (req.url === '/pg') return send(res, 200, 'application/json', JSON.stringify(logins));
  if (req.url === '/config' && req.method === 'POST') {
    Object.assign(state, JSON.parse(body));
    return send(res, 200, 'application/json', JSON.stringify(state));
  }
  send(res, 404, 'application/json', '{}');
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}
const wrap = (fn) => (req, res) => fn(req, res).catch((e) => {
  process.stderr.write(`mock.mjs: ${e.stack}\n`);
  if (!res.headersSent) send(res, 500, 'text/plain', 'mock bug');
});
const ports = {
  imds: await listen(http.createServer(wrap(imds))),
  container: await listen(http.createServer(wrap(container))),
  sts: await listen(http.createServer(wrap(sts))),
  sm: await listen(http.createServer(wrap(sm))),
  pg: await listen(net.createServer((s) => pgConversation(s, false))),
  admin: await listen(http.createServer(wrap(admin))),
};
fs.writeFileSync(process.argv[2], JSON.stringify(ports));
const watch = Number(process.env.MOCK_WATCH_PID || 0);
if (watch) {
  setInterval(() => {
    try {
      process.kill(watch, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}
