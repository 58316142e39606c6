// sinks.mjs — the orchestration suite's loopback receivers: an HTTP listener
// (the alert webhook) and a minimal SMTP server (the alert mail), both on
// 127.0.0.1 free ports. Usage: node sinks.mjs OUTDIR. Writes OUTDIR/ports
// ("HTTP_PORT SMTP_PORT") once both listen; every request goes to
// OUTDIR/http.log (one JSON line each), every mail to OUTDIR/mail-N.json
// (envelope, AUTH user and the message). HTTP_STATUS sets the reply status.
// A third listener accepts connections and never answers (a server that
// hangs: keeps a task busy for as long as its client waits); ports has
// "HTTP_PORT SMTP_PORT HANG_PORT".
// Test-only: accepts any credentials, delivers nothing anywhere.
import { createServer as createHttp } from 'node:http';
import { createServer as createTcp } from 'node:net';
import { appendFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) { console.error('usage: node sinks.mjs OUTDIR'); process.exit(2); }
const status = Number(process.env.HTTP_STATUS || 200);

const http = createHttp((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const rec = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    appendFileSync(join(out, 'http.log'), JSON.stringify(rec) + '\n');
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
  });
});

let mails = 0;
const smtp = createTcp((sock) => {
  let buf = '';
  let mode = 'cmd'; // cmd | data | auth-plain | auth-user | auth-pass
  let env = { from: null, to: [], user: null };
  const say = (line) => sock.write(line + '\r\n');
  say('220 sink.test ESMTP test sink');
  const b64 = (s) => Buffer.from(s, 'base64').toString('utf8');
  const plain = (s) => { const p = b64(s).split('\0'); env.user = p[1] ?? null; say('235 2.7.0 Authentication successful'); };
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    for (;;) {
      if (mode === 'data') {
        const end = buf.indexOf('\r\n.\r\n');
        if (end < 0) return;
        const body = Buffer.from(buf.slice(0, end), 'latin1').toString('utf8').replace(/^\.\./gm, '.');
        buf = buf.slice(end + 5);
        mails++;
        const f = join(out, `mail-${mails}.json`);
        writeFileSync(f + '.tmp', JSON.stringify({ ...env, message: body }));
        renameSync(f + '.tmp', f);
        env = { from: null, to: [], user: env.user };
        mode = 'cmd';
        say('250 2.0.0 queued');
        continue;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      if (mode === 'auth-plain') { mode = 'cmd'; plain(line); continue; }
      if (mode === 'auth-user') { env.user = b64(line); mode = 'auth-pass'; say('334 UGFzc3dvcmQ6'); continue; }
      if (mode === 'auth-pass') { mode = 'cmd'; say('235 2.7.0 Authentication successful'); continue; }
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') say('250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 10485760');
      else if (verb === 'HELO') say('250 sink.test');
      else if (verb === 'AUTH') {
        const [, mech, arg] = line.split(' ');
        if (/^plain$/i.test(mech)) { if (arg) plain(arg); else { mode = 'auth-plain'; say('334 '); } }
        else if (/^login$/i.test(mech)) { mode = 'auth-user'; say('334 VXNlcm5hbWU6'); }
        else say('504 5.5.4 unknown mechanism');
      } else if (verb === 'MAIL') { env.from = line.slice(10); say('250 2.1.0 ok'); }
      else if (verb === 'RCPT') { env.to.push(line.slice(8)); say('250 2.1.5 ok'); }
      else if (verb === 'DATA') { mode = 'data'; say('354 end with <CRLF>.<CRLF>'); }
      else if (verb === 'RSET' || verb === 'NOOP') say('250 2.0.0 ok');
      else if (verb === 'QUIT') { say('221 2.0.0 bye'); sock.end(); return; }
      else say('502 5.5.2 command not recognized');
    }
  });
  sock.on('error', () => {});
});

const held = [];
const hang = createTcp((sock) => { held.push(sock); sock.on('error', () => {}); });

let ready = 0;
const done = () => {
  if (++ready < 3) return;
  writeFileSync(join(out, 'ports.tmp'), `${http.address().port} ${smtp.address().port} ${hang.address().port}\n`);
  renameSync(join(out, 'ports.tmp'), join(out, 'ports'));
};
http.listen(0, '127.0.0.1', done);
smtp.listen(0, '127.0.0.1', done);
hang.listen(0, '127.0.0.1', done);
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
