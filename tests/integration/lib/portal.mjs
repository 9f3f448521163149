// Helpers shared by the portal tests (API and browser): accounts made
// through the API and the SMTP catcher's mail files, admins made in SQL.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { api, waitFor, DATABASE_URL, STACK_DIR } from './api.mjs';

export const PASSWORD = 'correct horse battery staple';
export const uniq = () => crypto.randomBytes(4).toString('hex');
const MAIL_DIR = STACK_DIR ? path.join(STACK_DIR, 'mail') : '';

export function sql(text, vars = {}) {
  const args = [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

// Same encoding as common/src/password.c.
export function scryptHash(pw) {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(pw, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$ln=15,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export function readMail() {
  if (!MAIL_DIR || !fs.existsSync(MAIL_DIR)) return [];
  return fs.readdirSync(MAIL_DIR).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(MAIL_DIR, f), 'utf8')));
}

export const waitMail = (to, re, timeoutMs = 15000) => waitFor(
  () => readMail().find((m) => m.to.includes(to) && re.test(m.raw)),
  { timeoutMs, what: `mail to ${to} matching ${re}` },
);

/** The token of the newest mailed link of kind 'verify' or 'reset' to `to`. */
export async function mailedToken(to, kind) {
  const re = new RegExp(`#/${kind}/(clr_[a-z]{3}_[\\w-]+)`);
  await waitMail(to, re);
  const all = readMail().filter((m) => m.to.includes(to) && re.test(m.raw));
  return re.exec(all[all.length - 1].raw)[1];
}

export async function makeAdmin() {
  const email = `admin-${uniq()}@example.test`;
  sql(`INSERT INTO accounts (role, email, name, password_hash, email_verified_at)
       VALUES ('admin', :'e', 'Admin', :'h', now())`, { e: email, h: scryptHash(PASSWORD) });
  const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
  if (l.status !== 201) throw new Error(`admin login: ${l.text}`);
  return { email, token: l.json.token };
}

/** A developer signed up, verified through the mailed link, logged in (bearer). */
export async function verifiedDev(prefix = 'dev') {
  const email = `${prefix}-${uniq()}@example.test`;
  const s = await api('POST', '/v1/developers', { email, password: PASSWORD, name: `Dev ${prefix}` }, { token: null });
  if (s.status !== 201) throw new Error(`signup: ${s.text}`);
  const token = await mailedToken(email, 'verify');
  const v = await api('POST', '/v1/email-verifications', { token }, { token: null });
  if (v.status !== 200) throw new Error(`verify: ${v.text}`);
  const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
  if (l.status !== 201) throw new Error(`login: ${l.text}`);
  return { email, token: l.json.token, id: l.json.account_id };
}

/** Provider, client type, plan, product (API, admin token) and the file behind it. */
export async function apiCatalogue(idp, adminToken) {
  const sfx = uniq();
  const as = { token: adminToken };
  const p = await api('POST', '/v1/providers', {
    name: `pt-${sfx}`, kind: 'other', well_known_url: idp.discoveryUrl,
    initial_access_token: idp.initialAccessToken, allow_insecure_http: true, audience: idp.audience,
  }, as);
  if (p.status !== 201) throw new Error(`provider: ${p.text}`);
  const ct = await api('POST', `/v1/providers/${p.json.id}/client-types`, {
    display_name: `machine-${sfx}`, grant_types: ['client_credentials'], response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }, as);
  const plan = await api('POST', '/v1/plans', { name: `free-${sfx}`, scopes: 'plan:free', rate_limit_requests: 100, rate_limit_window_seconds: 60 }, as);
  const product = await api('POST', '/v1/products', {
    name: `prod-${sfx}`, description: 'a product', path_prefixes: [`/api/pt${sfx}/`], dcr_enabled: true,
    scopes: 'orders:read', client_type_ids: [ct.json.id], plan_ids: [plan.json.id],
  }, as);
  if (product.status !== 201) throw new Error(`product: ${product.text}`);
  return { providerId: p.json.id, ctId: ct.json.id, planId: plan.json.id, productId: product.json.id, productName: product.json.name };
}
