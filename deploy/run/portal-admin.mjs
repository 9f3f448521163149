// make run: the demo admin of the web portal.  Creates (or resets) the
// account admin@clearance.local with a random password kept in
// PORTAL_ADMIN_PASSWORD_FILE (mode 0600, never printed), and appends how to
// log in to the journey text that run.sh prints.
//   CLEARANCE_DATABASE_URL       libpq conninfo of the kept cluster
//   PORTAL_ADMIN_PASSWORD_FILE   where the password lives
//   PORTAL_URL                   the portal's address
//   DEMO_JOURNEY_FILE            the text run.sh prints
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const EMAIL = 'admin@clearance.local';
const { CLEARANCE_DATABASE_URL: db, PORTAL_ADMIN_PASSWORD_FILE: pwFile, PORTAL_URL: url, DEMO_JOURNEY_FILE: journey } = process.env;
if (!db || !pwFile || !url) throw new Error('portal-admin: CLEARANCE_DATABASE_URL, PORTAL_ADMIN_PASSWORD_FILE and PORTAL_URL are required');

let pw = fs.existsSync(pwFile) ? fs.readFileSync(pwFile, 'utf8').trim() : '';
if (pw.length < 16) {
  pw = crypto.randomBytes(15).toString('base64url');
  fs.writeFileSync(pwFile, `${pw}\n`, { mode: 0o600 });
}
// The encoding of common/src/password.c.
const salt = crypto.randomBytes(16);
const key = crypto.scryptSync(pw, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
const hash = `$scrypt$ln=15,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
execFileSync('psql', [db, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `e=${EMAIL}`, '-v', `h=${hash}`], {
  input: `INSERT INTO accounts (role, email, name, password_hash, email_verified_at)
          VALUES ('admin', :'e', 'Demo admin', :'h', now())
          ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash,
            role = 'admin', blocked = false, updated_at = now();\n`,
  stdio: ['pipe', 'ignore', 'inherit'], timeout: 30000,
});
const text = `
Developer portal: ${url}
  Log in as the demo admin: ${EMAIL}, password in ${pwFile}
  Developers sign up there; their confirmation mails land in the SMTP catcher.
`;
if (journey) fs.appendFileSync(journey, text);
process.stdout.write(`portal-admin: ${EMAIL} ready\n`);
