// Several copies of clearance-introspect against one PostgreSQL (issue 8):
// the stack's copy behind nginx, and a second copy this file starts on its
// own FastCGI socket and asks directly (lib/fcgi.mjs plays nginx's
// auth_request).  Grants, plan changes and revocations must reach every
// copy within one second (LISTEN/NOTIFY), and two providers with the same
// issuer must resolve a client whichever provider id sorts first.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { startIdp, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';
import { fcgiRequest } from './lib/fcgi.mjs';

const BIN_DIR = process.env.CLEARANCE_BIN_DIR || '';
const noStack = haveStack() && DATABASE_URL && STACK_DIR && BIN_DIR
  ? false : 'CLEARANCE_BASE_URL/DATABASE_URL/STACK_DIR/BIN_DIR not set: run via make integration';

const SFX = crypto.randomBytes(4).toString('hex');
const SCOPES = [...DEFAULT_SCOPES, 'plan:gold', 'plan:silver'];
const BASE = `/api/cp${SFX}/orders`;
const FILE = `${BASE}/item.json`;

function sql(text, vars = {}) {
  const args = [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

const bearer = (tok) => ({ token: null, headers: { authorization: `Bearer ${tok}` } });

describe('gateway: two copies of clearance-introspect', { skip: noStack }, () => {
  let idp;
  let providerId;
  let copy2;
  let sock;
  let client;
  let regId;
  const dupIds = ['00000000-0000-4000-8000-00000000c0f1', 'ffffffff-ffff-4fff-bfff-ffffffffc0f1'];

  // Both copies' verdict for tok on FILE: [status via nginx, status of copy 2, plan 1, plan 2].
  async function both(tok) {
    const r1 = await api('GET', FILE, undefined, bearer(tok));
    const r2 = await fcgiRequest(sock, {
      path: '/auth', headers: { authorization: `Bearer ${tok}`, 'x-original-uri': FILE },
    });
    return {
      s1: r1.status, s2: r2.status, p1: r1.headers.get('x-clearance-plan'), p2: r2.headers['x-clearance-plan'],
    };
  }

  // Waits until both copies agree with want(r); returns ms taken.
  async function bothWithin(tok, want, what) {
    const t0 = Date.now();
    await waitFor(async () => want(await both(tok)), { timeoutMs: 3000, intervalMs: 50, what });
    return Date.now() - t0;
  }

  before(async () => {
    idp = await startIdp({ scopes: SCOPES });
    const p = await api('POST', '/v1/providers', {
      name: `cp-${SFX}`, kind: 'other', well_known_url: idp.discoveryUrl,
      allow_insecure_http: true, audience: idp.audience,
    });
    assert.equal(p.status, 201, `provider: ${p.text}`);
    providerId = p.json.id;
    sql(`
      WITH pr AS (INSERT INTO products (name, path_prefixes, scopes)
                  VALUES (:'pname', ARRAY[:'pfx'], 'orders:read') RETURNING id),
           gold AS (INSERT INTO plans (name, scopes) VALUES (:'gold', 'plan:gold') RETURNING id),
           silver AS (INSERT INTO plans (name, scopes) VALUES (:'silver', 'plan:gold') RETURNING id)
      INSERT INTO product_plans (product_id, plan_id)
        SELECT pr.id, gold.id FROM pr, gold UNION ALL SELECT pr.id, silver.id FROM pr, silver;
    `, { pname: `cp-orders-${SFX}`, pfx: BASE, gold: `cp-gold-${SFX}`, silver: `cp-silver-${SFX}` });
    fs.mkdirSync(path.join(STACK_DIR, 'www', BASE), { recursive: true });
    fs.writeFileSync(path.join(STACK_DIR, 'www', FILE), '{"item":1}\n');
    const r = await idp.register({
      grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read plan:gold',
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    client = { client_id: r.json.client_id, client_secret: r.json.client_secret };
    regId = sql(`INSERT INTO registrations (provider_id, client_name, status, client_id)
                 VALUES (:'p'::uuid, :'n', 'active', :'c') RETURNING id`,
    { p: providerId, n: `cp-${SFX}`, c: client.client_id });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-copy2-'));
    sock = path.join(dir, 'introspect2.sock');
    const log = fs.openSync(path.join(STACK_DIR, `introspect-copy2-${SFX}.log`), 'a');
    copy2 = spawn(path.join(BIN_DIR, 'clearance-introspect'), [], {
      env: { ...process.env, CLEARANCE_LISTEN: `unix:${sock}`, CLEARANCE_THREADS: '2' },
      stdio: ['ignore', log, log],
    });
    await waitFor(() => fs.existsSync(sock), { timeoutMs: 10000, what: 'copy 2 socket' });
    await waitFor(async () => (await fcgiRequest(sock, { path: '/healthz' })).status === 200,
      { timeoutMs: 10000, what: 'copy 2 healthy' });
  });

  after(async () => {
    if (copy2 && copy2.exitCode === null) {
      copy2.kill('SIGTERM');
      await new Promise((res) => { copy2.once('exit', res); setTimeout(res, 5000); });
    }
    await idp?.stop();
    try {
      sql(`DELETE FROM providers WHERE id IN (:'a'::uuid, :'b'::uuid);
           DELETE FROM products WHERE name LIKE :'p'; DELETE FROM plans WHERE name LIKE :'p';`,
      { a: dupIds[0], b: dupIds[1], p: `cp-%-${SFX}` });
    } catch { /* best effort */ }
  });

  test('grants, plan changes and revocations reach both copies within one second', async () => {
    const tok = (await idp.token(client.client_id, client.client_secret, 'orders:read plan:gold')).access_token;
    // registered, nothing granted yet
    await bothWithin(tok, (r) => r.s1 === 403 && r.s2 === 403, 'registered without grants: 403');
    sql(`INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT :'r'::uuid, pr.id, pl.id FROM products pr, plans pl WHERE pr.name = :'p' AND pl.name = :'pl'`,
    { r: regId, p: `cp-orders-${SFX}`, pl: `cp-gold-${SFX}` });
    let ms = await bothWithin(tok, (r) => r.s1 === 200 && r.s2 === 204, 'grant on both copies');
    assert.ok(ms <= 1000, `grant took ${ms} ms`);
    let r = await both(tok);
    assert.equal(r.p1, `cp-gold-${SFX}`);
    assert.equal(r.p2, `cp-gold-${SFX}`);

    sql(`UPDATE registration_grants SET plan_id = (SELECT id FROM plans WHERE name = :'pl')
          WHERE registration_id = :'r'::uuid`, { r: regId, pl: `cp-silver-${SFX}` });
    ms = await bothWithin(tok, (x) => x.p1 === `cp-silver-${SFX}` && x.p2 === `cp-silver-${SFX}`, 'plan change');
    assert.ok(ms <= 1000, `plan change took ${ms} ms`);

    sql(`DELETE FROM registration_grants WHERE registration_id = :'r'::uuid`, { r: regId });
    ms = await bothWithin(tok, (x) => x.s1 === 403 && x.s2 === 403, 'grant removed');
    assert.ok(ms <= 1000, `grant removal took ${ms} ms`);

    sql(`INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT :'r'::uuid, pr.id, pl.id FROM products pr, plans pl WHERE pr.name = :'p' AND pl.name = :'pl'`,
    { r: regId, p: `cp-orders-${SFX}`, pl: `cp-gold-${SFX}` });
    await bothWithin(tok, (x) => x.s1 === 200 && x.s2 === 204, 'grant again');
    sql(`UPDATE registrations SET status = 'deleted', deleted_at = now() WHERE id = :'r'::uuid`, { r: regId });
    ms = await bothWithin(tok, (x) => x.s1 === 401 && x.s2 === 401, 'revoked');
    assert.ok(ms <= 1000, `revocation took ${ms} ms`);
    r = await both(tok);
    assert.equal(r.s2, 401);
    // back to active for the next test
    sql(`UPDATE registrations SET status = 'active', deleted_at = NULL WHERE id = :'r'::uuid`, { r: regId });
    await bothWithin(tok, (x) => x.s1 === 200 && x.s2 === 204, 'active again');
  });

  test('two providers with the same issuer: a client resolves whichever id sorts first', async () => {
    const tok = (await idp.token(client.client_id, client.client_secret, 'orders:read plan:gold')).access_token;
    assert.equal((await both(tok)).s1, 200);
    // The same IdP added twice more, one id sorting before and one after.
    for (const [i, id] of dupIds.entries()) {
      sql(`INSERT INTO providers (id, name, kind, well_known_url, issuer, token_endpoint, jwks_uri,
                                  audience, allow_insecure_http)
           SELECT :'id'::uuid, name || :'s', :'k', well_known_url, issuer, token_endpoint, jwks_uri,
                  audience, allow_insecure_http FROM providers WHERE id = :'p'::uuid`,
      { id, s: `-dup${i}`, k: i === 0 ? 'curity' : 'other', p: providerId });
    }
    // Give both copies the provider reload, then the verdict must not have moved.
    await new Promise((res) => { setTimeout(res, 1000); });
    let r = await both(tok);
    assert.equal(r.s1, 200, 'registered at the original provider');
    assert.equal(r.s2, 204);
    const fresh = (await idp.token(client.client_id, client.client_secret, 'orders:read plan:gold')).access_token;
    r = await both(fresh);
    assert.equal(r.s1, 200, 'a token never seen (verified with the duplicates present)');
    assert.equal(r.s2, 204);
    // A client registered under the duplicate that sorts first passes too.
    const r2 = await idp.register({
      grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read plan:gold',
    });
    sql(`BEGIN;
         WITH r AS (INSERT INTO registrations (provider_id, client_name, status, client_id)
                    VALUES (:'p'::uuid, :'n', 'active', :'c') RETURNING id)
         INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT r.id, pr.id, pl.id FROM r, products pr, plans pl WHERE pr.name = :'pn' AND pl.name = :'pl';
         COMMIT;`,
    { p: dupIds[0], n: `cp-dup-${SFX}`, c: r2.json.client_id, pn: `cp-orders-${SFX}`, pl: `cp-gold-${SFX}` });
    const tok2 = (await idp.token(r2.json.client_id, r2.json.client_secret, 'orders:read plan:gold')).access_token;
    await bothWithin(tok2, (x) => x.s1 === 200 && x.s2 === 204, 'client of the duplicate provider');
    // Removing the duplicates changes nothing for the original client.
    sql(`DELETE FROM providers WHERE id IN (:'a'::uuid, :'b'::uuid)`, { a: dupIds[0], b: dupIds[1] });
    await bothWithin(tok2, (x) => x.s1 === 401 && x.s2 === 401, 'duplicate gone: its client with it');
    r = await both(tok);
    assert.equal(r.s1, 200);
    assert.equal(r.s2, 204);
  });

  test('per-provider token policy reaches both copies: accepted typ list and identity claim', async () => {
    const tok = (await idp.token(client.client_id, client.client_secret, 'orders:read plan:gold')).access_token;
    let r = await both(tok);
    assert.equal(r.s1, 200);
    // The test IdP types its access tokens at+jwt: a provider that accepts only "JWT" refuses them.
    sql(`UPDATE providers SET access_token_typ = 'JWT none' WHERE id = :'p'::uuid`, { p: providerId });
    await bothWithin(tok, (x) => x.s1 === 401 && x.s2 === 401, 'typ not accepted');
    sql(`UPDATE providers SET access_token_typ = DEFAULT WHERE id = :'p'::uuid`, { p: providerId });
    await bothWithin(tok, (x) => x.s1 === 200 && x.s2 === 204, 'typ accepted again');
    // A nested identity claim the IdP does not send: no identity, refused.
    sql(`UPDATE providers SET identity_claim = 'app.clientId' WHERE id = :'p'::uuid`, { p: providerId });
    await bothWithin(tok, (x) => x.s1 === 401 && x.s2 === 401, 'identity claim missing');
    sql(`UPDATE providers SET identity_claim = DEFAULT WHERE id = :'p'::uuid`, { p: providerId });
    await bothWithin(tok, (x) => x.s1 === 200 && x.s2 === 204, 'identity claim restored');
    r = await both(tok);
    assert.equal(r.s2, 204);
  });
});
