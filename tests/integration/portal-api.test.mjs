// The API additions of the portal issue, over plain HTTP through nginx:
// cookie sessions and their CSRF rule, sign-up without account enumeration,
// e-mail verification, password reset and change, per-product OpenAPI.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startIdp, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR, BASE_URL } from './lib/api.mjs';
import {
  PASSWORD, uniq, sql, makeAdmin, verifiedDev, mailedToken, apiCatalogue, readMail, waitMail,
} from './lib/portal.mjs';

const skip = haveStack() && DATABASE_URL && STACK_DIR ? false : 'no stack: run via make integration';
const ORIGIN = BASE_URL ? new URL(BASE_URL).origin : '';

function jsonError(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  if (code) assert.equal(r.json?.error, code, `${what}: ${r.text}`);
  assert.equal(typeof r.json?.error_description, 'string', what);
}

async function cookieLogin(email, password = PASSWORD) {
  const r = await api('POST', '/v1/sessions', { email, password }, { token: null, headers: { 'x-clearance-session': 'cookie' } });
  assert.equal(r.status, 201, r.text);
  const sc = r.headers.get('set-cookie') || '';
  const m = /clr_session=([^;]+)/.exec(sc);
  assert.ok(m, `a session cookie: ${sc}`);
  return { cookie: `clr_session=${m[1]}`, setCookie: sc, body: r.json, value: m[1] };
}

const withCookie = (c, extra = {}) => ({ token: null, headers: { cookie: c, ...extra } });
const csrfOk = (c) => withCookie(c, { origin: ORIGIN, 'x-clearance-csrf': '1' });

describe('portal API additions', { skip }, () => {
  let idp;
  let admin;
  before(async () => { idp = await startIdp({ scopes: [...DEFAULT_SCOPES, 'plan:free'] }); admin = await makeAdmin(); });
  after(async () => { await idp?.stop(); });

  test('cookie login: HttpOnly SameSite=Lax cookie (no Secure on http loopback), no token in the body', async () => {
    const dev = await verifiedDev('ck');
    const s = await cookieLogin(dev.email);
    assert.match(s.setCookie, /HttpOnly/);
    assert.match(s.setCookie, /SameSite=Lax/);
    assert.match(s.setCookie, /Path=\//);
    assert.doesNotMatch(s.setCookie, /Secure/, 'plain-http loopback in development');
    assert.equal(s.body.token, undefined, 'the token is not readable by scripts');
    assert.equal(s.body.token_type, 'cookie');
    const me = await api('GET', '/v1/me', undefined, withCookie(s.cookie));
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.email, dev.email);
    // A bearer login is unchanged for API clients.
    const b = await api('POST', '/v1/sessions', { email: dev.email, password: PASSWORD }, { token: null });
    assert.match(b.json.token, /^clr_ses_/);
    assert.equal(b.headers.get('set-cookie'), null);
  });

  test('CSRF: a cookie write needs the portal Origin and X-Clearance-CSRF; refused writes change nothing', async () => {
    const dev = await verifiedDev('csrf');
    const s = await cookieLogin(dev.email);
    const before = (await api('GET', '/v1/apps', undefined, { token: dev.token })).json.apps.length;
    const cases = [
      ['no header, no Origin', withCookie(s.cookie)],
      ['header, no Origin', withCookie(s.cookie, { 'x-clearance-csrf': '1' })],
      ['Origin, no header', withCookie(s.cookie, { origin: ORIGIN })],
      ['header, foreign Origin', withCookie(s.cookie, { origin: 'https://evil.example', 'x-clearance-csrf': '1' })],
      ['header, same host other port', withCookie(s.cookie, { origin: 'http://127.0.0.1:1', 'x-clearance-csrf': '1' })],
      ['header, Origin null', withCookie(s.cookie, { origin: 'null', 'x-clearance-csrf': '1' })],
    ];
    for (const [what, opts] of cases) {
      const r = await api('POST', '/v1/apps', { name: `x-${uniq()}` }, opts);
      jsonError(r, 403, 'csrf_rejected', what);
    }
    const del = await api('DELETE', '/v1/sessions/current', undefined, withCookie(s.cookie));
    jsonError(del, 403, 'csrf_rejected', 'logout without the header');
    assert.equal((await api('GET', '/v1/apps', undefined, { token: dev.token })).json.apps.length, before, 'no app made');
    const ok = await api('POST', '/v1/apps', { name: `ok-${uniq()}` }, csrfOk(s.cookie));
    assert.equal(ok.status, 201, ok.text);
    // Reads need no header; bearer writes need none either.
    assert.equal((await api('GET', '/v1/apps', undefined, withCookie(s.cookie))).status, 200);
    assert.equal((await api('POST', '/v1/apps', { name: `b-${uniq()}` }, { token: dev.token })).status, 201);
  });

  test('logout ends the cookie session on the server and clears the cookie', async () => {
    const dev = await verifiedDev('out');
    const s = await cookieLogin(dev.email);
    const r = await api('DELETE', '/v1/sessions/current', undefined, csrfOk(s.cookie));
    assert.equal(r.status, 204, r.text);
    assert.match(r.headers.get('set-cookie') || '', /clr_session=;.*Max-Age=0/);
    jsonError(await api('GET', '/v1/me', undefined, withCookie(s.cookie)), 401, 'invalid_token', 'dead cookie');
    const garbage = await api('GET', '/v1/me', undefined, withCookie('clr_session=clr_ses_nope'));
    jsonError(garbage, 401, 'invalid_token', 'unknown cookie');
  });

  test('sign-up does not reveal a registered address: same answer, and a mail to the owner', async () => {
    const email = `enum-${uniq()}@example.test`;
    const a = await api('POST', '/v1/developers', { email, password: PASSWORD, name: 'First' }, { token: null });
    const b = await api('POST', '/v1/developers', { email, password: 'another passphrase 99', name: 'Second' }, { token: null });
    assert.equal(a.status, 201, a.text);
    assert.equal(b.status, b.status, b.text);
    assert.equal(b.status, 201, b.text);
    assert.deepEqual(Object.keys(b.json).sort(), Object.keys(a.json).sort());
    assert.notEqual(b.json.id, a.json.id);
    await waitMail(email, /Someone tried to sign up/);
    assert.equal(sql(`SELECT name FROM accounts WHERE lower(email) = lower(:'e')`, { e: email }), 'First', 'the account is unchanged');
    assert.equal(sql(`SELECT count(*) FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE lower(a.email) = lower(:'e')`, { e: email }), '1', 'one verification token only');
  });

  test('e-mail verification: needed for access requests, single use, hashed at rest, resend capped', async () => {
    const cat = await apiCatalogue(idp, admin.token);
    const email = `ver-${uniq()}@example.test`;
    assert.equal((await api('POST', '/v1/developers', { email, password: PASSWORD, name: 'V' }, { token: null })).status, 201);
    const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
    const as = { token: l.json.token };
    assert.equal((await api('GET', '/v1/me/verification', undefined, as)).json.email_verified, false);
    const body = { product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId, app: { name: 'v' } };
    jsonError(await api('POST', '/v1/access-requests', body, as), 403, 'email_unverified', 'unverified request');
    assert.equal(sql(`SELECT count(*) FROM apps a JOIN accounts d ON d.id = a.developer_id WHERE d.email = :'e'`, { e: email }), '0');
    const tok = await mailedToken(email, 'verify');
    const stored = sql(`SELECT token_hash FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE a.email = :'e'`, { e: email });
    assert.ok(process.env.CLEARANCE_TOKEN_PEPPER, 'the stack sets a token pepper');
    assert.equal(stored, crypto.createHmac('sha256', process.env.CLEARANCE_TOKEN_PEPPER).update(tok).digest('hex'), 'only the peppered hash is stored');
    jsonError(await api('POST', '/v1/email-verifications', { token: 'clr_vfy_wrong' }, { token: null }), 400, 'invalid_token', 'wrong token');
    jsonError(await api('POST', '/v1/email-verifications', {}, { token: null }), 400, null, 'no token');
    assert.equal((await api('POST', '/v1/email-verifications', { token: tok }, { token: null })).status, 200);
    jsonError(await api('POST', '/v1/email-verifications', { token: tok }, { token: null }), 400, 'invalid_token', 'second use');
    assert.equal((await api('GET', '/v1/me/verification', undefined, as)).json.email_verified, true);
    jsonError(await api('POST', '/v1/me/verification', undefined, as), 409, 'already_verified', 'resend when verified');
    assert.equal((await api('POST', '/v1/access-requests', body, as)).status, 201);
    // Resend for an unverified account, capped per hour.
    const e2 = `ver2-${uniq()}@example.test`;
    await api('POST', '/v1/developers', { email: e2, password: PASSWORD, name: 'V2' }, { token: null });
    const t2 = (await api('POST', '/v1/sessions', { email: e2, password: PASSWORD }, { token: null })).json.token;
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await api('POST', '/v1/me/verification', undefined, { token: t2 })).status);
    assert.deepEqual(codes, [202, 202, 429], 'three mails an hour, the sign-up one included');
  });

  test('password reset: same answer for unknown addresses, expiring, single use, weak password keeps the link', async () => {
    const dev = await verifiedDev('pr');
    const unknown = await api('POST', '/v1/password-resets', { email: `nobody-${uniq()}@example.test` }, { token: null });
    const known = await api('POST', '/v1/password-resets', { email: dev.email }, { token: null });
    assert.equal(unknown.status, 202);
    assert.deepEqual(unknown.json, known.json);
    const tok = await mailedToken(dev.email, 'reset');
    const weak = await api('POST', '/v1/password-resets/confirm', { token: tok, password: 'short' }, { token: null });
    jsonError(weak, 400, null, 'weak password');
    assert.equal(weak.json.field, 'password');
    const NEW = 'reset passphrase number 1';
    assert.equal((await api('POST', '/v1/password-resets/confirm', { token: tok, password: NEW }, { token: null })).status, 204);
    jsonError(await api('POST', '/v1/password-resets/confirm', { token: tok, password: 'reset passphrase number 2' }, { token: null }), 400, 'invalid_token', 'reused link');
    jsonError(await api('GET', '/v1/me', undefined, { token: dev.token }), 401, null, 'old session after reset');
    assert.equal((await api('POST', '/v1/sessions', { email: dev.email, password: NEW }, { token: null })).status, 201);
    // An expired link does nothing.
    await api('POST', '/v1/password-resets', { email: dev.email }, { token: null });
    const tok2 = await waitFor(async () => { const t = await mailedToken(dev.email, 'reset'); return t !== tok ? t : null; }, { what: 'a second reset mail' });
    sql(`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :'h'`, { h: crypto.createHmac('sha256', process.env.CLEARANCE_TOKEN_PEPPER).update(tok2).digest('hex') });
    jsonError(await api('POST', '/v1/password-resets/confirm', { token: tok2, password: 'reset passphrase number 3' }, { token: null }), 400, 'invalid_token', 'expired link');
    assert.equal((await api('POST', '/v1/sessions', { email: dev.email, password: NEW }, { token: null })).status, 201, 'password unchanged');
    // No token in any service log.
    const fs = await import('node:fs');
    const logs = fs.readFileSync(`${STACK_DIR}/logs/access.log`, 'utf8');
    assert.ok(!logs.includes(tok) && !logs.includes(tok2), 'reset links are not logged');
  });

  test('a mailed link does not stay in the jobs table once its mail is sent', async () => {
    const dev = await verifiedDev('scrub');
    await api('POST', '/v1/password-resets', { email: dev.email }, { token: null });
    const tok = await mailedToken(dev.email, 'reset');
    const links = () => sql(`SELECT string_agg(coalesce(payload->'vars'->>'link', 'none'), '|' ORDER BY created_at) FROM jobs
      WHERE kind = 'email' AND payload->>'to' = :'e' AND state = 'done'`, { e: dev.email });
    const got = await waitFor(() => { const l = links(); return l.split('|').length === 2 ? l : null; }, { what: 'two mail jobs done' });
    assert.equal(got, '(removed once sent)|(removed once sent)');
    const jobs = await api('GET', '/v1/jobs?kind=email&limit=200', undefined, { token: admin.token });
    assert.equal(jobs.status, 200);
    assert.ok(!jobs.text.includes(tok), 'the reset token is not in GET /v1/jobs');
  });

  test('password change: needs the current password, ends the other sessions', async () => {
    const dev = await verifiedDev('pc');
    const other = (await api('POST', '/v1/sessions', { email: dev.email, password: PASSWORD }, { token: null })).json.token;
    const wrong = await api('POST', '/v1/me/password', { current_password: 'not it at all', new_password: 'changed passphrase 7' }, { token: dev.token });
    jsonError(wrong, 400, null, 'wrong current password');
    assert.equal(wrong.json.field, 'current_password');
    const weak = await api('POST', '/v1/me/password', { current_password: PASSWORD, new_password: 'short' }, { token: dev.token });
    assert.equal(weak.json.field, 'new_password');
    assert.equal((await api('POST', '/v1/me/password', { current_password: PASSWORD, new_password: 'changed passphrase 7' }, { token: dev.token })).status, 204);
    assert.equal((await api('GET', '/v1/me', undefined, { token: dev.token })).status, 200, 'this session goes on');
    assert.equal((await api('GET', '/v1/me', undefined, { token: other })).status, 401, 'the other one ended');
  });

  test('OpenAPI per product: admin attaches, size-capped and checked, served to developers', async () => {
    const cat = await apiCatalogue(idp, admin.token);
    const dev = await verifiedDev('oas');
    const doc = { openapi: '3.1.0', info: { title: 'Orders', version: '2' }, paths: { '/orders': { get: { summary: 'list' } } } };
    const url = `/v1/products/${cat.productId}/openapi`;
    jsonError(await api('GET', url, undefined, { token: dev.token }), 404, 'not_found', 'none yet');
    jsonError(await api('PUT', url, doc, { token: dev.token }), 403, null, 'developer upload');
    jsonError(await api('PUT', url, { swagger: '2.0', paths: {} }, { token: admin.token }), 400, null, 'not OpenAPI 3');
    jsonError(await api('PUT', url, { openapi: '3.0.0', paths: [] }, { token: admin.token }), 400, null, 'paths not an object');
    jsonError(await api('PUT', url, '[1]', { token: admin.token, headers: { 'content-type': 'application/json' } }), 400, null, 'not an object');
    const big = { openapi: '3.0.0', paths: {}, 'x-pad': 'a'.repeat(300 * 1024) };
    assert.equal((await api('PUT', url, big, { token: admin.token })).status, 413, 'over the cap');
    jsonError(await api('PUT', `/v1/products/${crypto.randomUUID()}/openapi`, doc, { token: admin.token }), 404, null, 'unknown product');
    const put = await api('PUT', url, doc, { token: admin.token });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.product_id, cat.productId);
    const got = await api('GET', url, undefined, { token: dev.token });
    assert.deepEqual(got.json, doc);
    assert.equal((await api('DELETE', url, undefined, { token: admin.token })).status, 204);
    assert.equal((await api('GET', url, undefined, { token: dev.token })).status, 404);
  });

  test('the portal is served at / with a strict CSP and nothing from another origin', async () => {
    const r = await fetch(`${BASE_URL}/`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from another origin');
    const js = await fetch(`${BASE_URL}/js/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') || '', /javascript/);
    const cfg = await (await fetch(`${BASE_URL}/config.json`)).json();
    assert.equal(typeof cfg.name, 'string', 'branding config served');
  });
});
