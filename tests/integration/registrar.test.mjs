// The registrar end to end: nginx -> clearance-registrar -> a real OpenID
// Provider (oidc-provider) on 127.0.0.1.  Each test makes its own providers
// (unique names) so the tests do not depend on each other's rows.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startIdp, decodeJwt } from './lib/idp.mjs';
import { startIdpStub } from './lib/idp-stub.mjs';
import { fcgiRequest } from './lib/fcgi.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';

// Runs SQL through psql on stdin (so :'var' interpolation quotes the values).
function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', DATABASE_URL];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return new Promise((resolve, reject) => {
    const p = spawn('psql', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`psql exited ${code}: ${err}`));
    });
    p.stdin.end(sql);
  });
}
const noStack = haveStack() ? false : 'CLEARANCE_BASE_URL not set: run via make integration';
const uniq = () => crypto.randomBytes(5).toString('hex');

async function providerCount() {
  const r = await api('GET', '/v1/providers');
  assert.equal(r.status, 200, r.text);
  return r.json.providers.length;
}

async function registrationCount() {
  const r = await api('GET', '/v1/registrations?limit=1000');
  assert.equal(r.status, 200, r.text);
  return r.json.registrations.length;
}

async function createProvider(idp, extra = {}) {
  const r = await api('POST', '/v1/providers', {
    name: `idp-${uniq()}`,
    kind: 'other',
    well_known_url: idp.discoveryUrl,
    initial_access_token: idp.initialAccessToken,
    allow_insecure_http: true,
    ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function createCcType(providerId, extra = {}) {
  const r = await api('POST', `/v1/providers/${providerId}/client-types`, {
    display_name: `machine-${uniq()}`,
    description: 'server to server',
    response_types: [],
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// GET /v1/jobs is the registrar's; fail fast (not by timeouts) if nginx sends it elsewhere.
async function assertJobsRouted() {
  const r = await api('GET', '/v1/jobs?limit=1');
  assert.equal(r.status, 200, `GET /v1/jobs must reach clearance-registrar (nginx location): ${r.text}`);
}

function assertJsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `${what}: JSON error body, got ${r.text}`);
  assert.equal(typeof r.json?.error_description, 'string', `${what}: error_description`);
}

describe('registrar', { skip: noStack }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => { await idp?.stop(); });

  test('provider -> client type -> registration -> token -> update -> delete', async () => {
    const prov = await createProvider(idp);
    assert.equal(prov.issuer, idp.url);
    assert.equal(prov.registration_endpoint, `${idp.url}/reg`);
    assert.equal(prov.token_endpoint, `${idp.url}/token`);
    assert.equal(prov.jwks_uri, `${idp.url}/jwks`);
    assert.equal(prov.initial_access_token_set, true);
    assert.equal(prov.initial_client_secret_set, false);
    assert.ok(!('initial_access_token' in prov), 'the token itself is never returned');

    const got = await api('GET', `/v1/providers/${prov.id}`);
    assert.equal(got.status, 200);
    assert.ok(!got.text.includes(idp.initialAccessToken), 'no secret in GET');
    const allProv = await api('GET', '/v1/providers');
    assert.equal(allProv.status, 200);
    assert.ok(!allProv.text.includes(idp.initialAccessToken), 'no secret in the provider list');
    // API times are RFC 3339 UTC with milliseconds, one format for every service.
    const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    for (const k of ['created_at', 'updated_at', 'discovered_at']) {
      assert.match(got.json[k], rfc3339, `${k}: ${got.json[k]}`);
    }
    assert.ok(Math.abs(Date.parse(got.json.created_at) - Date.now()) < 120000, 'created_at is now, in UTC');

    const verify = await api('POST', `/v1/providers/${prov.id}/verify`);
    assert.equal(verify.status, 200, verify.text);
    const checks = Object.fromEntries(verify.json.checks.map((c) => [c.name, c]));
    for (const name of ['discovery', 'jwks', 'registration_endpoint', 'initial_access_token']) {
      assert.equal(checks[name]?.ok, true, `${name}: ${JSON.stringify(checks[name])}`);
    }
    assert.equal(verify.json.ok, true);

    const ct = await createCcType(prov.id);
    assert.deepEqual(ct.grant_types, ['client_credentials']);
    assert.deepEqual(ct.response_types, []);

    const reg = await api('POST', '/v1/registrations', {
      client_type_id: ct.id, client_name: 'orders batch', scope: 'api:read',
    });
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.json.status, 'active');
    assert.equal(reg.json.provider_id, prov.id);
    const { client_id: clientId, client_secret: secret } = reg.json;
    assert.ok(clientId && secret, 'client_id and client_secret returned once');
    assert.match(reg.headers.get('cache-control') || '', /no-store/);
    assert.equal(reg.json.metadata.client_name, 'orders batch', 'stores what the IdP returned');
    assert.ok(!('registration_access_token' in reg.json.metadata));

    const tok = await idp.token(clientId, secret, 'api:read');
    assert.ok(tok.access_token, JSON.stringify(tok));
    const jwt = decodeJwt(tok.access_token);
    assert.equal(jwt.header.typ, 'at+jwt');
    assert.equal(jwt.payload.client_id, clientId);
    assert.equal(jwt.payload.iss, idp.url);

    const one = await api('GET', `/v1/registrations/${reg.json.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.client_secret_set, true);
    assert.ok(!('client_secret' in one.json), 'GET never shows the secret');
    assert.ok(!one.text.includes(secret));

    const listed = await api('GET', `/v1/registrations?provider_id=${prov.id}&status=active`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.registrations.map((x) => x.id), [reg.json.id]);
    assert.ok(!listed.text.includes(secret), 'the list never shows the secret');
    assert.ok(!('client_secret' in listed.json.registrations[0]));
    assert.match(one.json.created_at, rfc3339);
    assert.equal(one.json.deleted_at, null);

    // RFC 7592 update; oidc-provider rotates the registration access token on
    // every PUT, so a second PUT only works if the newest one was stored.
    const put = await api('PUT', `/v1/registrations/${reg.json.id}`, {
      client_name: 'orders batch v2', scope: 'api:read api:write',
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.client_name, 'orders batch v2');
    assert.equal(put.json.metadata.client_name, 'orders batch v2');
    assert.ok(!('client_secret' in put.json));
    const put2 = await api('PUT', `/v1/registrations/${reg.json.id}`, {
      client_name: 'orders batch v3', scope: 'api:read api:write',
    });
    assert.equal(put2.status, 200, `second PUT with the rotated token: ${put2.text}`);
    const afterPut = await api('GET', `/v1/registrations/${reg.json.id}`);
    assert.equal(afterPut.json.metadata.client_name, 'orders batch v3');
    const tok2 = await idp.token(clientId, secret, 'api:write');
    assert.ok(tok2.access_token, `the updated scope works: ${JSON.stringify(tok2)}`);

    const rot = await api('POST', `/v1/registrations/${reg.json.id}/rotate-secret`);
    assertJsonError(rot, 409, 'rotate on kind other');
    assert.equal(rot.json.error, 'unsupported');

    const del = await api('DELETE', `/v1/registrations/${reg.json.id}`);
    assert.equal(del.status, 204, del.text);
    const gone = await api('GET', `/v1/registrations/${reg.json.id}`);
    assert.equal(gone.json.status, 'deleted');
    assert.match(gone.json.deleted_at, rfc3339);
    assert.equal(gone.json.client_secret_set, false, 'secrets wiped from the row');
    const refused = await idp.tokenResponse(clientId, secret, 'api:read');
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.json?.error, 'invalid_client');
    const again = await api('DELETE', `/v1/registrations/${reg.json.id}`);
    assert.equal(again.status, 204, 'deleting a deleted registration is idempotent');

    // The provider cannot go while registrations are live; it can after.
    const reg2 = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'pin' });
    assert.equal(reg2.status, 201, reg2.text);
    assertJsonError(await api('DELETE', `/v1/providers/${prov.id}`), 409, 'provider in use');
    assertJsonError(await api('DELETE', `/v1/client-types/${ct.id}`), 409, 'client type in use');
    assert.equal((await api('DELETE', `/v1/registrations/${reg2.json.id}`)).status, 204);
    assert.equal((await api('DELETE', `/v1/providers/${prov.id}`)).status, 204);
    assert.equal((await api('GET', `/v1/providers/${prov.id}`)).status, 404);
  });

  test('authorization_code client type needs redirect URIs and registers them', async () => {
    const prov = await createProvider(idp);
    const web = await api('POST', `/v1/providers/${prov.id}/client-types`, {
      display_name: 'web app',
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(web.status, 201, web.text);
    const before = await registrationCount();
    assertJsonError(await api('POST', '/v1/registrations', {
      client_type_id: web.json.id, client_name: 'no uris',
    }), 400, 'missing redirect_uris');
    assertJsonError(await api('POST', '/v1/registrations', {
      client_type_id: web.json.id, client_name: 'plain http', redirect_uris: ['http://example.com/cb'],
    }), 400, 'http redirect off loopback');
    assertJsonError(await api('POST', '/v1/registrations', {
      client_type_id: web.json.id, client_name: 'fragment', redirect_uris: ['https://app.example/cb#x'],
    }), 400, 'fragment');
    assert.equal(await registrationCount(), before);
    const ok = await api('POST', '/v1/registrations', {
      client_type_id: web.json.id, client_name: 'web', redirect_uris: ['https://app.example/cb'],
      scope: 'api:read',
    });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.json.metadata.redirect_uris, ['https://app.example/cb']);
    assert.deepEqual(ok.json.metadata.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal((await api('DELETE', `/v1/registrations/${ok.json.id}`)).status, 204);
  });

  // Issue 10: non-public redirect hosts are refused unless the operator allows
  // them; the stack allows 10.99.0.0/16 (CLEARANCE_REDIRECT_ALLOW_PRIVATE).
  test('registration redirect URIs on non-public hosts: refused, or allowed by the operator', async () => {
    const prov = await createProvider(idp);
    const web = await api('POST', `/v1/providers/${prov.id}/client-types`, {
      display_name: 'web app', response_types: ['code'], grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    assert.equal(web.status, 201, web.text);
    const before = await registrationCount();
    for (const uri of ['https://169.254.169.254/cb', 'https://10.0.0.1/cb', 'https://[fe80::1]/cb',
      'https://[::ffff:10.0.0.1]/cb', 'https://0x0a.0.0.1/cb', 'https://metadata.google.internal/cb']) {
      const r = await api('POST', '/v1/registrations', {
        client_type_id: web.json.id, client_name: 'private', redirect_uris: ['https://app.example/cb', uri],
      });
      assertJsonError(r, 400, uri);
      assert.equal(r.json.error, 'invalid_redirect_uri', r.text);
      assert.match(r.json.error_description, /public host|four decimal numbers/, r.text);
    }
    assert.equal(await registrationCount(), before, 'nothing stored for a refused URI');
    const ok = await api('POST', '/v1/registrations', {
      client_type_id: web.json.id, client_name: 'allowed', redirect_uris: ['https://10.99.0.5/cb'],
    });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.json.metadata.redirect_uris, ['https://10.99.0.5/cb']);
    assert.equal((await api('DELETE', `/v1/registrations/${ok.json.id}`)).status, 204);
  });

  test('a wrong initial access token is a clear error and stores nothing', async () => {
    const prov = await createProvider(idp, { initial_access_token: 'not-the-right-token' });
    const ct = await createCcType(prov.id);
    const verify = await api('POST', `/v1/providers/${prov.id}/verify`);
    const iat = verify.json.checks.find((c) => c.name === 'initial_access_token');
    assert.equal(iat.ok, false, JSON.stringify(iat));
    assert.equal(verify.json.ok, false);
    assert.ok(!verify.text.includes('not-the-right-token'), 'verify does not echo the token');

    const before = await registrationCount();
    const r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'x' });
    assertJsonError(r, 502, 'wrong initial token');
    assert.equal(r.json.error, 'idp_rejected');
    assert.match(r.json.error_description, /initial access token/);
    assert.match(r.json.error_description, /invalid_token/);
    assert.ok(!r.text.includes('not-the-right-token'), 'the token is not echoed');
    assert.equal(await registrationCount(), before);

    // Fixing the token with PATCH makes it work.
    const fixed = await api('PATCH', `/v1/providers/${prov.id}`, {
      initial_access_token: idp.initialAccessToken,
    });
    assert.equal(fixed.status, 200, fixed.text);
    const ok = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'x' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await api('DELETE', `/v1/registrations/${ok.json.id}`)).status, 204);
  });

  test('IdP down or answering garbage: 502 with the reason; only the unreadable answer is kept, parked', async () => {
    const idp2 = await startIdp();
    try {
      const prov = await createProvider(idp2);
      const ct = await createCcType(prov.id);
      const regs = await registrationCount();
      const provs = await providerCount();

      await idp2.down();
      let r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'down' });
      assertJsonError(r, 502, 'IdP down');
      assert.match(r.json.error_description, /refused|connect/i);
      r = await api('POST', '/v1/providers', {
        name: `down-${uniq()}`, kind: 'other', well_known_url: idp2.discoveryUrl, allow_insecure_http: true,
      });
      assertJsonError(r, 502, 'discovery while down');
      assert.equal(r.json.error, 'discovery_failed');
      r = await api('POST', `/v1/providers/${prov.id}/discover`);
      assertJsonError(r, 502, 'rediscovery while down');

      await idp2.up();
      await idp2.down({ mode: '503' });
      r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: '503' });
      assertJsonError(r, 502, 'IdP 503');
      assert.match(r.json.error_description, /503/);

      await idp2.up();
      idp2.garbage(true);
      r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'garbage' });
      assertJsonError(r, 502, 'IdP garbage');
      assert.match(r.json.error_description, /non-JSON|JSON/);
      // A 2xx it cannot read may hide a created client: parked, not forgotten (issue 13).
      assert.equal(r.json.error, 'outcome_unknown');
      r = await api('POST', '/v1/providers', {
        name: `garbage-${uniq()}`, kind: 'other', well_known_url: idp2.discoveryUrl, allow_insecure_http: true,
      });
      assertJsonError(r, 502, 'discovery of garbage');
      assert.match(r.json.error_description, /JSON/);
      idp2.garbage(false);

      assert.equal(await registrationCount(), regs + 1, 'only the unreadable answer\'s intent is kept');
      assert.equal(await providerCount(), provs, 'no provider stored');
    } finally {
      await idp2.stop();
    }
  });

  test('bad input gets the right 4xx JSON error and changes nothing', async () => {
    const prov = await createProvider(idp);
    const ct = await createCcType(prov.id);
    const provs = await providerCount();
    const regs = await registrationCount();
    const good = {
      name: `bad-${uniq()}`, kind: 'other', well_known_url: idp.discoveryUrl, allow_insecure_http: true,
    };
    const cases = [
      ['malformed JSON', 'POST', '/v1/providers', '{"name": "x", ', 400],
      ['JSON array body', 'POST', '/v1/providers', '[1,2]', 400],
      ['wrong type name', 'POST', '/v1/providers', { ...good, name: 5 }, 400],
      ['wrong type bool', 'POST', '/v1/providers', { ...good, allow_insecure_http: 'yes' }, 400],
      ['unknown field', 'POST', '/v1/providers', { ...good, colour: 'red' }, 400],
      ['unknown kind', 'POST', '/v1/providers', { ...good, kind: 'auth0' }, 400],
      ['missing field', 'POST', '/v1/providers', { name: good.name, kind: 'other' }, 400],
      ['http without allow', 'POST', '/v1/providers', { ...good, allow_insecure_http: false }, 400],
      ['not a URL', 'POST', '/v1/providers', { ...good, well_known_url: 'nope' }, 400],
      ['duplicate keys', 'POST', '/v1/providers', '{"name":"a","name":"b"}', 400],
      ['oversize body', 'POST', '/v1/providers', { ...good, ca_bundle_pem: 'A'.repeat(70 * 1024) }, 413],
      ['unknown provider', 'GET', `/v1/providers/${crypto.randomUUID()}`, undefined, 404],
      ['malformed provider id', 'GET', '/v1/providers/not-a-uuid', undefined, 404],
      ['injection-ish id', 'GET', `/v1/providers/${encodeURIComponent("1' OR '1'='1")}`, undefined, 404],
      ['unknown registration', 'GET', `/v1/registrations/${crypto.randomUUID()}`, undefined, 404],
      ['malformed registration id', 'DELETE', '/v1/registrations/123', undefined, 404],
      ['patch unknown provider', 'PATCH', `/v1/providers/${crypto.randomUUID()}`, { name: 'x' }, 404],
      ['patch unknown field', 'PATCH', `/v1/providers/${prov.id}`, { nope: 1 }, 400],
      ['client type on unknown provider', 'POST', `/v1/providers/${crypto.randomUUID()}/client-types`,
        { display_name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, 404],
      ['cc with response type', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['client_credentials'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }, 400],
      ['unregistered grant', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['magic'], token_endpoint_auth_method: 'client_secret_basic' }, 400],
      ['duplicate grant', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['client_credentials', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, 400],
      ['cc with auth none', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, 400],
      ['code without response type', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' }, 400],
      ['refresh_token alone', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['refresh_token'], token_endpoint_auth_method: 'client_secret_basic' }, 400],
      ['okta service with code', 'POST', `/v1/providers/${prov.id}/client-types`,
        { display_name: 'x', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', okta_application_type: 'service' }, 400],
      ['malformed client_type_id', 'POST', '/v1/registrations', { client_type_id: 'abc', client_name: 'x' }, 400],
      ['unknown client_type_id', 'POST', '/v1/registrations', { client_type_id: crypto.randomUUID(), client_name: 'x' }, 400],
      ['redirect URIs on a cc type', 'POST', '/v1/registrations',
        { client_type_id: ct.id, client_name: 'x', redirect_uris: ['https://a.example/cb'] }, 400],
      ['bad scope', 'POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'x', scope: 'a  "b"' }, 400],
      ['empty client_name', 'POST', '/v1/registrations', { client_type_id: ct.id, client_name: '' }, 400],
      ['long client_name', 'POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'n'.repeat(201) }, 400],
      ['redirect_uris not array', 'POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'x', redirect_uris: 'https://a.example' }, 400],
      ['bad status filter', 'GET', '/v1/registrations?status=bogus', undefined, 400],
      ['bad provider filter', 'GET', '/v1/registrations?provider_id=xyz', undefined, 400],
      ['bad limit', 'GET', '/v1/registrations?limit=0', undefined, 400],
      ['unknown job', 'GET', `/v1/jobs/${crypto.randomUUID()}`, undefined, 404],
      ['bad job state filter', 'GET', '/v1/jobs?state=sleeping', undefined, 400],
    ];
    for (const [what, method, path, body, status] of cases) {
      const headers = typeof body === 'string' ? { 'content-type': 'application/json' } : {};
      const r = await api(method, path, body, { headers });
      assertJsonError(r, status, what);
    }
    const ctype = await api('POST', '/v1/providers', 'name=x', { headers: { 'content-type': 'text/plain' } });
    assertJsonError(ctype, 415, 'non-JSON content type');

    // Authentication: none, garbage, and a well-formed but unknown token.
    for (const token of [null, 'garbage', `clr_adm_${crypto.randomBytes(32).toString('base64url')}`]) {
      for (const [method, path] of [['GET', '/v1/providers'], ['POST', '/v1/registrations'],
        ['DELETE', `/v1/providers/${prov.id}`], ['GET', '/v1/jobs']]) {
        const body = method === 'POST' ? { client_type_id: ct.id, client_name: 'x' } : undefined;
        const r = await api(method, path, body, { token });
        assertJsonError(r, 401, `${method} ${path} with token ${token ? 'wrong' : 'missing'}`);
      }
    }
    assert.equal(await providerCount(), provs, 'no provider stored or deleted');
    assert.equal(await registrationCount(), regs, 'no registration stored');
    assert.equal((await api('GET', `/v1/providers/${prov.id}`)).status, 200, 'provider still there');
  });

  test('client type PATCH re-validates the merged type', async () => {
    const prov = await createProvider(idp);
    const ct = await createCcType(prov.id);
    assertJsonError(await api('PATCH', `/v1/client-types/${ct.id}`, { response_types: ['code'] }), 400,
      'code without authorization_code');
    const ok = await api('PATCH', `/v1/client-types/${ct.id}`, { description: 'changed' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.description, 'changed');
    assert.deepEqual(ok.json.grant_types, ['client_credentials']);
    const list = await api('GET', `/v1/providers/${prov.id}/client-types`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.client_types.map((c) => c.id), [ct.id]);
    const dup = await api('POST', `/v1/providers/${prov.id}/client-types`, {
      display_name: ct.display_name, grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assertJsonError(dup, 409, 'duplicate display_name');
    assert.equal((await api('DELETE', `/v1/client-types/${ct.id}`)).status, 204);
    assert.equal((await api('GET', `/v1/client-types/${ct.id}`)).status, 404);
  });

  test('an IdP that no longer knows the registration access token: orphaned, not a retry loop', async () => {
    const idpA = await startIdp();
    let idpB;
    try {
      const prov = await createProvider(idpA);
      const ct = await createCcType(prov.id);
      const reg = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'lost' });
      assert.equal(reg.status, 201, reg.text);
      // Same issuer, same initial token, but every client and token forgotten.
      await idpA.stop();
      idpB = await startIdp({ port: idpA.port, initialAccessToken: idpA.initialAccessToken });
      const del = await api('DELETE', `/v1/registrations/${reg.json.id}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.json.status, 'orphaned');
      assert.match(del.json.last_error, /refused/);
      assert.match(del.json.last_error, /invalid_token/);
      const put = await api('PUT', `/v1/registrations/${reg.json.id}`, { client_name: 'x' });
      assertJsonError(put, 409, 'PUT on an orphaned registration');
    } finally {
      await idpB?.stop();
      await idpA.stop();
    }
  });

  test('leaving active announces the client on clearance_revocations; deregister job', async (t) => {
    if (!DATABASE_URL) { t.skip('CLEARANCE_DATABASE_URL not set'); return; }
    await assertJobsRouted();
    const prov = await createProvider(idp);
    const ct = await createCcType(prov.id);
    const reg = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: 'notify' });
    assert.equal(reg.status, 201, reg.text);
    // Notifications from one's own session are delivered too; psql prints them.
    const out = await psql(`LISTEN clearance_revocations;
      UPDATE registrations SET status = 'orphaned' WHERE id = :'id';
      UPDATE registrations SET status = 'active' WHERE id = :'id';
      SELECT 1;`, { id: reg.json.id });
    assert.match(out, new RegExp(`"clearance_revocations" with payload "${reg.json.client_id}"`), out);

    const jobOut = await psql(`INSERT INTO jobs (kind, payload)
      VALUES ('deregister', jsonb_build_object('registration_id', :'id')) RETURNING id;
      NOTIFY clearance_jobs;`, { id: reg.json.id });
    const jobId = jobOut.trim();
    const job = await waitFor(async () => {
      const j = await api('GET', `/v1/jobs/${jobId}`);
      return ['done', 'failed'].includes(j.json?.state) ? j.json : null;
    }, { timeoutMs: 15000, intervalMs: 200, what: 'deregister job' });
    assert.equal(job.state, 'done', JSON.stringify(job));
    const gone = await api('GET', `/v1/registrations/${reg.json.id}`);
    assert.equal(gone.json.status, 'deleted');
    const refused = await idp.tokenResponse(reg.json.client_id, reg.json.client_secret, 'api:read');
    assert.equal(refused.status, 401);
  });

  test('a failing register job is retried and its error is visible', async (t) => {
    if (!DATABASE_URL) { t.skip('CLEARANCE_DATABASE_URL not set: cannot enqueue a job'); return; }
    await assertJobsRouted();
    const idp3 = await startIdp();
    try {
      const prov = await createProvider(idp3);
      const ct = await createCcType(prov.id);
      await idp3.down();
      // The access service will enqueue these; here psql plays its part.
      const sql = `WITH r AS (INSERT INTO registrations (provider_id, client_type_id, client_name)
          VALUES (:'pid', :'ctid', 'job test') RETURNING id)
        INSERT INTO jobs (kind, payload)
          SELECT 'register', jsonb_build_object('registration_id', r.id, 'client_type_id', :'ctid',
                 'client_name', 'job test', 'scope', 'api:read') FROM r
          RETURNING id || ' ' || (payload->>'registration_id');`;
      const stdout = await psql(sql, { pid: prov.id, ctid: ct.id });
      const [jobId, regId] = stdout.trim().split(/\s+/);
      assert.match(jobId, /^[0-9a-f-]{36}$/, stdout);
      await psql('NOTIFY clearance_jobs;');

      const job = await waitFor(async () => {
        const j = await api('GET', `/v1/jobs/${jobId}`);
        return j.status === 200 && j.json.attempts >= 2 && j.json.last_error ? j.json : null;
      }, { timeoutMs: 25000, intervalMs: 250, what: 'job retried' });
      assert.equal(job.kind, 'register');
      assert.match(job.last_error, /IdP|refused|connect/i);
      const reg = await api('GET', `/v1/registrations/${regId}`);
      assert.equal(reg.status, 200);
      assert.ok(['pending', 'failed'].includes(reg.json.status), reg.text);
      assert.match(reg.json.last_error || '', /IdP|refused|connect/i, 'the row shows the error too');
      const listed = await api('GET', '/v1/jobs?kind=register');
      assert.ok(listed.json.jobs.some((j) => j.id === jobId));

      // Back up: the job either completes on its next attempt, or has used
      // up its attempts and stays failed, with the registration failed too.
      await idp3.up();
      const end = await waitFor(async () => {
        const j = await api('GET', `/v1/jobs/${jobId}`);
        return ['done', 'failed'].includes(j.json.state) ? j.json : null;
      }, { timeoutMs: 30000, intervalMs: 250, what: 'job finished' });
      const final = await api('GET', `/v1/registrations/${regId}`);
      if (end.state === 'done') {
        assert.equal(final.json.status, 'active', final.text);
        assert.ok(final.json.client_id);
        assert.equal((await api('DELETE', `/v1/registrations/${regId}`)).status, 204);
      } else {
        assert.equal(final.json.status, 'failed', final.text);
        assert.ok(end.last_error);
      }
    } finally {
      await idp3.stop();
    }
  });
});

// The registration client against the IdP stub (issue 10): what an IdP's
// answer leaves unsaid or refuses becomes visible on the registration, and
// initial access tokens by client credentials are reused while they live.
describe('registration client (issue 10, RFC 7591 s.3.2 / RFC 7592)', { skip: noStack || (!STACK_DIR && 'no stack dir') }, () => {
  let stub;
  const mkProvider = async (extra = {}) => {
    const r = await api('POST', '/v1/providers', {
      name: `stub-${uniq()}`, kind: 'other', well_known_url: stub.discoveryUrl, allow_insecure_http: true, ...extra,
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const mkType = async (pid) => {
    const r = await api('POST', `/v1/providers/${pid}/client-types`, {
      display_name: `cc-${uniq()}`, description: 'issue 10', response_types: [],
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const register = async (ct, name) => {
    const r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: name });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const codes = (view) => (view.warnings || []).map((w) => w.code);
  const fetchesMetric = async () => {
    const met = await fcgiRequest(path.join(STACK_DIR, 'run', 'registrar.sock'), { path: '/metrics' });
    const m = /^clearance_initial_token_fetches_total (\d+)$/m.exec(met.body.toString());
    assert.ok(m, 'the fetch counter is exposed');
    return Number(m[1]);
  };

  before(async () => { stub = await startIdpStub({ expSeconds: 3600 }); });
  after(async () => { await stub?.stop(); });

  test('client_secret_expires_at: 0 is never, absent is unknown (with a warning)', async () => {
    const ct = await mkType((await mkProvider()).id);
    const ok = await register(ct, `ok-${uniq()}`);
    assert.equal(ok.client_secret_expires_at, 0);
    assert.deepEqual(ok.warnings, []);
    assert.equal(ok.idp_manageable, true);
    const noexp = await register(ct, `m-noexp-${uniq()}`);
    assert.equal(noexp.client_secret_expires_at, null, 'unknown, not "never"');
    assert.deepEqual(codes(noexp), ['secret_expiry_unknown']);
    const again = await api('GET', `/v1/registrations/${noexp.id}`);
    assert.deepEqual(codes(again.json), ['secret_expiry_unknown'], 'the stored view says so too');
    assert.match(again.json.warnings[0].message, /client_secret_expires_at/);
    for (const r of [ok, noexp]) assert.equal((await api('DELETE', `/v1/registrations/${r.id}`)).status, 204);
  });

  test('an expiring secret on a kind that cannot rotate: a warning, no rotation job', async () => {
    const ct = await mkType((await mkProvider()).id);
    const r = await register(ct, `m-shortexp-${uniq()}`);
    assert.ok(r.client_secret_expires_at > Date.now() / 1000);
    assert.deepEqual(codes(r), ['secret_expires_no_rotation']);
    const jobs = await psql(`SELECT count(*) FROM jobs WHERE kind = 'rotate' AND payload->>'registration_id' = '${r.id}'`);
    assert.equal(jobs.trim(), '0');
    assert.equal((await api('DELETE', `/v1/registrations/${r.id}`)).status, 204);
  });

  test('an expiring secret on a kind that rotates: rotated before it expires, and rescheduled', async () => {
    // Short-lived (expSeconds 20 on this stub): the rotation runs at 80 % of the life.
    const s2 = await startIdpStub({ expSeconds: 20 });
    try {
      let r = await api('POST', '/v1/providers', {
        name: `bridge-${uniq()}`, kind: 'http_bridge', well_known_url: s2.discoveryUrl,
        registration_endpoint: `${s2.base}/bridge`, initial_access_token: 'bridge-key', allow_insecure_http: true,
      });
      assert.equal(r.status, 201, r.text);
      const ct = await mkType(r.json.id);
      const reg = await register(ct, `m-shortexp-${uniq()}`);
      const exp0 = reg.client_secret_expires_at;
      assert.ok(exp0 > Date.now() / 1000, reg.text);
      assert.deepEqual(reg.warnings, []);
      const q = await psql(`SELECT extract(epoch FROM run_at)::bigint, payload->>'scheduled' FROM jobs WHERE kind = 'rotate' AND payload->>'registration_id' = '${reg.id}' ORDER BY created_at LIMIT 1`);
      const [runAt, scheduled] = q.trim().split('|');
      assert.equal(scheduled, 'true', q);
      // 80 % of the 20 s left: 4 s before expiry (1 s of slack for rounding).
      assert.ok(Number(runAt) < exp0 && Number(runAt) >= exp0 - 5, `run_at ${runAt} before expiry ${exp0}`);
      const first = reg.client_secret;
      await waitFor(async () => (s2.clients.get(reg.client_id)?.rotations || 0) >= 1,
        { timeoutMs: 45000, intervalMs: 250, what: 'the scheduled rotation ran' });
      const after1 = await waitFor(async () => {
        const v = (await api('GET', `/v1/registrations/${reg.id}`)).json;
        return v.client_secret_expires_at > exp0 ? v : null;
      }, { timeoutMs: 10000, intervalMs: 200, what: 'the new expiry is stored' });
      assert.equal(after1.status, 'active');
      assert.notEqual(s2.clients.get(reg.client_id).client_secret, first, 'a new secret at the IdP');
      const next = await psql(`SELECT count(*) FROM jobs WHERE kind = 'rotate' AND state IN ('queued', 'running') AND payload->>'registration_id' = '${reg.id}'`);
      assert.equal(next.trim(), '1', 'the rotation result scheduled the next one');
      assert.equal((await api('DELETE', `/v1/registrations/${reg.id}`)).status, 204);
      // A scheduled rotation of a deleted registration finishes as nothing to do.
      await psql(`UPDATE jobs SET run_at = now() WHERE kind = 'rotate' AND state = 'queued' AND payload->>'registration_id' = '${reg.id}'`);
      await waitFor(async () => (await psql(`SELECT state FROM jobs WHERE kind = 'rotate' AND payload->>'registration_id' = '${reg.id}' ORDER BY created_at DESC LIMIT 1`)).trim() === 'done',
        { timeoutMs: 15000, intervalMs: 250, what: 'the orphan rotation job is done' });
    } finally {
      await s2.stop();
    }
  });

  test('no registration access token: update and rotate refused up front (409), the view says why', async () => {
    const ct = await mkType((await mkProvider()).id);
    const name = `m-norat-${uniq()}`;
    const r = await register(ct, name);
    assert.equal(r.idp_manageable, false);
    assert.deepEqual(codes(r), ['not_manageable']);
    const u = await api('PUT', `/v1/registrations/${r.id}`, { client_name: `${name}-renamed` });
    assert.equal(u.status, 409, u.text);
    assert.equal(u.json.error, 'not_manageable');
    assert.match(u.json.error_description || u.json.message || u.text, /registration access token/);
    assert.equal(s2name(stub, r.client_id), name, 'the IdP was not asked');
    const rot = await api('POST', `/v1/registrations/${r.id}/rotate-secret`);
    assert.equal(rot.status, 409, rot.text);
    const v = await api('GET', `/v1/registrations/${r.id}`);
    assert.equal(v.json.status, 'active');
  });

  test('a 401 from the configuration endpoint on PUT orphans the registration', async () => {
    const ct = await mkType((await mkProvider()).id);
    // A PUT the IdP takes: stored, and the new registration access token used next time.
    const fine = await register(ct, `put-${uniq()}`);
    let u = await api('PUT', `/v1/registrations/${fine.id}`, { client_name: `${fine.client_name}-2` });
    assert.equal(u.status, 200, u.text);
    assert.equal(stub.clients.get(fine.client_id).client_name, `${fine.client_name}-2`);
    assert.equal((await api('DELETE', `/v1/registrations/${fine.id}`)).status, 204, 'the rotated token works');
    const r = await register(ct, `m-put401-${uniq()}`);
    u = await api('PUT', `/v1/registrations/${r.id}`, { client_name: `${r.client_name}-2` });
    assert.equal(u.status, 409, u.text);
    assert.equal(u.json.error, 'registration_orphaned');
    assert.match(u.text, /orphaned/);
    const v = await api('GET', `/v1/registrations/${r.id}`);
    assert.equal(v.json.status, 'orphaned', v.text);
    assert.match(v.json.last_error, /401/);
  });

  test('a registration_client_uri on another origin is refused when the IdP answers: parked, never used', async () => {
    const ct = await mkType((await mkProvider()).id);
    const name = `m-foreignuri-${uniq()}`;
    const r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: name });
    assert.equal(r.status, 502, r.text);
    assert.match(r.text, /registration_client_uri|outcome/);
    const rows = (await api('GET', `/v1/registrations?provider_id=${ct.provider_id}`)).json.registrations;
    const row = rows.find((x) => x.client_name === name);
    assert.equal(row?.status, 'outcome_unknown', JSON.stringify(rows));
    assert.equal(stub.named(name).length, 1, 'the client exists at the IdP, for an admin to resolve');
    assert.equal((await api('POST', `/v1/registrations/${row.id}/resolve`, { action: 'gone' })).status, 200);
  });

  test('initial access token by client credentials: reused while it lives, a refused cached one retried once', async () => {
    const prov = await mkProvider({ initial_client_id: 'cc-client', initial_client_secret: 'cc-secret' });
    const ct = await mkType(prov.id);
    const f0 = stub.tokens.fetches;
    const m0 = await fetchesMetric();
    const a = await register(ct, `cc-${uniq()}`);
    const b = await register(ct, `cc-${uniq()}`);
    assert.equal(stub.tokens.fetches - f0, 1, 'one token for two registrations');
    assert.equal(await fetchesMetric() - m0, 1);
    // A provider change (the scope) is another cache key: a new token, with that scope.
    let p = await api('PATCH', `/v1/providers/${prov.id}`, { initial_token_scope: 'dcr' });
    assert.equal(p.status, 200, p.text);
    const c = await register(ct, `cc-${uniq()}`);
    assert.equal(stub.tokens.fetches - f0, 2);
    assert.equal([...stub.tokens.live.values()].at(-1).scope, 'dcr');
    // Single-use tokens (Glewlwyd's default): the cached one is refused, one retry.
    stub.tokens.singleUse = true;
    const r0 = stub.tokens.refused;
    const d = await register(ct, `cc-${uniq()}`);
    assert.equal(stub.tokens.refused - r0, 1);
    assert.equal(stub.tokens.fetches - f0, 3);
    // Learnt: from now on one fresh token per registration, no refusal.
    const e = await register(ct, `cc-${uniq()}`);
    assert.equal(stub.tokens.refused - r0, 1);
    assert.equal(stub.tokens.fetches - f0, 4);
    assert.equal(await fetchesMetric() - m0, 4);
    stub.tokens.singleUse = false;
    // Verify says what it learnt.
    p = await api('POST', `/v1/providers/${prov.id}/verify`);
    assert.equal(p.status, 200, p.text);
    const ch = Object.fromEntries(p.json.checks.map((x) => [x.name, x]));
    assert.equal(ch.initial_token?.ok, true, p.text);
    assert.match(ch.initial_token.detail, /scope asked: dcr, granted: dcr; expires in 3600 s/);
    assert.equal(ch.initial_client_credentials?.ok, true, p.text);
    assert.match(ch.registration_endpoint.detail, /HTTP 400/);
    const notes = Object.fromEntries(p.json.notes.map((x) => [x.name, x.detail]));
    assert.match(notes.initial_token_single_use || '', /single-use/);
    assert.match(notes.rfc7592_management || '', /first registration/);
    for (const r of [a, b, c, d, e]) assert.equal((await api('DELETE', `/v1/registrations/${r.id}`)).status, 204);
    // Wrong credentials: verify says so, with the scope asked.
    p = await api('PATCH', `/v1/providers/${prov.id}`, { initial_client_secret: 'wrong' });
    assert.equal(p.status, 200, p.text);
    p = await api('POST', `/v1/providers/${prov.id}/verify`);
    const bad = p.json.checks.find((x) => x.name === 'initial_token');
    assert.equal(bad?.ok, false, p.text);
    assert.match(bad.detail, /invalid_client.*scope asked: dcr/);
  });
});

const s2name = (stub, clientId) => stub.clients.get(clientId)?.client_name;

// What oidc-provider does with a client-credentials token as the initial
// access token: it takes only its configured initialAccessToken, so every
// registration is refused; the refused token is never reused (no cache hit,
// so no retry either): one token fetch and one refusal per attempt.
describe('oidc-provider and an initial access token by client credentials (issue 10)', { skip: noStack }, () => {
  test('refused each time, one fetch per attempt, verify says which step fails', async () => {
    const idp = await startIdp();
    try {
      const cc = await idp.register({
        client_name: `dcr-${uniq()}`, grant_types: ['client_credentials'], response_types: [],
        token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [],
      });
      assert.equal(cc.status, 201, JSON.stringify(cc.json));
      let r = await api('POST', '/v1/providers', {
        name: `op-cc-${uniq()}`, kind: 'other', well_known_url: idp.discoveryUrl, allow_insecure_http: true,
        initial_client_id: cc.json.client_id, initial_client_secret: cc.json.client_secret,
      });
      assert.equal(r.status, 201, r.text);
      const prov = r.json;
      r = await api('POST', `/v1/providers/${prov.id}/client-types`, {
        display_name: `cc-${uniq()}`, response_types: [], grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      });
      assert.equal(r.status, 201, r.text);
      const ct = r.json;
      idp.clearRequests();
      for (let i = 0; i < 2; i++) {
        r = await api('POST', '/v1/registrations', { client_type_id: ct.id, client_name: `op-${uniq()}` });
        assert.equal(r.status, 502, r.text);
        assert.equal(r.json.error, 'idp_rejected', r.text);
      }
      const count = (m, p) => idp.requests.filter((q) => q.method === m && q.path === p).length;
      assert.equal(count('POST', '/token'), 2, 'a refused token is not reused');
      assert.equal(count('POST', '/reg'), 2, 'no retry with a token that was fresh');
      r = await api('POST', `/v1/providers/${prov.id}/verify`);
      const ch = Object.fromEntries(r.json.checks.map((x) => [x.name, x]));
      assert.equal(ch.initial_token?.ok, true, r.text);
      assert.match(ch.initial_token.detail, /scope asked: none; expires in 600 s/);
      assert.equal(ch.initial_client_credentials?.ok, false, r.text);
      assert.match(ch.initial_client_credentials.detail, /refused the credentials/);
      assert.equal((await api('DELETE', `/v1/providers/${prov.id}`)).status, 204);
    } finally {
      await idp.stop();
    }
  });
});
