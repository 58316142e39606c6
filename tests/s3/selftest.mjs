// selftest.mjs — the node half of the S3 harness's self-test (run by
// selftest.sh): sigv4.mjs against AWS's published SigV4 vectors, then, when
// S3_TEST_ENDPOINT is set, the proxy's checks that curl cannot reach
// (multipart rules, abort, clock skew, unsigned headers, session tokens).
// Prints "ok NAME" / "FAIL NAME: why" per check; exits 1 on any failure.
// It signs with sigv4.mjs, so the vectors come first: they prove the signer.
import {
  canonicalRequest, headerMap, presignUrl, sha256Hex, signRequest, signature, stringToSign, verifyRequestAuth,
} from './sigv4.mjs';

let failed = 0;
function check(name, ok, why = '') {
  if (ok) console.log(`ok    ${name}`);
  else { failed++; console.log(`FAIL  ${name}${why ? `: ${why}` : ''}`); }
}

// ---- AWS's SigV4 test suite (service "service") -------------------------------
// From docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html:
// the raw request (.req) and the signature of its .authz. Only the cases S3
// canonicalises the same way (no path normalisation cases: S3 keeps '.',
// '..' and '//' as they are). "charset=utf8" is AWS's spelling in that case
// (some copies of the suite say "utf-8", which the signature does not match).
const SUITE_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SUITE = [
  ['get-vanilla', 'GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-vanilla-empty-query-key', 'GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb'],
  ['get-vanilla-query-order-key', 'GET /?Param1=value2&Param1=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1'],
  ['get-vanilla-query-order-key-case', 'GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
  ['get-vanilla-query-order-value', 'GET /?Param1=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694'],
  ['get-vanilla-query-unreserved', 'GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197'],
  ['get-vanilla-utf8-query', 'GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04'],
  ['get-unreserved', 'GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f'],
  ['get-utf8', 'GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'],
  ['get-space', 'GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741'],
  ['get-header-key-duplicate', 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z',
    'host;my-header1;x-amz-date', 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea'],
  ['get-header-value-order', 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z',
    'host;my-header1;x-amz-date', '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01'],
  ['get-header-value-trim', 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\nX-Amz-Date:20150830T123600Z',
    'host;my-header1;my-header2;x-amz-date', 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'],
  ['post-header-key-sort', 'POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z',
    'host;my-header1;x-amz-date', 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c'],
  ['post-header-value-case', 'POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z',
    'host;my-header1;x-amz-date', 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d'],
  ['post-vanilla-query', 'POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    'host;x-amz-date', '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11'],
  ['post-x-www-form-urlencoded', 'POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nContent-Length:13\n\nParam1=value1',
    'content-type;host;x-amz-date', 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'],
  ['post-x-www-form-urlencoded-parameters', 'POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf8\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nContent-Length:13\n\nParam1=value1',
    'content-type;host;x-amz-date', '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe'],
];

// parseRaw: a .req file as { method, rawPath, rawQuery, rawHeaders, body }.
function parseRaw(text) {
  const cut = text.indexOf('\n\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 2);
  const [requestLine, ...lines] = head.split('\n');
  const target = requestLine.slice(requestLine.indexOf(' ') + 1, requestLine.lastIndexOf(' '));
  const q = target.indexOf('?');
  return {
    method: requestLine.slice(0, requestLine.indexOf(' ')),
    rawPath: q < 0 ? target : target.slice(0, q),
    rawQuery: q < 0 ? '' : target.slice(q + 1),
    rawHeaders: lines.flatMap((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
    body,
  };
}

for (const [name, raw, signedHeaders, expected] of SUITE) {
  const r = parseRaw(raw);
  const canonical = canonicalRequest({
    method: r.method, rawPath: r.rawPath, rawQuery: r.rawQuery, headers: headerMap(r.rawHeaders),
    signedHeaders: signedHeaders.split(';'), payloadHash: sha256Hex(r.body),
  });
  const got = signature(SUITE_KEY, '20150830', 'us-east-1', 'service',
    stringToSign('20150830T123600Z', '20150830/us-east-1/service/aws4_request', canonical));
  check(`aws-sig-v4-test-suite ${name}`, got === expected, `signature ${got}, AWS has ${expected}\n${canonical}`);
}

// ---- The S3 documentation's examples, through the proxy's own check -------------
// docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html:
// bucket examplebucket, 20130524T000000Z, the example key pair. Each request
// goes through verifyRequestAuth (what the proxy runs) with the published
// Authorization header: it must pass, and fail once one byte changes.
const DOC_KEYS = new Map([['AKIAIOSFODNN7EXAMPLE', { secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', token: null }]]);
const DOC_NOW = Date.UTC(2013, 4, 24, 0, 0, 0);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const WELCOME = 'Welcome to Amazon S3.';
const docAuth = (signed, sig) => `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signed},Signature=${sig}`;
const DOC = [
  ['GET Object (Range)', 'GET', '/test.txt', '', ['Range', 'bytes=0-9', 'x-amz-content-sha256', EMPTY],
    'host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'],
  ['PUT Object, key sent as "test$file.text"', 'PUT', '/test$file.text', '',
    ['Date', 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class', 'REDUCED_REDUNDANCY', 'x-amz-content-sha256', sha256Hex(WELCOME)],
    'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'],
  ['PUT Object, key sent as "test%24file.text"', 'PUT', '/test%24file.text', '',
    ['Date', 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class', 'REDUCED_REDUNDANCY', 'x-amz-content-sha256', sha256Hex(WELCOME)],
    'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'],
  ['GET Bucket lifecycle (?lifecycle)', 'GET', '/', 'lifecycle', ['x-amz-content-sha256', EMPTY],
    'host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
  ['GET Bucket (?max-keys=2&prefix=J, sent out of order)', 'GET', '/', 'prefix=J&max-keys=2', ['x-amz-content-sha256', EMPTY],
    'host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
];
for (const [name, method, rawPath, rawQuery, extra, signed, sig] of DOC) {
  const rawHeaders = ['Host', 'examplebucket.s3.amazonaws.com', 'x-amz-date', '20130524T000000Z', ...extra, 'Authorization', docAuth(signed, sig)];
  const args = { method, rawPath, rawQuery, rawHeaders, keys: DOC_KEYS, region: 'us-east-1', now: DOC_NOW };
  const good = verifyRequestAuth(args);
  check(`S3 docs ${name}: accepted`, !good.error, good.error && `${good.error[1]}\n${good.error[3]?.CanonicalRequest ?? ''}`);
  const bad = verifyRequestAuth({ ...args, rawPath: rawPath === '/' ? '/x' : rawPath.replace(/t/, 'T') });
  check(`S3 docs ${name}: a changed path is SignatureDoesNotMatch`, bad.error && bad.error[1] === 'SignatureDoesNotMatch', JSON.stringify(bad.error?.[1]));
}

// The S3 documentation's presigned URL example (GET test.txt, 86400 s).
{
  const rawQuery = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const args = { method: 'GET', rawPath: '/test.txt', rawQuery, rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com'], keys: DOC_KEYS, region: 'us-east-1', now: DOC_NOW };
  const good = verifyRequestAuth(args);
  check('S3 docs presigned GET test.txt: accepted', !good.error, good.error && `${good.error[1]}\n${good.error[3]?.CanonicalRequest ?? ''}`);
  const late = verifyRequestAuth({ ...args, now: DOC_NOW + 86401 * 1000 });
  check('S3 docs presigned GET test.txt, a second past X-Amz-Expires: AccessDenied (expired)', late.error && late.error[1] === 'AccessDenied', JSON.stringify(late.error?.slice(1, 3)));
  const mine = new URL(presignUrl({ method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/test.txt', accessKey: 'AKIAIOSFODNN7EXAMPLE',
    secret: DOC_KEYS.get('AKIAIOSFODNN7EXAMPLE').secret, expires: 86400, now: new Date(DOC_NOW) }));
  check('presignUrl gives the documented signature', mine.searchParams.get('X-Amz-Signature') === 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404', mine.href);
}

// ---- Against the running harness ---------------------------------------------
const endpoint = process.env.S3_TEST_ENDPOINT;
const admin = process.env.S3_TEST_ADMIN;
if (endpoint) {
  const MiB = 1024 * 1024;
  const creds = { accessKey: 'S3RVER', secret: 'S3RVER' };

  // s3: a signed request through the proxy; returns { status, text, headers }.
  const s3 = async (method, pathAndQuery, body = '', { headers = {}, sign = {} } = {}) => {
    const url = endpoint + pathAndQuery;
    const signedHeaders = signRequest({ method, url, headers, body, ...creds, ...sign });
    delete signedHeaders.host; // fetch sets it, to the same value
    const r = await fetch(url, { method, headers: signedHeaders, body: body === '' ? undefined : body });
    return { status: r.status, text: await r.text(), headers: r.headers };
  };
  const code = (r) => /<Code>([^<]*)<\/Code>/.exec(r.text)?.[1] ?? '';
  const openUploads = async () => (await fetch(`${admin}/uploads`)).json();
  const completeXml = (parts) => `<CompleteMultipartUpload>${parts.map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const create = async (key) => /<UploadId>([^<]+)<\/UploadId>/.exec((await s3('POST', `/raw/${key}?uploads=`)).text)?.[1];

  // Multipart: a 1 MiB part that is not the last one.
  const key = 'mp/small%20parts.bin';
  const id = await create(key);
  check('CreateMultipartUpload answers an UploadId', Boolean(id));
  const p1 = await s3('PUT', `/raw/${key}?partNumber=1&uploadId=${id}`, Buffer.alloc(MiB, 1));
  const p2 = await s3('PUT', `/raw/${key}?partNumber=2&uploadId=${id}`, Buffer.alloc(10, 2));
  check('UploadPart 1 MiB and 10 B: 200 each', p1.status === 200 && p2.status === 200, `${p1.status} ${p2.status}`);
  let uploads = await openUploads();
  check('/__admin/uploads lists the open upload with its part sizes',
    uploads.length === 1 && uploads[0].uploadId === id && uploads[0].key === 'mp/small parts.bin' &&
    uploads[0].parts.map((p) => p.size).join(',') === `${MiB},10`, JSON.stringify(uploads));
  const small = await s3('POST', `/raw/${key}?uploadId=${id}`, completeXml([[1, p1.headers.get('etag')], [2, p2.headers.get('etag')]]));
  check('CompleteMultipartUpload with a 1 MiB non-last part: 400 EntityTooSmall', small.status === 400 && code(small) === 'EntityTooSmall', `${small.status} ${code(small)}`);
  const order = await s3('POST', `/raw/${key}?uploadId=${id}`, completeXml([[2, p2.headers.get('etag')], [1, p1.headers.get('etag')]]));
  check('parts out of order: 400 InvalidPartOrder', order.status === 400 && code(order) === 'InvalidPartOrder', `${order.status} ${code(order)}`);
  const missing = await s3('POST', `/raw/${key}?uploadId=${id}`, completeXml([[1, p1.headers.get('etag')], [3, '"x"']]));
  check('a part never uploaded: 400 InvalidPart', missing.status === 400 && code(missing) === 'InvalidPart', `${missing.status} ${code(missing)}`);
  const listParts = await s3('GET', `/raw/${key}?uploadId=${id}`);
  check('ListParts (answered by the proxy): parts 1 and 2 with their sizes', listParts.status === 200 &&
    [...listParts.text.matchAll(/<PartNumber>(\d+)<\/PartNumber>.*?<Size>(\d+)<\/Size>/g)].map((m) => `${m[1]}:${m[2]}`).join(',') === `1:${MiB},2:10`,
    `${listParts.status} ${listParts.text}`);
  const listUploads = await s3('GET', '/raw?uploads=&prefix=mp%2F');
  check('ListMultipartUploads (answered by the proxy) lists it', listUploads.status === 200 && listUploads.text.includes(`<UploadId>${id}</UploadId>`), `${listUploads.status} ${listUploads.text}`);
  const abort = await s3('DELETE', `/raw/${key}?uploadId=${id}`);
  check('AbortMultipartUpload: 204 (answered by the proxy)', abort.status === 204, `${abort.status}`);
  uploads = await openUploads();
  check('after the abort /__admin/uploads is empty', uploads.length === 0, JSON.stringify(uploads));
  const listAfter = await s3('GET', '/raw?uploads=');
  check('after the abort ListMultipartUploads lists nothing', listAfter.status === 200 && !listAfter.text.includes('<Upload>'), listAfter.text);
  const late = await s3('PUT', `/raw/${key}?partNumber=3&uploadId=${id}`, 'late');
  check('UploadPart on an aborted upload: 404 NoSuchUpload', late.status === 404 && code(late) === 'NoSuchUpload', `${late.status} ${code(late)}`);
  const again = await s3('DELETE', `/raw/${key}?uploadId=${id}`);
  check('AbortMultipartUpload twice: 404 NoSuchUpload', again.status === 404 && code(again) === 'NoSuchUpload', `${again.status}`);
  const unknown = await s3('PUT', `/raw/${key}?partNumber=1&uploadId=deadbeef`, 'x');
  check('an unknown uploadId: 404 NoSuchUpload', unknown.status === 404 && code(unknown) === 'NoSuchUpload', `${unknown.status}`);
  const stray = await s3('GET', `/raw/${key}`);
  check('nothing was written for the aborted upload (GET: 404)', stray.status === 404, `${stray.status}`);

  // Multipart done right: 5 MiB + a short last part.
  const okKey = 'mp/ok%3Dyes.bin';
  const id2 = await create(okKey);
  const q1 = await s3('PUT', `/raw/${okKey}?partNumber=1&uploadId=${id2}`, Buffer.alloc(5 * MiB, 3));
  const q2 = await s3('PUT', `/raw/${okKey}?partNumber=2&uploadId=${id2}`, Buffer.alloc(7, 4));
  const done = await s3('POST', `/raw/${okKey}?uploadId=${id2}`, completeXml([[1, q1.headers.get('etag')], [2, q2.headers.get('etag')]]));
  check('CompleteMultipartUpload 5 MiB + 7 B: 200', done.status === 200 && /<CompleteMultipartUploadResult/.test(done.text), `${done.status} ${code(done)}`);
  const head = await s3('HEAD', `/raw/${okKey}`);
  check('the completed object has the size of its parts', head.headers.get('content-length') === String(5 * MiB + 7), head.headers.get('content-length'));
  uploads = await openUploads();
  check('a completed upload is no longer open', uploads.length === 0, JSON.stringify(uploads));
  const afterDone = await s3('PUT', `/raw/${okKey}?partNumber=3&uploadId=${id2}`, 'x');
  check('UploadPart after Complete: 404 NoSuchUpload', afterDone.status === 404, `${afterDone.status}`);

  // ListObjectsV2 one key at a time: continuation tokens (base64: '+', '/',
  // '=') must survive the round trip, encoded.
  for (const k of ['a', 'b', 'c']) await s3('PUT', `/processed/page/${k}`, k);
  const seen = [];
  let token = null;
  for (let pages = 0; pages < 10; pages++) {
    const q = `continuation-token=${token ? encodeURIComponent(token) : ''}&list-type=2&max-keys=1&prefix=page%2F`;
    const page = await s3('GET', `/processed?${token ? q : q.replace(/^continuation-token=&/, '')}`);
    if (page.status !== 200) { seen.push(`status ${page.status} ${code(page)}`); break; }
    seen.push(...[...page.text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]));
    token = /<NextContinuationToken>([^<]+)</.exec(page.text)?.[1] ?? null;
    if (!/<IsTruncated>true</.test(page.text)) break;
  }
  check('ListObjectsV2 max-keys=1, paged by continuation token: every key once', seen.join(',') === 'page/a,page/b,page/c', seen.join(','));
  const meta = await s3('PUT', '/processed/meta', 'm', { headers: { 'x-amz-meta-sha256': 'abc123' } });
  const metaHead = await s3('HEAD', '/processed/meta');
  check('x-amz-meta-* stored and returned by HEAD', meta.status === 200 && metaHead.headers.get('x-amz-meta-sha256') === 'abc123', `${meta.status} ${metaHead.headers.get('x-amz-meta-sha256')}`);

  // Signing rules curl cannot break on purpose.
  const skewed = await s3('GET', '/raw?list-type=2', '', { sign: { now: new Date(Date.now() - 20 * 60 * 1000) } });
  check('x-amz-date 20 min old: 403 RequestTimeTooSkewed', skewed.status === 403 && code(skewed) === 'RequestTimeTooSkewed', `${skewed.status} ${code(skewed)}`);
  const url = `${endpoint}/raw/unsigned.txt`;
  const h = signRequest({ method: 'PUT', url, headers: {}, body: 'x', ...creds });
  delete h.host;
  const r = await fetch(url, { method: 'PUT', headers: { ...h, 'x-amz-meta-late': 'added after signing' }, body: 'x' });
  const t = await r.text();
  check('an x-amz-* header left unsigned: 403 AccessDenied', r.status === 403 && /AccessDenied/.test(t) && /x-amz-meta-late/.test(t), `${r.status} ${t}`);
  const region = await s3('GET', '/raw?list-type=2', '', { sign: { region: 'eu-west-1' } });
  check('signed for another region: 400 AuthorizationHeaderMalformed', region.status === 400 && code(region) === 'AuthorizationHeaderMalformed', `${region.status} ${code(region)}`);
  const md5 = await s3('PUT', '/raw/md5.txt', 'hello', { headers: { 'Content-MD5': 'XUFAKrxLKna5cZ2REBfFkg==' } });
  check('Content-MD5 right: 200', md5.status === 200, `${md5.status} ${md5.text}`);
  const crc = await s3('PUT', '/raw/crc.txt', 'hello', { headers: { 'x-amz-checksum-crc32': 'NhCmhg==', 'x-amz-checksum-crc32c': 'mnG7TA==' } });
  check('x-amz-checksum-crc32 and -crc32c right: 200', crc.status === 200, `${crc.status} ${crc.text}`);
  const badCrc = await s3('PUT', '/raw/crc.txt', 'hellO', { headers: { 'x-amz-checksum-crc32': 'NhCmhg==' } });
  check('x-amz-checksum-crc32 wrong: 400 BadDigest', badCrc.status === 400 && code(badCrc) === 'BadDigest', `${badCrc.status} ${code(badCrc)}`);

  // A presigned GET (query authentication), and the same URL tampered with.
  await s3('PUT', '/processed/presigned%20x.txt', 'presigned body');
  const pre = presignUrl({ method: 'GET', url: `${endpoint}/processed/presigned%20x.txt`, ...creds, expires: 60 });
  const preGet = await fetch(pre);
  check('a presigned GET: 200 and the object', preGet.status === 200 && (await preGet.text()) === 'presigned body', `${preGet.status}`);
  const preBad = await fetch(pre.replace('presigned%20x', 'presigned%20y'));
  check('a presigned URL for another key: 403 SignatureDoesNotMatch', preBad.status === 403 && /SignatureDoesNotMatch/.test(await preBad.text()), `${preBad.status}`);

  // Session tokens (selftest.sh starts the proxy with TOKENKEY:TOKENSECRET:TOKEN1).
  if ((process.env.PROXY_KEYS || '').includes('TOKENKEY')) {
    const tok = { sign: { accessKey: 'TOKENKEY', secret: 'TOKENSECRET' } };
    const withToken = await s3('GET', '/raw?list-type=2', '', { ...tok, headers: { 'x-amz-security-token': 'TOKEN1' } });
    check('a key with a session token, token sent and signed: 200', withToken.status === 200, `${withToken.status} ${code(withToken)}`);
    const noToken = await s3('GET', '/raw?list-type=2', '', tok);
    check('the same key without its token: 403 InvalidToken', noToken.status === 403 && code(noToken) === 'InvalidToken', `${noToken.status} ${code(noToken)}`);
  }
}

process.exit(failed ? 1 : 0);
