// test_hostile.mjs — a deliberately broken "S3" server for tests/s3/run.sh:
// each bucket name picks one way to misbehave, so the S3 backend can be shown
// to fail with a clear message (never a crash, a hang or unbounded memory).
// Usage: node test_hostile.mjs PORTFILE   (listens on 127.0.0.1, any port)
//   huge     ListObjectsV2 answer of 20 MiB (over the client's 16 MiB cap)
//   badxml   a <Contents> that never closes
//   nosize   a <Contents> without <Size>
//   loop     IsTruncated true with the same continuation token forever
//   cycle    IsTruncated true, empty pages, tokens going round A, B, C, A, …
//   repeat   IsTruncated true, a fresh token each time, the same key each page
//   outside  a key outside the requested prefix
//   notxml   200 with a body that is not XML at all
//   trunc    GET: Content-Length 1000, 10 bytes, then the connection closes
//   errbig   403 with a 10 MiB error body (kept to its first 64 KiB)
//   badsum   GET: 1000 bytes whose x-amz-meta-sha256 is another file's
//   paged    a well-behaved ListObjectsV2 of 2500 keys "p/pre/key-NNNNN",
//            paged by max-keys with opaque continuation tokens; GET
//            /paged-requests tells what the client asked for
// and some that misbehave once, so a retry must get the bytes right:
//   throttle ListObjectsV2: the first answer is 429 TooManyRequests, then a
//            page with one key
//   resume   GET: the first answer stops after 600 of 1000 bytes; later ones
//            honour Range (206) when If-Match carries the ETag (else 412)
//   norange  GET: the first answer stops after 600 bytes; later ones ignore
//            Range and send all 1000 bytes with 200
//   badrange GET: the first answer stops after 600 bytes; later ones say 206
//            but send all 1000 bytes from byte 0 (Content-Range bytes 0-999)
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';

const list = (inner) =>
  `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>${inner}</ListBucketResult>`;

const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(28).slice(0, 1000));
const seen = new Map(); // bucket → GETs so far
const ETAG = '"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"';

const pagedKeys = Array.from({ length: 2500 }, (_, i) => `p/pre/key-${String(i).padStart(5, '0')}`);
const pagedSeen = [];

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const bucket = url.pathname.split('/')[1];
  req.resume();
  switch (bucket) {
    case 'paged-requests':
      return res.end(`${pagedSeen.length} pages, tokens: ${pagedSeen.join(',')}`);
    case 'paged': {
      const q = url.searchParams;
      if (q.get('list-type') !== '2') {
        res.writeHead(400);
        return res.end('<Error><Code>InvalidArgument</Code><Message>want list-type=2</Message></Error>');
      }
      const token = q.get('continuation-token');
      pagedSeen.push(token ?? '-');
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(Number(q.get('max-keys') ?? 1000), 1000);
      const keys = pagedKeys.filter((k) => k.startsWith(prefix));
      const from = token ? Number(token.slice(1)) : 0;
      const page = keys.slice(from, from + max);
      const more = from + max < keys.length;
      return res.end(list(`<KeyCount>${page.length}</KeyCount><IsTruncated>${more}</IsTruncated>` +
        (more ? `<NextContinuationToken>T${from + max}</NextContinuationToken>` : '') +
        page.map((k) => `<Contents><Key>${k}</Key><Size>7</Size></Contents>`).join('')));
    }
    case 'huge': {
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      res.write('<ListBucketResult>');
      const chunk = '<Contents><Key>k</Key><Size>1</Size></Contents>'.repeat(20000);
      let sent = 0;
      const more = () => {
        while (sent < 20 << 20) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', more);
        }
        res.end('</ListBucketResult>');
      };
      res.on('error', () => {});
      return more();
    }
    case 'badxml':
      return res.end(list('<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1'));
    case 'nosize':
      return res.end(list('<Contents><Key>a</Key></Contents>'));
    case 'loop': {
      // One key on the first page only, so the token is what gives it away.
      const first = !url.searchParams.has('continuation-token');
      return res.end(list('<IsTruncated>true</IsTruncated><NextContinuationToken>same' +
        '</NextContinuationToken>' + (first ? '<Contents><Key>p/a</Key><Size>1</Size></Contents>' : '')));
    }
    case 'cycle': {
      const t = url.searchParams.get('continuation-token') ?? 'C';
      const next = { A: 'B', B: 'C', C: 'A' }[t] ?? 'A';
      return res.end(list(`<IsTruncated>true</IsTruncated><NextContinuationToken>${next}` +
        '</NextContinuationToken>'));
    }
    case 'repeat': {
      const n = (seen.get(bucket) || 0) + 1;
      seen.set(bucket, n);
      return res.end(list(`<IsTruncated>true</IsTruncated><NextContinuationToken>T${n}` +
        '</NextContinuationToken><Contents><Key>p/a</Key><Size>1</Size></Contents>'));
    }
    case 'throttle': {
      const n = (seen.get(bucket) || 0) + 1;
      seen.set(bucket, n);
      if (n === 1) {
        res.writeHead(429, { 'Content-Type': 'application/xml' });
        return res.end('<Error><Code>TooManyRequests</Code><Message>slow down</Message></Error>');
      }
      return res.end(list('<IsTruncated>false</IsTruncated>' +
        '<Contents><Key>p/one</Key><Size>3</Size></Contents>'));
    }
    case 'outside':
      return res.end(list('<Contents><Key>elsewhere/a</Key><Size>1</Size></Contents>'));
    case 'notxml':
      return res.end('hello, I am not S3');
    case 'trunc':
      res.writeHead(200, { 'Content-Length': 1000 });
      res.write('0123456789');
      return setTimeout(() => res.socket.destroy(), 50);
    case 'errbig':
      res.writeHead(403, { 'Content-Type': 'application/xml' });
      res.write('<Error><Code>AccessDenied</Code><Message>go away</Message></Error>');
      return res.end(' '.repeat(10 << 20));
    case 'resume':
    case 'norange':
    case 'badrange': {
      const n = (seen.get(bucket) || 0) + 1;
      seen.set(bucket, n);
      if (n === 1) {
        res.writeHead(200, { 'Content-Length': body.length, ETag: ETAG });
        res.write(body.subarray(0, 600));
        return setTimeout(() => res.socket.destroy(), 50);
      }
      if (bucket === 'badrange') {
        res.writeHead(206, { 'Content-Length': body.length, ETag: ETAG,
          'Content-Range': `bytes 0-${body.length - 1}/${body.length}` });
        return res.end(body);
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
      if (bucket === 'resume' && m) {
        if (req.headers['if-match'] !== ETAG) {
          res.writeHead(412);
          return res.end('<Error><Code>PreconditionFailed</Code></Error>');
        }
        const from = Number(m[1]);
        res.writeHead(206, { 'Content-Length': body.length - from, ETag: ETAG,
          'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` });
        return res.end(body.subarray(from));
      }
      res.writeHead(200, { 'Content-Length': body.length, ETag: ETAG });
      return res.end(body);
    }
    case 'body':
      return res.end(body);
    case 'badsum':
      res.writeHead(200, { 'Content-Length': body.length, ETag: ETAG,
        'x-amz-meta-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
      return res.end(body);
    default:
      res.writeHead(404);
      return res.end();
  }
});
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], String(server.address().port)));
