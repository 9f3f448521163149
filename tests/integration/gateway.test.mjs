// The gateway check end to end: nginx auth_request -> clearance-introspect,
// with JWT access tokens from a real local OpenID Provider (RS256, PS256,
// ES256), the provider and registrations made through the registrar, and
// products/plans written with SQL (the access service owns them).
//
// Clients registered directly at the IdP (not through Clearance) are
// refused by default (CLEARANCE_GATEWAY_REQUIRE_REGISTERED=1); the tests
// that need one to pass "adopt" it with an active registrations row, as
// an import into Clearance would.  Every client passes only for the
// (product, plan) it is granted (sql/020_gateway_grants.sql); the grants
// are written to registration_grants directly, as the registrar's admin
// route will.
//
// Order matters inside the describe: key rotation runs before the attack
// tokens, whose random kids use up the provider's unknown-kid refetch for
// the cooldown (30 s by default).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startIdp, decodeJwt, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';

const noStack = haveStack() && DATABASE_URL && STACK_DIR
  ? false : 'CLEARANCE_BASE_URL/DATABASE_URL/STACK_DIR not set: run via make integration';

const SFX = crypto.randomBytes(4).toString('hex');
const SCOPES = [...DEFAULT_SCOPES, 'plan:gold', 'plan:tiny', 'other:read', 'pay:read', 'shop:read', 'plan:shop'];
const BASE = `/api/gw${SFX}/orders`;
const FILE = `${BASE}/item.json`;
const PAY_FILE = `/api/gw${SFX}/payments/item.json`;
const SHOP_FILE = `/api/gw${SFX}/shop/item.json`;

// SQL through psql with -v variables (never interpolated into the text).
function sql(text, vars = {}) {
  const args = [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

function forge(header, claims, signer) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  const sig = signer ? signer(Buffer.from(input)) : Buffer.alloc(0);
  return `${input}.${sig.toString('base64url')}`;
}

const get = (p, opts = {}) => api('GET', p, undefined, opts);
const bearer = (tok) => ({ token: null, headers: { authorization: `Bearer ${tok}` } });

describe('gateway: nginx auth_request -> clearance-introspect', { skip: noStack }, () => {
  let idp;
  let providerId;
  let ctId;
  const clients = {}; // name -> {client_id, client_secret, regId?}

  async function registrarClient(scope, name, plan = 'gold') {
    const r = await api('POST', '/v1/registrations', {
      client_type_id: ctId, client_name: `gw-${name}-${SFX}`, scope,
    });
    assert.equal(r.status, 201, `registration: ${r.text}`);
    assert.ok(r.json.client_id && r.json.client_secret);
    grant(r.json.id, plan);
    return { client_id: r.json.client_id, client_secret: r.json.client_secret, regId: r.json.id };
  }

  // The client's registration is granted the orders product on `plan`.
  function grant(regId, plan) {
    sql(`INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT :'r'::uuid, pr.id, pl.id FROM products pr, plans pl
          WHERE pr.name = :'p' AND pl.name = :'pl' AND pr.deleted_at IS NULL AND pl.deleted_at IS NULL`,
    { r: regId, p: `gw-orders-${SFX}`, pl: `gw-${plan}-${SFX}` });
  }

  async function directClient(scope, alg) {
    const r = await idp.register({
      grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic', scope, access_token_alg: alg,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return { client_id: r.json.client_id, client_secret: r.json.client_secret };
  }

  // An active registration for a client made directly at the IdP, granted
  // `plan` of the orders product in the same transaction.
  function adopt(c, name, plan = 'gold', product = 'orders') {
    sql(`BEGIN;
         WITH r AS (INSERT INTO registrations (provider_id, client_name, status, client_id)
                    VALUES (:'p'::uuid, :'n', 'active', :'c') RETURNING id)
         INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT r.id, pr.id, pl.id FROM r, products pr, plans pl
          WHERE pr.name = :'pn' AND pl.name = :'pl' AND pr.deleted_at IS NULL AND pl.deleted_at IS NULL;
         COMMIT;`,
    { p: providerId, n: `gw-adopt-${name}-${SFX}`, c: c.client_id, pn: `gw-${product}-${SFX}`, pl: `gw-${plan}-${SFX}` });
  }

  const tokenFor = async (c, scope) => (await idp.token(c.client_id, c.client_secret, scope)).access_token;

  before(async () => {
    idp = await startIdp({ initialAccessToken: `iat-gw-${SFX}`, scopes: SCOPES });
    const p = await api('POST', '/v1/providers', {
      name: `gw-${SFX}`, kind: 'other', well_known_url: idp.discoveryUrl,
      initial_access_token: `iat-gw-${SFX}`, allow_insecure_http: true, audience: idp.audience,
    });
    assert.equal(p.status, 201, `provider: ${p.text}`);
    providerId = p.json.id;
    const ct = await api('POST', `/v1/providers/${providerId}/client-types`, {
      display_name: `gw-cc-${SFX}`, grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(ct.status, 201, `client type: ${ct.text}`);
    ctId = ct.json.id;

    // Products and plans (the access service's tables), and the static file behind them.
    sql(`
      WITH pr AS (INSERT INTO products (name, path_prefixes, scopes)
                  VALUES (:'pname', ARRAY[:'pfx'], 'orders:read') RETURNING id),
           gold AS (INSERT INTO plans (name, scopes) VALUES (:'gold', 'plan:gold') RETURNING id),
           tiny AS (INSERT INTO plans (name, scopes, rate_limit_requests, rate_limit_window_seconds)
                    VALUES (:'tiny', 'plan:tiny', 3, 3600) RETURNING id)
      INSERT INTO product_plans (product_id, plan_id)
        SELECT pr.id, gold.id FROM pr, gold UNION ALL SELECT pr.id, tiny.id FROM pr, tiny;
    `, { pname: `gw-orders-${SFX}`, pfx: BASE, gold: `gw-gold-${SFX}`, tiny: `gw-tiny-${SFX}` });
    // Payments shares the gold plan; Shop has two plans with the same scope
    // (as the seeded demo does), "ademo" sorting before "bquota".
    sql(`
      WITH pay AS (INSERT INTO products (name, path_prefixes, scopes)
                   VALUES (:'payname', ARRAY[:'paypfx'], 'pay:read') RETURNING id)
      INSERT INTO product_plans (product_id, plan_id)
        SELECT pay.id, pl.id FROM pay, plans pl WHERE pl.name = :'gold';
      WITH shop AS (INSERT INTO products (name, path_prefixes, scopes)
                    VALUES (:'shopname', ARRAY[:'shoppfx'], 'shop:read') RETURNING id),
           a AS (INSERT INTO plans (name, scopes) VALUES (:'ademo', 'plan:shop') RETURNING id),
           b AS (INSERT INTO plans (name, scopes) VALUES (:'bquota', 'plan:shop') RETURNING id)
      INSERT INTO product_plans (product_id, plan_id)
        SELECT shop.id, a.id FROM shop, a UNION ALL SELECT shop.id, b.id FROM shop, b;
    `, {
      payname: `gw-payments-${SFX}`, paypfx: `/api/gw${SFX}/payments`, gold: `gw-gold-${SFX}`,
      shopname: `gw-shop-${SFX}`, shoppfx: `/api/gw${SFX}/shop`, ademo: `gw-ademo-${SFX}`, bquota: `gw-bquota-${SFX}`,
    });
    for (const f of [FILE, PAY_FILE, SHOP_FILE]) {
      fs.mkdirSync(path.join(STACK_DIR, 'www', path.dirname(f)), { recursive: true });
      fs.writeFileSync(path.join(STACK_DIR, 'www', f), '{"item":1}\n');
    }

    clients.rs = await registrarClient('orders:read plan:gold', 'rs');
    clients.revoke = await registrarClient('orders:read plan:gold', 'revoke');
    clients.basic = await registrarClient('orders:read plan:gold', 'basic');
    clients.ps = await directClient('orders:read plan:gold', 'PS256');
    clients.es = await directClient('orders:read plan:gold', 'ES256');
    clients.tiny = await directClient('orders:read plan:tiny', 'RS256');
    clients.noplan = await directClient('orders:read plan:gold other:read', 'RS256');
    for (const n of ['ps', 'es', 'noplan']) adopt(clients[n], n);
    adopt(clients.tiny, 'tiny', 'tiny');
    clients.direct = await directClient('orders:read plan:gold', 'RS256'); // never adopted before its test
    // Approved for Payments only, but the IdP gives it Orders' scope too.
    clients.pay = await directClient('pay:read plan:gold orders:read', 'RS256');
    adopt(clients.pay, 'pay', 'gold', 'payments');
    clients.shop = await directClient('shop:read plan:shop', 'RS256');
    adopt(clients.shop, 'shop', 'bquota', 'shop');
  });

  after(async () => {
    await idp?.stop();
    try {
      sql(`DELETE FROM products WHERE name LIKE :'p'; DELETE FROM plans WHERE name LIKE :'p';`,
        { p: `gw-%-${SFX}` });
    } catch { /* best effort */ }
  });

  test('RS256 token from a registrar client: 204 from introspect, identity reaches upstream', async () => {
    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    assert.equal(decodeJwt(tok).header.alg, 'RS256');
    // The provider and catalogue arrive by NOTIFY; allow them a moment.
    const r = await waitFor(async () => {
      const x = await get(FILE, bearer(tok));
      return x.status === 200 ? x : null;
    }, { timeoutMs: 5000, what: 'first allowed request' });
    assert.deepEqual(r.json, { item: 1 });
    assert.equal(r.headers.get('x-clearance-client-id'), clients.rs.client_id);
    assert.equal(r.headers.get('x-clearance-subject'), clients.rs.client_id);
    assert.equal(r.headers.get('x-clearance-product'), `gw-orders-${SFX}`);
    assert.equal(r.headers.get('x-clearance-plan'), `gw-gold-${SFX}`);
    assert.match(r.headers.get('x-clearance-scope'), /orders:read/);
  });

  for (const [name, alg] of [['ps', 'PS256'], ['es', 'ES256']]) {
    test(`${alg} token is accepted`, async () => {
      const tok = await tokenFor(clients[name], 'orders:read plan:gold');
      assert.equal(decodeJwt(tok).header.alg, alg);
      const r = await get(FILE, bearer(tok));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-clearance-client-id'), clients[name].client_id);
    });
  }

  test('missing, malformed and tampered tokens: 401 with WWW-Authenticate', async () => {
    const none = await get(FILE, { token: null });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') || '', /Bearer.*invalid_token/);
    assert.equal((await get(FILE, bearer('abc.def'))).status, 401);
    assert.equal((await get(FILE, { token: null, headers: { authorization: 'Digest x=1' } })).status, 401);
    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    const [h, p, s] = tok.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'orders:read plan:gold orders:write';
    assert.equal((await get(FILE, bearer(`${h}.${b64u(claims)}.${s}`))).status, 401, 'payload changed');
    const sig = Buffer.from(s, 'base64url');
    sig[5] ^= 1;
    assert.equal((await get(FILE, bearer(`${h}.${p}.${sig.toString('base64url')}`))).status, 401, 'signature changed');
  });

  test('a token from an issuer that is not a provider: 401', async () => {
    const other = await startIdp({ scopes: SCOPES });
    try {
      const reg = await other.register({
        grant_types: ['client_credentials'], response_types: [],
        token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read plan:gold',
      });
      const tok = (await other.token(reg.json.client_id, reg.json.client_secret, 'orders:read plan:gold')).access_token;
      assert.equal((await get(FILE, bearer(tok))).status, 401);
    } finally { await other.stop(); }
  });

  test('a client registered at the IdP but not through Clearance: 401 until it has an active registration', async () => {
    const tok = await tokenFor(clients.direct, 'orders:read plan:gold');
    const r = await get(FILE, bearer(tok));
    assert.equal(r.status, 401, 'unregistered client refused by default');
    assert.match(r.headers.get('www-authenticate') || '', /invalid_token/);
    const intro = await api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(intro.json, { active: false }, 'RFC 7662 agrees');
    adopt(clients.direct, 'direct');
    const t0 = Date.now();
    await waitFor(async () => (await get(FILE, bearer(tok))).status === 200,
      { timeoutMs: 1500, intervalMs: 50, what: 'registered client allowed' });
    assert.ok(Date.now() - t0 <= 1000, `allowed only after ${Date.now() - t0} ms`);
  });

  test('a token carrying another product\'s scope is refused there: 403 (issue 8)', async () => {
    const tok = await tokenFor(clients.pay, 'pay:read plan:gold orders:read');
    const ok = await get(PAY_FILE, bearer(tok));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('x-clearance-product'), `gw-payments-${SFX}`);
    const cross = await get(FILE, bearer(tok));
    assert.equal(cross.status, 403, 'Orders was never approved for this client');
    assert.equal(cross.headers.get('x-clearance-product'), null);
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const intro = await api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), { headers: hdr });
    assert.equal(intro.json.active, true);
    assert.equal(intro.json.product, `gw-payments-${SFX}`, 'RFC 7662 names the granted product');
  });

  test('overlapping plans: the approved plan is applied, not the one scopes would pick', async () => {
    const tok = await tokenFor(clients.shop, 'shop:read plan:shop');
    const r = await get(SHOP_FILE, bearer(tok));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-clearance-plan'), `gw-bquota-${SFX}`);
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const intro = await api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), { headers: hdr });
    assert.equal(intro.json.plan, `gw-bquota-${SFX}`);
  });

  test('a plan change and a removed grant reach the gateway within one second', async () => {
    const tok = await tokenFor(clients.shop, 'shop:read plan:shop');
    assert.equal((await get(SHOP_FILE, bearer(tok))).status, 200);
    sql(`UPDATE registration_grants SET plan_id = (SELECT id FROM plans WHERE name = :'a')
          WHERE registration_id = (SELECT id FROM registrations WHERE client_id = :'c')`,
    { a: `gw-ademo-${SFX}`, c: clients.shop.client_id });
    let t0 = Date.now();
    await waitFor(async () => (await get(SHOP_FILE, bearer(tok))).headers.get('x-clearance-plan') === `gw-ademo-${SFX}`,
      { timeoutMs: 1500, intervalMs: 50, what: 'plan change applied' });
    assert.ok(Date.now() - t0 <= 1000, `plan changed only after ${Date.now() - t0} ms`);
    sql(`DELETE FROM registration_grants
          WHERE registration_id = (SELECT id FROM registrations WHERE client_id = :'c')`, { c: clients.shop.client_id });
    t0 = Date.now();
    await waitFor(async () => (await get(SHOP_FILE, bearer(tok))).status === 403,
      { timeoutMs: 1500, intervalMs: 50, what: 'removed grant refused' });
    assert.ok(Date.now() - t0 <= 1000, `refused only after ${Date.now() - t0} ms`);
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const intro = await api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), { headers: hdr });
    assert.deepEqual(intro.json, { active: false });
  });

  test('wrong path, missing product scope, missing plan scope: 403', async () => {
    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    const wrong = await get(`/api/gw${SFX}/payments/item.json`, bearer(tok));
    assert.equal(wrong.status, 403, 'path outside every product of the token');
    const sneaky = await get(`${BASE}/../../hello.json`, bearer(tok));
    assert.notEqual(sneaky.status, 200);
    const noprod = await tokenFor(clients.rs, 'plan:gold');
    assert.equal((await get(FILE, bearer(noprod))).status, 403, 'no product scope');
    const noplan = await tokenFor(clients.noplan, 'orders:read other:read');
    assert.equal((await get(FILE, bearer(noplan))).status, 403, 'no plan scope');
  });

  test('over the plan limit: 429 with Retry-After', async () => {
    const tok = await tokenFor(clients.tiny, 'orders:read plan:tiny');
    for (let i = 0; i < 3; i += 1) {
      const r = await get(FILE, bearer(tok));
      assert.equal(r.status, 200, `request ${i + 1} of 3: ${r.text}`);
      assert.equal(r.headers.get('x-clearance-plan'), `gw-tiny-${SFX}`);
      assert.equal(r.headers.get('x-ratelimit-limit'), '3');
      assert.equal(r.headers.get('x-ratelimit-remaining'), String(2 - i));
      assert.equal(r.headers.get('ratelimit-limit'), '3');
      assert.equal(r.headers.get('ratelimit-remaining'), String(2 - i));
      const reset = Number(r.headers.get('ratelimit-reset'));
      assert.ok(reset >= 1 && reset <= 3600, `RateLimit-Reset ${r.headers.get('ratelimit-reset')}`);
    }
    const over = await get(FILE, bearer(tok));
    assert.equal(over.status, 429, over.text);
    const ra = Number(over.headers.get('retry-after'));
    // fixed windows (services/introspect/limits.h): retry when this one ends
    assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${over.headers.get('retry-after')}`);
    // a fresh token of the same client shares the bucket
    const tok2 = await tokenFor(clients.tiny, 'orders:read plan:tiny');
    assert.equal((await get(FILE, bearer(tok2))).status, 429);
  });

  test('a deleted registration is refused within one second, unexpired token or not', async () => {
    const tok = await tokenFor(clients.revoke, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(tok))).status, 200);
    const d = await api('DELETE', `/v1/registrations/${clients.revoke.regId}`);
    assert.ok([200, 204].includes(d.status), `delete: ${d.status} ${d.text}`);
    const t0 = Date.now();
    let status;
    do {
      status = (await get(FILE, bearer(tok))).status;
      if (status === 401) break;
      await new Promise((res) => { setTimeout(res, 50); });
    } while (Date.now() - t0 < 1500);
    assert.equal(status, 401, 'revoked client still allowed');
    assert.ok(Date.now() - t0 <= 1000, `refused only after ${Date.now() - t0} ms`);
    const intro = await api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(intro.json, { active: false }, 'RFC 7662 agrees');
  });

  test('a provider audience change applies at once, even to verified (cached) tokens', async () => {
    const tok = await tokenFor(clients.ps, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(tok))).status, 200);
    const p1 = await api('PATCH', `/v1/providers/${providerId}`, { audience: 'https://elsewhere.test' });
    assert.equal(p1.status, 200, p1.text);
    try {
      await waitFor(async () => (await get(FILE, bearer(tok))).status === 401,
        { timeoutMs: 2000, intervalMs: 50, what: 'wrong audience refused' });
    } finally {
      const p2 = await api('PATCH', `/v1/providers/${providerId}`, { audience: idp.audience });
      assert.equal(p2.status, 200, p2.text);
    }
    await waitFor(async () => (await get(FILE, bearer(tok))).status === 200,
      { timeoutMs: 2000, intervalMs: 50, what: 'audience restored' });
  });

  test('key rotation at the IdP: the first token with the new kid is accepted', async () => {
    const before1 = await tokenFor(clients.rs, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(before1))).status, 200);
    idp.rotateKeys();
    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    assert.notEqual(decodeJwt(tok).header.kid, decodeJwt(before1).header.kid);
    const r = await get(FILE, bearer(tok));
    assert.equal(r.status, 200, 'unknown kid triggers one JWKS refetch');
    const info = await api('GET', `/v1/providers/${providerId}/jwks`);
    assert.equal(info.status, 200, info.text);
    assert.ok(info.json.kids.includes(decodeJwt(tok).header.kid));
    assert.equal(info.json.last_error, null);
  });

  test('IdP down: known keys keep working and the failure is visible', async () => {
    // The failure is also in the gateway's metrics, under the provider's id.
    const jwksMetric = async (name, result) => {
      const m = await api('GET', '/introspect/metrics', undefined, { token: null });
      assert.equal(m.status, 200, m.text);
      const labels = result ? `{provider="${providerId}",result="${result}"}` : `{provider="${providerId}"}`;
      const line = m.text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      assert.ok(line, `${name}${labels} in /metrics`);
      return Number(line.split(' ')[1]);
    };
    const failed0 = await jwksMetric('clearance_jwks_provider_fetches_total', 'failed');
    const tok = await tokenFor(clients.es, 'orders:read plan:gold'); // never presented yet
    await idp.down();
    try {
      const r = await get(FILE, bearer(tok));
      assert.equal(r.status, 200, 'verified with the cached JWKS');
      const refresh = await api('POST', `/v1/providers/${providerId}/jwks/refresh`);
      assert.equal(refresh.status, 502, refresh.text);
      const info = await api('GET', `/v1/providers/${providerId}/jwks`);
      assert.equal(typeof info.json.last_error, 'string');
      assert.equal(info.json.usable, true);
      assert.ok(info.json.kids.length >= 3);
      assert.equal((await get(FILE, bearer(tok))).status, 200);
      assert.ok(await jwksMetric('clearance_jwks_provider_fetches_total', 'failed') >= failed0 + 1,
        'the failed fetch is counted for this provider');
      assert.equal(await jwksMetric('clearance_jwks_usable'), 1, 'the cached set stays usable');
      assert.ok(await jwksMetric('clearance_jwks_age_seconds') >= 0);
    } finally { await idp.up(); }
    const ok = await api('POST', `/v1/providers/${providerId}/jwks/refresh`);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.last_error, null);
  });

  test('Basic client_id:secret is exchanged once at the IdP and cached', async () => {
    const basic = (id, secret) => ({
      token: null,
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    });
    idp.clearRequests();
    for (let i = 0; i < 5; i += 1) {
      const r = await get(FILE, basic(clients.basic.client_id, clients.basic.client_secret));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-clearance-client-id'), clients.basic.client_id);
    }
    const tokenCalls = () => idp.requests.filter((q) => q.method === 'POST' && q.path === '/token').length;
    assert.equal(tokenCalls(), 1, 'one exchange for five calls');
    for (let i = 0; i < 4; i += 1) {
      const r = await get(FILE, basic(clients.basic.client_id, 'wrong-secret'));
      assert.equal(r.status, 401);
    }
    assert.equal(tokenCalls(), 2, 'a wrong secret is not retried at the IdP on every call');
    const unknown = await get(FILE, basic('no-such-client', 'x'));
    assert.equal(unknown.status, 401);
  });

  // Issue 10: the provider's token_endpoint_auth_method decides how the
  // exchange authenticates: an HTTP Basic header (client_secret_basic) or the
  // id and secret in the form body (client_secret_post).
  test('Basic exchange: the provider\'s token_endpoint_auth_method decides the form the IdP gets', async () => {
    const prov = await api('POST', '/v1/providers', {
      name: `gw-post-${SFX}`, kind: 'other', well_known_url: idp.discoveryUrl,
      initial_access_token: `iat-gw-${SFX}`, allow_insecure_http: true, audience: idp.audience,
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(prov.status, 201, prov.text);
    assert.equal(prov.json.token_endpoint_auth_method, 'client_secret_post');
    const adoptedClient = async (method) => {
      const r = await idp.register({
        grant_types: ['client_credentials'], response_types: [],
        token_endpoint_auth_method: method, scope: 'orders:read plan:gold',
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      sql(`BEGIN;
           WITH r AS (INSERT INTO registrations (provider_id, client_name, status, client_id, scope)
                      VALUES (:'p'::uuid, :'n', 'active', :'c', 'orders:read plan:gold') RETURNING id)
           INSERT INTO registration_grants (registration_id, product_id, plan_id)
           SELECT r.id, pr.id, pl.id FROM r, products pr, plans pl
            WHERE pr.name = :'pn' AND pl.name = :'pl' AND pr.deleted_at IS NULL AND pl.deleted_at IS NULL;
           COMMIT;`,
      { p: prov.json.id, n: `gw-post-${r.json.client_id}`, c: r.json.client_id, pn: `gw-orders-${SFX}`, pl: `gw-gold-${SFX}` });
      return r.json;
    };
    const basicOf = (c) => ({
      token: null,
      headers: { authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` },
    });
    const tokenReqs = () => idp.requests.filter((q) => q.method === 'POST' && q.path === '/token');
    try {
      idp.clearRequests();
      assert.equal((await get(FILE, basicOf(await adoptedClient('client_secret_post')))).status, 200);
      assert.equal(tokenReqs().length, 1);
      assert.equal(tokenReqs()[0].basic, false, 'client_secret_post: no Basic header, the pair went in the body');

      const p = await api('PATCH', `/v1/providers/${prov.json.id}`, { token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(p.status, 200, p.text);
      assert.equal((await api('GET', `/v1/providers/${prov.json.id}`)).json.token_endpoint_auth_method, 'client_secret_basic');
      // Until introspect has reloaded the provider (within a second) the old
      // method may be used: each try is a fresh client (answers are cached).
      let seen = null;
      for (let i = 0; i < 10 && !seen?.basic; i += 1) {
        if (i > 0) await new Promise((res) => { setTimeout(res, 300); });
        idp.clearRequests();
        const st = (await get(FILE, basicOf(await adoptedClient('client_secret_basic')))).status;
        seen = { ...tokenReqs()[0], st };
      }
      assert.equal(seen.basic, true, 'client_secret_basic: an HTTP Basic header');
      assert.equal(seen.st, 200);
    } finally {
      // Leave no second provider for this issuer behind (the JWKS test at the end).
      sql(`DELETE FROM registration_grants WHERE registration_id IN (SELECT id FROM registrations WHERE provider_id = :'p'::uuid);
           DELETE FROM registrations WHERE provider_id = :'p'::uuid;`, { p: prov.json.id });
      assert.equal((await api('DELETE', `/v1/providers/${prov.json.id}`)).status, 204);
    }
  });

  test('RFC 7662: active token with product and plan, anything else exactly {"active":false}', async () => {
    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    const form = (t) => new URLSearchParams({ token: t, token_type_hint: 'access_token' });
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const r = await api('POST', '/v1/introspect', form(tok), { headers: hdr });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, true);
    assert.equal(r.json.client_id, clients.rs.client_id);
    assert.equal(r.json.iss, idp.url);
    assert.equal(r.json.aud, idp.audience);
    assert.equal(r.json.product, `gw-orders-${SFX}`);
    assert.equal(r.json.plan, `gw-gold-${SFX}`);
    assert.ok(r.json.exp > r.json.iat);
    const bad = await api('POST', '/v1/introspect', form('nope.nope.nope'), { headers: hdr });
    assert.equal(bad.status, 200);
    assert.deepEqual(bad.json, { active: false });
    const anon = await api('POST', '/v1/introspect', form(tok), { headers: hdr, token: null });
    assert.equal(anon.status, 401);
  });

  // Issue 10: "aud" is answered as the token has it (an array was answered null).
  test('RFC 7662: an array aud stays an array, a string aud a string', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: idp.url, client_id: clients.rs.client_id, sub: clients.rs.client_id,
      scope: 'orders:read plan:gold', iat: now, exp: now + 300,
    };
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const ask = (tok) => api('POST', '/v1/introspect', new URLSearchParams({ token: tok }), { headers: hdr });
    const arr = [idp.audience, 'https://reports.example.test'];
    const a = await ask(idp.signRs256({ typ: 'at+jwt' }, { ...claims, aud: arr, jti: `arr-${SFX}` }));
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.active, true, a.text);
    assert.deepEqual(a.json.aud, arr);
    const s = await ask(idp.signRs256({ typ: 'at+jwt' }, { ...claims, aud: idp.audience, jti: `str-${SFX}` }));
    assert.equal(s.json.active, true, s.text);
    assert.equal(s.json.aud, idp.audience);
    // The gateway accepts the same array-aud token (the provider's audience is in it).
    const g = await get(FILE, bearer(idp.signRs256({ typ: 'at+jwt' }, { ...claims, aud: arr, jti: `g-${SFX}` })));
    assert.equal(g.status, 200);
  });

  test('RFC 7662 callers: introspection clients with Basic id:secret, managed by admins', async () => {
    const hdr = { 'content-type': 'application/x-www-form-urlencoded' };
    const basicHdr = (id, secret) => ({
      token: null,
      headers: { ...hdr, authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    });
    const c = await api('POST', '/v1/introspection-clients', { name: `rs-${SFX}` });
    assert.equal(c.status, 201, c.text);
    assert.match(c.json.id, /^[0-9a-f-]{36}$/);
    assert.match(c.json.client_secret, /^clr_isc_[A-Za-z0-9_-]{43}$/);
    assert.equal(c.json.name, `rs-${SFX}`);
    assert.equal(c.json.revoked_at, null);
    const stored = sql(`SELECT secret_hash || ' ' || hash_alg FROM introspection_clients WHERE id = :'id'::uuid`, { id: c.json.id });
    const pepper = process.env.CLEARANCE_TOKEN_PEPPER;
    assert.ok(pepper, 'the stack sets a token pepper');
    assert.equal(stored, `${crypto.createHmac('sha256', pepper).update(c.json.client_secret).digest('hex')} hmac-sha256`, 'only the peppered hash is stored');

    const tok = await tokenFor(clients.rs, 'orders:read plan:gold');
    const form = new URLSearchParams({ token: tok });
    const ok = await api('POST', '/v1/introspect', form, basicHdr(c.json.id, c.json.client_secret));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.active, true);
    assert.equal(ok.json.client_id, clients.rs.client_id);
    const junk = await api('POST', '/v1/introspect', new URLSearchParams({ token: 'x.y.z' }),
      basicHdr(c.json.id, c.json.client_secret));
    assert.deepEqual(junk.json, { active: false });

    for (const [id, secret, what] of [
      [c.json.id, `${c.json.client_secret}x`, 'wrong secret'],
      [c.json.id, '', 'empty secret'],
      [crypto.randomUUID(), c.json.client_secret, 'unknown id'],
      ['not-a-uuid', 'x', 'malformed id'],
    ]) {
      const r = await api('POST', '/v1/introspect', form, basicHdr(id, secret));
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_client', what);
      assert.equal(r.json.active, undefined, `${what}: no introspection answer`);
    }
    const garbled = await api('POST', '/v1/introspect', form,
      { token: null, headers: { ...hdr, authorization: 'Basic %%%' } });
    assert.equal(garbled.status, 401);

    const list = await api('GET', '/v1/introspection-clients');
    assert.equal(list.status, 200, list.text);
    const mine = list.json.introspection_clients.find((x) => x.id === c.json.id);
    assert.ok(mine, 'listed');
    assert.equal(mine.client_secret, undefined, 'the secret is shown only once');
    assert.ok(!list.text.includes(c.json.client_secret));
    assert.equal((await api('GET', '/v1/introspection-clients', undefined, { token: null })).status, 401);
    assert.equal((await api('POST', '/v1/introspection-clients', { name: 'x', extra: 1 })).status, 400);

    const del = await api('DELETE', `/v1/introspection-clients/${c.json.id}`);
    assert.equal(del.status, 204, del.text);
    assert.equal((await api('DELETE', `/v1/introspection-clients/${crypto.randomUUID()}`)).status, 404);
    assert.equal((await api('DELETE', '/v1/introspection-clients/nope')).status, 404);
    const t0 = Date.now();
    await waitFor(async () => (await api('POST', '/v1/introspect', form,
      basicHdr(c.json.id, c.json.client_secret))).status === 401,
    { timeoutMs: 1500, intervalMs: 50, what: 'revoked introspection client refused' });
    assert.ok(Date.now() - t0 <= 1000);
    const after1 = (await api('GET', '/v1/introspection-clients')).json.introspection_clients
      .find((x) => x.id === c.json.id);
    assert.equal(typeof after1.revoked_at, 'string');
  });

  test('RFC 7662 callers are rate-limited against token fishing: 150 calls in a row', async () => {
    const c = await api('POST', '/v1/introspection-clients', { name: `fish-${SFX}` });
    assert.equal(c.status, 201, c.text);
    const hdrs = {
      token: null,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${c.json.id}:${c.json.client_secret}`).toString('base64')}`,
      },
    };
    await waitFor(async () => (await api('POST', '/v1/introspect', new URLSearchParams({ token: 'a.b.c' }), hdrs)).status === 200,
      { timeoutMs: 2000, intervalMs: 50, what: 'new introspection client usable' });
    let answered = 1;
    let limited = 0;
    const t0 = Date.now();
    for (let i = 1; i < 150; i += 1) {
      const r = await api('POST', '/v1/introspect', new URLSearchParams({ token: `x${i}.y.z` }), hdrs);
      if (r.status === 200) {
        answered += 1;
        assert.deepEqual(r.json, { active: false });
      } else {
        assert.equal(r.status, 429, r.text);
        assert.equal(r.json.error, 'too_many_requests');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        limited += 1;
      }
    }
    // 100 at once, then 10 per second (per copy; the stack runs one)
    const most = 100 + Math.ceil(((Date.now() - t0) / 1000) * 10) + 1;
    assert.ok(limited > 0 && answered <= most, `answered ${answered} (at most ${most}), limited ${limited}`);
    // another caller has its own allowance
    const other = await api('POST', '/v1/introspect', new URLSearchParams({ token: 'a.b.c' }),
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(other.status, 200, other.text);
  });

  test('attack tokens are all 401 and cost no outbound fetch', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: idp.url, aud: idp.audience, client_id: clients.rs.client_id, sub: clients.rs.client_id,
      scope: 'orders:read plan:gold', iat: now, exp: now + 300, jti: 'x',
    };
    const real = decodeJwt(await tokenFor(clients.rs, 'orders:read plan:gold')).header;
    const rsaPub = idp.keys().find((k) => k.kid === real.kid);
    const pubPem = crypto.createPublicKey({ key: rsaPub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const own = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ownJwk = { ...own.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'RS256' };
    const rs256 = (data) => crypto.sign('sha256', data, own.privateKey);
    const evilPath = `/evil-jwks-${SFX}.json`;
    const cases = {
      'alg none': forge({ alg: 'none', typ: 'at+jwt' }, claims),
      'alg none with kid': forge({ alg: 'none', kid: real.kid }, claims),
      'HS256 keyed with the public key': forge({ alg: 'HS256', kid: real.kid }, claims,
        (d) => crypto.createHmac('sha256', pubPem).update(d).digest()),
      'embedded jwk': forge({ alg: 'RS256', kid: 'attacker', jwk: ownJwk }, claims, rs256),
      'jku to our IdP host': forge({ alg: 'RS256', kid: 'attacker', jku: `${idp.url}${evilPath}` }, claims, rs256),
      'x5u': forge({ alg: 'RS256', kid: 'attacker', x5u: `${idp.url}${evilPath}` }, claims, rs256),
      'kid with path characters': forge({ alg: 'RS256', kid: '../../../../etc/passwd' }, claims, rs256),
      'kid with SQL': forge({ alg: 'RS256', kid: "x' OR '1'='1'; --" }, claims, rs256),
      'kid of the IdP, signed by us': forge({ alg: 'RS256', kid: real.kid }, claims, rs256),
      'unknown crit': forge({ alg: 'RS256', kid: real.kid, crit: ['exp'] }, claims, rs256),
      'large (7 KB) token': forge({ alg: 'RS256', kid: real.kid }, { ...claims, pad: 'A'.repeat(5000) }, rs256),
    };
    idp.clearRequests();
    for (const [name, tok] of Object.entries(cases)) {
      const r = await get(FILE, bearer(tok));
      assert.equal(r.status, 401, `${name}: ${r.status}`);
    }
    // Beyond nginx's header buffers: refused before it reaches us, never a 2xx or 5xx.
    const huge = await get(FILE, bearer(`${'a'.repeat(40000)}.b.c`));
    assert.ok([400, 401, 431, 494].includes(huge.status), `huge token: ${huge.status}`);
    assert.equal(idp.requests.filter((q) => q.path === evilPath).length, 0, 'jku/x5u URL fetched');
    // The random kids may cost at most one JWKS refetch per cooldown.
    assert.ok(idp.requests.filter((q) => q.path === '/jwks').length <= 1, 'JWKS refetch storm');
    // Still alive and serving.
    const ok = await tokenFor(clients.ps, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(ok))).status, 200);
  });

  // Last: it removes the IdP's old keys.  A verified (cached) token is tied
  // to the key set it was verified with; the next set (here forced by the
  // admin refresh, in production at the set's max-age) re-checks it.
  test('a key removed from the IdP\'s JWKS stops verifying cached tokens at the next set', async () => {
    const old = await tokenFor(clients.rs, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(old))).status, 200);
    assert.equal((await get(FILE, bearer(old))).status, 200, 'now served from the token cache');
    idp.rotateKeys({ keep: false });
    const refresh = await api('POST', `/v1/providers/${providerId}/jwks/refresh`);
    assert.equal(refresh.status, 200, refresh.text);
    assert.ok(!refresh.json.kids.includes(decodeJwt(old).header.kid), 'old kid gone from the set');
    assert.equal((await get(FILE, bearer(old))).status, 401, 'token of a removed key refused');
    const fresh = await tokenFor(clients.rs, 'orders:read plan:gold');
    assert.equal((await get(FILE, bearer(fresh))).status, 200);
  });
});
