// The registrar end to end: nginx -> clearance-registrar -> a real OpenID
// Provider (oidc-provider) on 127.0.0.1.  Each test makes its own providers
// (unique names) so the tests do not depend on each other's rows.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { startIdp, decodeJwt } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL } from './lib/api.mjs';

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
