// Proves the Glewlwyd harness (tests/integration/lib/glewlwyd.mjs): a real
// Glewlwyd 2.7 on loopback, beside oidc-provider, that the registrar's
// tests can register clients at.  Raw HTTP here, no Clearance involved:
// discovery, the initial access token (client credentials), an RFC 7591
// registration, a token for the registered client, RFC 7592 management, and
// that the protections are really on (no token, a used token, a bad secret).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGlewlwyd, haveGlewlwyd, REGISTRATION_SCOPE } from './lib/glewlwyd.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';
import { fcgiRequest } from './lib/fcgi.mjs';
import { makeAdmin, verifiedDev, sql, uniq } from './lib/portal.mjs';

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const jwtParts = (t) => t.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));

describe('Glewlwyd test IdP', () => {
  let g;
  before(async () => {
    assert.ok(haveGlewlwyd(), 'glewlwyd is installed (tests/stack/deps.sh test)');
    g = await startGlewlwyd({ scopes: ['api:read', 'plan:gold'] });
  });
  after(async () => { if (g) await g.stop(); });

  const register = (iat, body) => fetch(g.registrationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(iat ? { authorization: `Bearer ${iat}` } : {}) },
    body: JSON.stringify(body),
  });
  const clientBody = (name) => ({
    client_name: name,
    // Glewlwyd wants one even for client credentials: a placeholder.
    redirect_uris: ['https://clearance.invalid/no-redirect'],
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'api:read',
  });
  const token = (id, secret, scope) => fetch(g.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });

  test('discovery: issuer on loopback, registration endpoint, RS256 keys', async () => {
    const d = g.discovery;
    assert.equal(d.issuer, g.issuer);
    assert.match(d.issuer, /^http:\/\/127\.0\.0\.1:\d+\/api\/oidc$/);
    for (const k of ['token_endpoint', 'jwks_uri', 'registration_endpoint']) {
      assert.ok(d[k]?.startsWith(`${g.url}/api/oidc/`), `${k}: ${d[k]}`);
    }
    // Glewlwyd 2.7 advertises only authorization_code and implicit, though
    // client credentials works (next test): a client of it must not insist.
    assert.ok(Array.isArray(d.grant_types_supported));
    assert.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
    const jwks = await (await fetch(d.jwks_uri)).json();
    assert.ok(jwks.keys.some((k) => k.kty === 'RSA' && (k.alg === undefined || k.alg === 'RS256')), JSON.stringify(jwks));
  });

  test('an initial access token by client credentials, then an RFC 7591 registration and its token', async () => {
    const iat = await g.initialAccessToken();
    const [, iatClaims] = jwtParts(iat);
    assert.match(iatClaims.scope, new RegExp(`(^| )${REGISTRATION_SCOPE}( |$)`));

    const r = await register(iat, clientBody('harness app'));
    const reg = await r.json();
    assert.equal(r.status, 200, JSON.stringify(reg));
    assert.ok(reg.client_id && reg.client_secret, 'a confidential client');
    assert.ok(reg.registration_access_token && reg.registration_client_uri, 'RFC 7592 management data');

    const t = await token(reg.client_id, reg.client_secret, 'api:read');
    const body = await t.json();
    assert.equal(t.status, 200, JSON.stringify(body));
    const [hdr, claims] = jwtParts(body.access_token);
    assert.equal(hdr.alg, 'RS256');
    assert.equal(claims.iss, g.issuer);
    assert.equal(claims.client_id, reg.client_id);
    assert.match(claims.scope, /(^| )api:read( |$)/);
    // The signature verifies against the published JWKS.
    const jwks = await (await fetch(g.discovery.jwks_uri)).json();
    const jwk = jwks.keys.find((k) => k.kid === hdr.kid) || jwks.keys[0];
    const [h, p, s] = body.access_token.split('.');
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')));

    // RFC 7592: read it back with its registration access token.
    const m = await fetch(reg.registration_client_uri, { headers: { authorization: `Bearer ${reg.registration_access_token}` } });
    const read = await m.json();
    assert.equal(m.status, 200, JSON.stringify(read));
    assert.equal(read.client_id, reg.client_id);
    const wrong = await fetch(reg.registration_client_uri, { headers: { authorization: 'Bearer not-the-token' } });
    assert.ok([401, 403].includes(wrong.status), `a wrong registration access token: ${wrong.status}`);
  });

  test('registration needs an initial access token, once', async () => {
    const none = await register(null, clientBody('no token'));
    assert.ok([401, 403].includes(none.status), `without a token: ${none.status}`);
    const iat = await g.initialAccessToken();
    const first = await register(iat, clientBody('first use'));
    assert.equal(first.status, 200);
    const again = await register(iat, clientBody('second use'));
    assert.ok([401, 403].includes(again.status), `a used initial access token: ${again.status}`);
  });

  test('a wrong client secret gets no token', async () => {
    const t = await token(g.registrar.id, 'wrong-secret', REGISTRATION_SCOPE);
    assert.equal(t.status, 403);
  });
});

// The whole journey through Clearance against Glewlwyd: the provider from its
// well-known URL (kind glewlwyd: a placeholder redirect URI for clients
// without redirects, an initial access token obtained with client
// credentials for every registration), verify, a client type, a direct
// registration with its RFC 7592 update (Glewlwyd issues a new secret, which
// the answer must carry) and deletion, then the access workflow: request,
// approval, provisioning, a call through the gateway, revocation.
describe('Glewlwyd through Clearance', { skip: haveStack() && DATABASE_URL && STACK_DIR ? false : 'no stack' }, () => {
  let g;
  let admin;
  let provider;
  let ct;
  before(async () => {
    g = await startGlewlwyd({ scopes: ['api:read', 'plan:gold'] });
    admin = await makeAdmin();
  });
  after(async () => { if (g) await g.stop(); });
  const as = () => ({ token: admin.token });
  const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const ccToken = (id, secret, scope) => fetch(g.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });

  test('provider from its well-known URL, verified, with a client-credentials client type', async () => {
    // Without client credentials or a token a glewlwyd provider is refused up front.
    const bare = await api('POST', '/v1/providers', {
      name: `gw-bare-${uniq()}`, kind: 'glewlwyd', well_known_url: g.discoveryUrl, allow_insecure_http: true,
    }, as());
    assert.equal(bare.status, 400, bare.text);
    assert.equal(bare.json.field, 'initial_client_id');
    const half = await api('POST', '/v1/providers', {
      name: `gw-half-${uniq()}`, kind: 'glewlwyd', well_known_url: g.discoveryUrl, allow_insecure_http: true,
      initial_client_id: g.registrar.id,
    }, as());
    assert.equal(half.status, 400, half.text);

    const p = await api('POST', '/v1/providers', {
      name: `glewlwyd-${uniq()}`, kind: 'glewlwyd', well_known_url: g.discoveryUrl, allow_insecure_http: true,
      initial_client_id: g.registrar.id, initial_client_secret: g.registrar.secret,
      initial_token_scope: REGISTRATION_SCOPE,
    }, as());
    assert.equal(p.status, 201, p.text);
    provider = p.json;
    assert.equal(provider.kind, 'glewlwyd');
    assert.equal(provider.issuer, g.issuer);
    assert.equal(provider.registration_endpoint, g.registrationEndpoint);
    assert.equal(provider.initial_token_scope, REGISTRATION_SCOPE);
    assert.ok(!p.text.includes(g.registrar.secret), 'the secret is never shown');

    const v = await api('POST', `/v1/providers/${provider.id}/verify`, undefined, as());
    assert.equal(v.status, 200, v.text);
    const checks = Object.fromEntries(v.json.checks.map((c) => [c.name, c]));
    assert.equal(checks.initial_client_credentials?.ok, true, JSON.stringify(checks));
    assert.equal(checks.discovery?.ok, true, JSON.stringify(checks));
    assert.equal(checks.jwks?.ok, true, JSON.stringify(checks));
    assert.equal(checks.registration_endpoint?.ok, true, JSON.stringify(checks));
    assert.equal(v.json.ok, true, JSON.stringify(v.json));
    assert.ok(!v.text.includes(g.registrar.secret), 'no secret in the verify report');

    const t = await api('POST', `/v1/providers/${provider.id}/client-types`, {
      display_name: `machine-${uniq()}`, grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }, as());
    assert.equal(t.status, 201, t.text);
    ct = t.json;
  });

  // A plan, a product over a fresh path prefix, the file behind it.
  async function catalogue(sfx) {
    const plan = await api('POST', '/v1/plans', {
      name: `gl-gold-${sfx}`, scopes: 'plan:gold', rate_limit_requests: 100, rate_limit_window_seconds: 60,
    }, as());
    assert.equal(plan.status, 201, plan.text);
    const prefix = `/api/gl${sfx}/orders`;
    const product = await api('POST', '/v1/products', {
      name: `gl-orders-${sfx}`, description: 'orders', path_prefixes: [prefix], dcr_enabled: true,
      scopes: 'api:read', client_type_ids: [ct.id], plan_ids: [plan.json.id],
    }, as());
    assert.equal(product.status, 201, product.text);
    const dir = path.join(STACK_DIR, 'www', prefix);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'item.json'), '{"item":1}\n');
    return { plan: plan.json, product: product.json, prefix, file: `${prefix}/item.json` };
  }

  test('providers API: identity_claim and access_token_typ are settable and shown', async () => {
    assert.ok(provider, 'the provider test ran first');
    assert.equal(provider.identity_claim, 'client_id');
    assert.equal(provider.access_token_typ, 'at+jwt application/at+jwt JWT none');
    for (const [body, field] of [[{ identity_claim: 'app..clientId' }, 'identity_claim'],
      [{ identity_claim: 'a b' }, 'identity_claim'], [{ access_token_typ: 'at+jwt  JWT' }, 'access_token_typ'],
      [{ access_token_typ: '' }, 'access_token_typ'], [{ identity_claim: null }, 'identity_claim']]) {
      const bad = await api('PATCH', `/v1/providers/${provider.id}`, body, as());
      assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${bad.text}`);
      assert.equal(bad.json.field, field);
    }
    const ok = await api('PATCH', `/v1/providers/${provider.id}`, { identity_claim: 'app.clientId', access_token_typ: 'JWT none' }, as());
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.identity_claim, 'app.clientId');
    assert.equal(ok.json.access_token_typ, 'JWT none');
    assert.equal(sql(`SELECT identity_claim || '|' || access_token_typ FROM providers WHERE id = :'id'`, { id: provider.id }),
      'app.clientId|JWT none');
    const back = await api('PATCH', `/v1/providers/${provider.id}`, { identity_claim: 'client_id', access_token_typ: provider.access_token_typ }, as());
    assert.equal(back.status, 200, back.text);
    assert.equal((await api('GET', `/v1/providers/${provider.id}`, undefined, as())).json.identity_claim, 'client_id');
  });

  // Glewlwyd's initial access tokens are single-use: the cached one is
  // refused on its second use, one retry with a fresh one, and from then on
  // one fetch per registration without a refused attempt (issue 10).
  test('initial access tokens: cached, refused on reuse, retried once, then fetched per registration', async () => {
    assert.ok(ct, 'the provider test ran first');
    const fetches = async () => {
      const met = await fcgiRequest(path.join(STACK_DIR, 'run', 'registrar.sock'), { path: '/metrics' });
      return Number(/^clearance_initial_token_fetches_total (\d+)$/m.exec(met.body.toString())[1]);
    };
    const f0 = await fetches();
    const regs = [];
    for (let i = 0; i < 3; i++) {
      const r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: `gw-iat-${i}-${uniq()}` }, as());
      assert.equal(r.status, 201, r.text);
      // Glewlwyd gives the secret an expiry of 0 (never) and RFC 7592 access.
      assert.equal(r.json.idp_manageable, true, r.text);
      assert.deepEqual(r.json.warnings, [], r.text);
      regs.push(r.json);
    }
    // 1 (first), 2 (cached one refused, fresh one), 3 (learnt single-use).
    assert.equal(await fetches() - f0, 3);
    const v = await api('POST', `/v1/providers/${provider.id}/verify`, undefined, as());
    assert.equal(v.status, 200, v.text);
    const ch = Object.fromEntries(v.json.checks.map((c) => [c.name, c]));
    assert.equal(ch.initial_token?.ok, true, v.text);
    assert.ok(ch.initial_token.detail.includes(`scope asked: ${REGISTRATION_SCOPE}`), v.text);
    const notes = Object.fromEntries(v.json.notes.map((x) => [x.name, x.detail]));
    assert.match(notes.redirect_placeholder || '', /clearance\.invalid/);
    assert.match(notes.initial_token_single_use || '', /single-use/);
    for (const r of regs) assert.equal((await api('DELETE', `/v1/registrations/${r.id}`, undefined, as())).status, 204);
  });

  test('a direct registration with grants, a token, the gateway, an RFC 7592 update with its new secret, deletion', async () => {
    assert.ok(ct, 'the provider test ran first');
    const cat = await catalogue(uniq());
    const other = await catalogue(uniq());
    const before = sql('SELECT count(*) FROM registrations');
    for (const grants of [[{ product_id: cat.product.id, plan_id: other.plan.id }],
      [{ product_id: cat.product.id }], [{ product_id: crypto.randomUUID(), plan_id: cat.plan.id }],
      [{ product_id: cat.product.id, plan_id: cat.plan.id }, { product_id: cat.product.id, plan_id: cat.plan.id }],
      'not a list']) {
      const bad = await api('POST', '/v1/registrations', {
        client_type_id: ct.id, client_name: 'bad grants', scope: 'api:read', grants,
      }, as());
      assert.equal(bad.status, 400, `${JSON.stringify(grants)}: ${bad.text}`);
      assert.equal(bad.json.field, 'grants');
    }
    assert.equal(sql('SELECT count(*) FROM registrations'), before, 'a refused registration creates nothing');

    const r = await api('POST', '/v1/registrations', {
      client_type_id: ct.id, client_name: 'glewlwyd machine', scope: 'api:read plan:gold',
      grants: [{ product_id: cat.product.id, plan_id: cat.plan.id }],
    }, as());
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.grants, [{ product_id: cat.product.id, plan_id: cat.plan.id }]);
    assert.equal(r.json.idp_manageable, true, 'Glewlwyd issued a registration access token');
    const shown = await api('GET', `/v1/registrations/${r.json.id}`, undefined, as());
    assert.deepEqual(shown.json.grants, r.json.grants, 'GET shows the grants');
    const tok = await (await ccToken(r.json.client_id, r.json.client_secret, 'api:read plan:gold')).json();
    assert.ok(tok.access_token, JSON.stringify(tok));
    const bearer = { token: null, headers: { authorization: `Bearer ${tok.access_token}` } };
    await waitFor(async () => (await api('GET', cat.file, undefined, bearer)).status === 200,
      { timeoutMs: 8000, what: 'the gateway honours the direct grant' });
    const otherCall = await api('GET', other.file, undefined, bearer);
    assert.equal(otherCall.status, 403, 'a product not granted stays closed');
    // Changed through the sub-resource: the other product instead.
    const moved = await api('PUT', `/v1/registrations/${r.json.id}/grants`,
      { grants: [{ product_id: other.product.id, plan_id: other.plan.id }] }, as());
    assert.equal(moved.status, 200, moved.text);
    assert.deepEqual(moved.json.grants, [{ product_id: other.product.id, plan_id: other.plan.id }]);
    await waitFor(async () => (await api('GET', cat.file, undefined, bearer)).status === 403,
      { timeoutMs: 8000, what: 'the gateway drops the removed grant' });
    const badPut = await api('PUT', `/v1/registrations/${r.json.id}/grants`,
      { grants: [{ product_id: other.product.id, plan_id: cat.plan.id }] }, as());
    assert.equal(badPut.status, 400, badPut.text);
    assert.deepEqual((await api('GET', `/v1/registrations/${r.json.id}/grants`, undefined, as())).json.grants,
      moved.json.grants, 'a refused change changes nothing');

    assert.equal(r.json.status, 'active');
    assert.ok(r.json.client_id && r.json.client_secret, 'a confidential client with its secret');
    assert.deepEqual(r.json.redirect_uris, [], 'the placeholder is the driver\'s, not the registration\'s');

    const u = await api('PUT', `/v1/registrations/${r.json.id}`, {
      client_type_id: ct.id, client_name: 'glewlwyd machine renamed', scope: 'api:read plan:gold',
    }, as());
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.client_name, 'glewlwyd machine renamed');
    assert.ok(u.json.client_secret, 'Glewlwyd issued a new secret on PUT: the answer carries it');
    assert.notEqual(u.json.client_secret, r.json.client_secret);
    const t2 = await ccToken(r.json.client_id, u.json.client_secret, 'api:read');
    assert.equal(t2.status, 200, 'the secret in the PUT answer works');
    const got = await api('GET', `/v1/registrations/${r.json.id}`, undefined, as());
    assert.ok(!got.text.includes(u.json.client_secret), 'GET never shows the secret');

    const d = await api('DELETE', `/v1/registrations/${r.json.id}`, undefined, as());
    assert.ok([200, 204].includes(d.status), `${d.status} ${d.text}`);
    const t3 = await ccToken(r.json.client_id, u.json.client_secret, 'api:read');
    assert.notEqual(t3.status, 200, 'a deleted client gets no token');
  });

  // Issue 10: Glewlwyd does not form-decode an HTTP Basic client_secret_basic
  // header (RFC 6749 s.2.3.1), so the gateway's Basic exchange fails for a
  // client whose id or secret has "/" or other reserved characters unless the
  // provider says client_secret_post.
  test('gateway Basic exchange: per-provider token_endpoint_auth_method, a client id and secret with reserved characters', async () => {
    assert.ok(provider, 'the provider test ran first');
    assert.equal(provider.token_endpoint_auth_method, 'client_secret_basic', 'the default');
    for (const v of ['private_key_jwt', null, 'client_secret_basic ', 7]) {
      const bad = await api('PATCH', `/v1/providers/${provider.id}`, { token_endpoint_auth_method: v }, as());
      assert.equal(bad.status, 400, `${JSON.stringify(v)}: ${bad.text}`);
      assert.equal(bad.json.field, 'token_endpoint_auth_method');
    }
    const cat = await catalogue(uniq());
    const id = `gl/basic+${uniq()}`;
    const secret = `se/cr+et:${uniq()}%&=?`;
    await g.admin('POST', 'client/', {
      client_id: id, name: id, enabled: true, confidential: true, client_secret: secret,
      token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post'],
      authorization_type: ['client_credentials'], scope: ['api:read', 'plan:gold'], redirect_uri: [],
    });
    // What Glewlwyd itself does with the two forms of the same credentials.
    const fe = (x) => new URLSearchParams({ x }).toString().slice(2);
    const raw = (authorization, extra = '') => fetch(g.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body: `grant_type=client_credentials&scope=api%3Aread${extra}`,
    });
    const enc = await raw(`Basic ${Buffer.from(`${fe(id)}:${fe(secret)}`).toString('base64')}`);
    assert.notEqual(enc.status, 200, 'Glewlwyd does not form-decode a Basic header');
    assert.equal((await raw(null, `&client_id=${fe(id)}&client_secret=${fe(secret)}`)).status, 200,
      'Glewlwyd takes the form-encoded pair in the body');
    // Adopted as an active registration granted the product.
    sql(`BEGIN;
         WITH r AS (INSERT INTO registrations (provider_id, client_name, status, client_id, scope)
                    VALUES (:'p'::uuid, :'n', 'active', :'c', 'api:read plan:gold') RETURNING id)
         INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT r.id, :'pr'::uuid, :'pl'::uuid FROM r;
         COMMIT;`, { p: provider.id, n: `gl-basic-${uniq()}`, c: id, pr: cat.product.id, pl: cat.plan.id });
    // The caller's header carries the id and secret as they are.
    const call = () => api('GET', cat.file, undefined,
      { token: null, headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` } });
    const refused = await call();
    assert.equal(refused.status, 401, `client_secret_basic against Glewlwyd: ${refused.status} ${refused.text}`);
    const post = await api('PATCH', `/v1/providers/${provider.id}`, { token_endpoint_auth_method: 'client_secret_post' }, as());
    assert.equal(post.status, 200, post.text);
    assert.equal(post.json.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(sql(`SELECT token_endpoint_auth_method FROM providers WHERE id = :'id'`, { id: provider.id }),
      'client_secret_post');
    try {
      // A failed exchange is remembered a few seconds (basic_exchange.h).
      await waitFor(async () => (await call()).status === 200,
        { timeoutMs: 15000, intervalMs: 500, what: 'the gateway exchanges with client_secret_post' });
      const wrong = await api('GET', cat.file, undefined,
        { token: null, headers: { authorization: `Basic ${Buffer.from(`${id}:wrong/secret`).toString('base64')}` } });
      assert.equal(wrong.status, 401, 'a wrong secret is still refused');
    } finally {
      const back = await api('PATCH', `/v1/providers/${provider.id}`, { token_endpoint_auth_method: 'client_secret_basic' }, as());
      assert.equal(back.status, 200, back.text);
    }
  });

  test('access workflow: request, approval, provisioning, gateway, revocation', async () => {
    assert.ok(ct, 'the provider test ran first');
    const sfx = uniq();
    const { plan: planRow, product: productRow, prefix } = await catalogue(sfx);
    const plan = { json: planRow };
    const product = { json: productRow };

    const dev = await verifiedDev('glewlwyd');
    const rq = await api('POST', '/v1/access-requests', {
      product_id: product.json.id, plan_id: plan.json.id, client_type_id: ct.id,
      app: { name: `gl-app-${sfx}`, description: 'an app' },
    }, { token: dev.token });
    assert.equal(rq.status, 201, rq.text);
    const ok = await api('POST', `/v1/access-requests/${rq.json.id}/approve`, undefined, as());
    assert.equal(ok.status, 200, ok.text);
    const active = await waitFor(async () => {
      const x = await api('GET', `/v1/access-requests/${rq.json.id}`, undefined, { token: dev.token });
      if (x.json?.status === 'failed') throw new Error(`provisioning failed: ${x.text}`);
      return x.json?.status === 'active' ? x.json : null;
    }, { timeoutMs: 30000, what: 'the request active' });
    const creds = await api('GET', `/v1/apps/${rq.json.app_id}/credentials`, undefined, { token: dev.token });
    assert.equal(creds.status, 200, creds.text);
    const c = creds.json.credentials[0];
    assert.equal(c.client_id, active.client_id);
    assert.equal(c.token_endpoint, g.tokenEndpoint);

    const tr = await ccToken(c.client_id, c.client_secret, 'api:read plan:gold');
    const tb = await tr.json();
    assert.equal(tr.status, 200, JSON.stringify(tb));
    const file = `${prefix}/item.json`;
    const bearer = { token: null, headers: { authorization: `Bearer ${tb.access_token}` } };
    const call = await waitFor(async () => {
      const x = await api('GET', file, undefined, bearer);
      return x.status === 200 ? x : null;
    }, { timeoutMs: 8000, what: 'the gateway lets the Glewlwyd client through' });
    assert.deepEqual(call.json, { item: 1 });
    const stranger = await api('GET', `/api/gl${sfx}/other/item.json`, undefined, bearer);
    assert.notEqual(stranger.status, 200, 'a path under no granted product is refused');

    const rv = await api('POST', `/v1/access-requests/${rq.json.id}/revoke`, { reason: 'trial over' }, as());
    assert.equal(rv.status, 200, rv.text);
    await waitFor(async () => {
      const x = await api('GET', file, undefined, bearer);
      return x.status === 401 || x.status === 403;
    }, { timeoutMs: 5000, what: 'the gateway refuses the revoked client' });
    await waitFor(() => sql(`SELECT status FROM registrations WHERE owner->>'access_request_id' = :'id'`,
      { id: rq.json.id }) === 'deleted', { timeoutMs: 15000, what: 'deregistered at Glewlwyd' });
    const after = await ccToken(c.client_id, c.client_secret, 'api:read plan:gold');
    assert.notEqual(after.status, 200, 'Glewlwyd no longer issues tokens to the revoked client');
  });
});
