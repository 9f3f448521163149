#!/usr/bin/env node
// A standalone SMTP catcher for the stack scripts (tests/stack/lib.sh):
// the services must know CLEARANCE_SMTP_URL when they start, so the catcher
// runs before them, outside the node tests.  Every message received is
// written as one JSON file {from, to, raw, time} into --dir, named so that
// a directory listing is in arrival order; the tests read them from there.
//
//   node smtp-server.mjs --port PORT --dir DIR
import fs from 'node:fs';
import path from 'node:path';
import { startSmtp } from './smtp.mjs';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('port') || 0);
const dir = arg('dir');
if (!dir || !Number.isInteger(port)) {
  console.error('usage: smtp-server.mjs --port PORT --dir DIR');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

const smtp = await startSmtp({ port });
let seq = 0;
const seen = new Set();
// startSmtp keeps messages in memory; mirror each new one to a file.
setInterval(() => {
  for (const m of smtp.messages) {
    if (seen.has(m)) continue;
    seen.add(m);
    seq += 1;
    const name = `${String(Date.now()).padStart(15, '0')}-${String(seq).padStart(6, '0')}.json`;
    const tmp = path.join(dir, `.${name}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(m));
    fs.renameSync(tmp, path.join(dir, name));
  }
  if (seen.size > 1000) { smtp.clear(); seen.clear(); }
}, 50).unref();
console.log(`smtp catcher on ${smtp.url}, writing to ${dir}`);
const stop = async () => { await smtp.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30);
