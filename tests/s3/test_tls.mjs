// test_tls.mjs — a TLS front for tests/s3/run.sh: terminates TLS with a
// self-signed certificate and passes the bytes to the harness proxy, so the
// S3 backend can be shown to verify certificates and to trust AWS_CA_BUNDLE.
// Usage: node test_tls.mjs KEY.pem CERT.pem TARGET_PORT PORTFILE
import { createServer } from 'node:tls';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';

const [key, cert, target, portfile] = process.argv.slice(2);
const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (sock) => {
  const up = connect(Number(target), '127.0.0.1');
  sock.pipe(up).pipe(sock);
  sock.on('error', () => up.destroy());
  up.on('error', () => sock.destroy());
});
server.on('tlsClientError', () => {}); // a client refusing our certificate is the point
server.listen(0, '127.0.0.1', () => writeFileSync(portfile, String(server.address().port)));
