// test_hostile.mjs — a deliberately broken "S3" server for tests/s3/run.sh:
// each bucket name picks one way to misbehave, so the S3 backend can be shown
// to fail with a clear message (never a crash, a hang or unbounded memory).
// Usage: node test_hostile.mjs PORTFILE   (listens on 127.0.0.1, any port)
//   huge     ListObjectsV2 answer of 20 MiB (over the client's 16 MiB cap)
//   badxml   a <Contents> that never closes
//   nosize   a <Contents> without <Size>
//   loop     IsTruncated true with the same continuation token forever
//   outside  a key outside the requested prefix
//   notxml   200 with a body that is not XML at all
//   trunc    GET: Content-Length 1000, 10 bytes, then the connection closes
//   errbig   403 with a 10 MiB error body (kept to its first 64 KiB)
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';

const list = (inner) =>
  `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>${inner}</ListBucketResult>`;

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const bucket = url.pathname.split('/')[1];
  req.resume();
  switch (bucket) {
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
    case 'loop':
      return res.end(list('<IsTruncated>true</IsTruncated><NextContinuationToken>same' +
        '</NextContinuationToken><Contents><Key>p/a</Key><Size>1</Size></Contents>'));
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
    default:
      res.writeHead(404);
      return res.end();
  }
});
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], String(server.address().port)));
