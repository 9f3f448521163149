// The demo's OpenID Provider and SMTP catcher for `make run` / `make up`
// (deploy/run/run.sh), built from the same code the integration tests use:
// tests/integration/lib/idp.mjs (oidc-provider with RFC 7591/7592 dynamic
// client registration, client-credentials JWT access tokens) and
// tests/integration/lib/smtp.mjs.  Everything is in memory: registered
// clients and signing keys are gone when it stops.
//
// Environment (set by run.sh):
//   DEMO_IDP_PORT                  IdP port on 127.0.0.1 (8090)
//   DEMO_IDP_IAT_FILE              file holding the initial access token
//   DEMO_SMTP_PORT                 SMTP catcher port on 127.0.0.1 (2525)
//   DEMO_MAIL_DIR                  every caught message is written there as NNNN.eml
//   DEMO_READY_FILE                written (JSON) once both are listening
import fs from 'node:fs';
import path from 'node:path';
import { startIdp, DEFAULT_SCOPES, DEFAULT_AUDIENCE } from '../../tests/integration/lib/idp.mjs';
import { startSmtp } from '../../tests/integration/lib/smtp.mjs';

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const port = Number(env('DEMO_IDP_PORT', '8090'));
const smtpPort = Number(env('DEMO_SMTP_PORT', '2525'));
const iatFile = env('DEMO_IDP_IAT_FILE', '');
const mailDir = env('DEMO_MAIL_DIR', '');
const readyFile = env('DEMO_READY_FILE', '');

function log(msg) {
  process.stdout.write(`[demo-idp ${new Date().toISOString()}] ${msg}\n`);
}

if (!iatFile) {
  log('DEMO_IDP_IAT_FILE is required');
  process.exit(2);
}
// The token stays the same between runs so that the provider stored in the
// kept database keeps working; the IdP itself forgets its clients.
const initialAccessToken = fs.readFileSync(iatFile, 'utf8').trim();
if (initialAccessToken.length < 16) {
  log(`${iatFile} holds no usable initial access token`);
  process.exit(2);
}

const idp = await startIdp({
  port,
  initialAccessToken,
  algs: ['RS256', 'ES256'],
  scopes: DEFAULT_SCOPES,
  audience: DEFAULT_AUDIENCE,
});
const smtp = await startSmtp({ port: smtpPort });

let seen = 0;
const timer = setInterval(() => {
  while (seen < smtp.messages.length) {
    const m = smtp.messages[seen];
    seen += 1;
    const subject = (m.raw.match(/^Subject: (.*)$/im) || [])[1] || '(no subject)';
    let where = '';
    if (mailDir) {
      fs.mkdirSync(mailDir, { recursive: true, mode: 0o700 });
      where = path.join(mailDir, `${String(seen).padStart(4, '0')}.eml`);
      fs.writeFileSync(where, m.raw, { mode: 0o600 });
    }
    // Only the envelope and the subject: a body may carry links or ids.
    log(`mail to ${m.to.join(', ')}: ${subject.trim()}${where ? ` (${where})` : ''}`);
  }
}, 250);

log(`OpenID Provider ${idp.url} (discovery ${idp.discoveryUrl}, registration ${idp.url}/reg, token ${idp.url}/token)`);
log(`audience ${idp.audience}; scopes ${idp.scopes.join(' ')}`);
log(`SMTP catcher ${smtp.url}`);
if (readyFile) {
  fs.writeFileSync(readyFile, `${JSON.stringify({
    issuer: idp.url, discovery: idp.discoveryUrl, token_endpoint: `${idp.url}/token`,
    audience: idp.audience, scopes: idp.scopes, smtp: smtp.url,
  })}\n`);
}

let stopping = false;
async function stop(sig) {
  if (stopping) return;
  stopping = true;
  log(`${sig}: stopping`);
  clearInterval(timer);
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  await Promise.allSettled([idp.stop(), smtp.stop()]);
  if (readyFile) fs.rmSync(readyFile, { force: true });
  process.exit(0);
}
process.on('SIGTERM', () => { stop('SIGTERM'); });
process.on('SIGINT', () => { stop('SIGINT'); });
