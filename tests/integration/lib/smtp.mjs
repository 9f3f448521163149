// A loopback SMTP catcher (smtp-server) for the integration tests: no TLS,
// any or no AUTH accepted, every message kept in memory as {from, to, raw}.
import { once } from 'node:events';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';

const MAX_MESSAGE = 1024 * 1024;

/**
 * Resolves to {port, url ("smtp://127.0.0.1:PORT"), messages, waitFor, clear, stop}.
 * waitFor(predicate, timeoutMs=10000) resolves with the first message for which
 * predicate(msg) is true (already received or arriving later), else rejects.
 */
export async function startSmtp({ port = 0 } = {}) {
  const messages = [];
  const waiters = new Set();

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'clearance test catcher',
    size: MAX_MESSAGE,
    logger: false,
    onAuth(auth, session, cb) { cb(null, { user: auth.username || 'anonymous' }); },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const msg = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          time: Date.now(),
        };
        messages.push(msg);
        for (const w of [...waiters]) {
          if (w.predicate(msg)) { waiters.delete(w); clearTimeout(w.timer); w.resolve(msg); }
        }
        cb(stream.sizeExceeded ? Object.assign(new Error('too big'), { responseCode: 552 }) : null);
      });
    },
  });
  server.on('error', (err) => { console.error('[smtp] error', err.message); });

  server.listen(port, '127.0.0.1');
  await once(server.server, 'listening');
  const bound = server.server.address().port;

  return {
    port: bound,
    url: `smtp://127.0.0.1:${bound}`,
    messages,
    clear() { messages.length = 0; },
    waitFor(predicate = () => true, timeoutMs = 10000) {
      const hit = messages.find(predicate);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`smtp.waitFor: no matching message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async stop() {
      for (const w of waiters) { clearTimeout(w.timer); w.resolve(undefined); }
      waiters.clear();
      await new Promise((resolve) => { server.close(() => resolve()); });
    },
  };
}

/**
 * Sends one message with a bare SMTP dialogue (no client library), for
 * testing the catcher itself.  Resolves with the server's last reply line.
 */
export function sendRawMail({ port, from, to, data, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const script = [
      null, // banner
      'EHLO test.local',
      `MAIL FROM:<${from}>`,
      `RCPT TO:<${to}>`,
      'DATA',
      `${data.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.`,
      'QUIT',
    ];
    let step = 0;
    let buf = '';
    let last = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('sendRawMail: timeout')); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      buf += d;
      // A reply is complete at a line "NNN text" (no dash after the code).
      let m;
      while ((m = buf.match(/^(\d{3})([ -])(.*)\r\n/m))) {
        const line = m[0];
        buf = buf.slice(buf.indexOf(line) + line.length);
        if (m[2] === '-') continue;
        last = line.trim();
        const code = Number(m[1]);
        if (code >= 400) { clearTimeout(timer); sock.destroy(); reject(new Error(`sendRawMail: ${last}`)); return; }
        step += 1;
        if (step < script.length) sock.write(`${script[step]}\r\n`);
      }
    });
    sock.on('close', () => { clearTimeout(timer); resolve(last); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
