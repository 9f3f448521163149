// Proves the Glewlwyd harness (tests/integration/lib/glewlwyd.mjs): a real
// Glewlwyd 2.7 on loopback, beside oidc-provider, that the registrar's
// tests can register clients at.  Raw HTTP here, no Clearance involved:
// discovery, the initial access token (client credentials), an RFC 7591
// registration, a token for the registered client, RFC 7592 management, and
// that the protections are really on (no token, a used token, a bad secret).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startGlewlwyd, haveGlewlwyd, REGISTRATION_SCOPE } from './lib/glewlwyd.mjs';

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
