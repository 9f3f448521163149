// Proves the test stack is real: nginx routes to the three live services,
// the local OpenID Provider issues verifiable JWT access tokens and can be
// made to fail on demand, and the SMTP catcher catches mail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startIdp, decodeJwt } from './lib/idp.mjs';
import { startSmtp, sendRawMail } from './lib/smtp.mjs';
import { api, freePort, haveStack, BASE_URL } from './lib/api.mjs';

const noStack = haveStack() ? false : 'CLEARANCE_BASE_URL not set: run via make integration';

function verifyJws(token, jwk) {
  const [h, p, s] = token.split('.');
  const { alg } = decodeJwt(token).header;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  if (alg === 'RS256') return crypto.verify('sha256', data, key, sig);
  if (alg === 'PS256') {
    return crypto.verify('sha256', data, {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
    }, sig);
  }
  if (alg === 'ES256') return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  throw new Error(`unexpected alg ${alg}`);
}

describe('nginx in front of the services', { skip: noStack }, () => {
  for (const svc of ['registrar', 'introspect', 'access']) {
    test(`${svc}: healthz, readyz, metrics through nginx`, async () => {
      const h = await api('GET', `/${svc}/healthz`, undefined, { token: null });
      assert.equal(h.status, 200, `healthz ${h.text}`);
      assert.ok(h.headers.get('x-request-id'), 'every answer carries X-Request-Id');
      const r = await api('GET', `/${svc}/readyz`, undefined, { token: null });
      assert.equal(r.status, 200, `readyz (database is up) ${r.text}`);
      const m = await api('GET', `/${svc}/metrics`, undefined, { token: null });
      assert.equal(m.status, 200);
      assert.match(m.headers.get('content-type') || '', /^text\/plain/);
      // Prometheus text format: at least one sample line "name{labels} value".
      assert.match(m.text, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/m);
    });
  }

  test('unknown route under /v1 is a JSON 404 from the service', async () => {
    const r = await api('GET', '/v1/no-such-route-here', undefined, { token: null });
    assert.equal(r.status, 404);
    assert.equal(typeof r.json?.error, 'string', r.text);
  });

  test('path outside the API is a JSON 404 from nginx', async () => {
    const r = await api('GET', '/definitely/not/here', undefined, { token: null });
    assert.equal(r.status, 404);
    assert.equal(r.json?.error, 'not_found');
  });

  test('the registrar refuses an anonymous admin call with a JSON 401', async () => {
    const r = await api('GET', '/v1/providers', undefined, { token: null });
    assert.equal(r.status, 401, r.text);
    assert.equal(typeof r.json?.error, 'string');
    const ok = await api('GET', '/v1/providers');
    assert.equal(ok.status, 200, `admin token from clearance-ctl works: ${ok.text}`);
  });

  test('a body over client_max_body_size is refused by nginx', async () => {
    const r = await api('POST', '/v1/providers', 'x'.repeat(1024 * 1024 + 10), {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 413);
  });

  test('the gateway never serves a protected file without a valid token', async () => {
    const anon = await api('GET', '/api/hello.json', undefined, { token: null });
    assert.notEqual(anon.status, 200);
    assert.equal(anon.status, 401);
    const bad = await api('GET', '/api/hello.json', undefined, { token: 'not-a-jwt' });
    assert.notEqual(bad.status, 200);
  });

  test('the gateway answers 401 (introspect /auth wired)', async () => {
    const anon = await api('GET', '/api/hello.json', undefined, { token: null });
    assert.equal(anon.status, 401);
  });
});

describe('local OpenID Provider (oidc-provider)', () => {
  let idp;
  before(async () => { idp = await startIdp({ initialAccessToken: 'iat-stack-test' }); });
  after(async () => { await idp?.stop(); });

  const register = (meta = {}) => fetch(`${idp.url}/reg`, {
    method: 'POST',
    headers: { authorization: 'Bearer iat-stack-test', 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api:read orders:read',
      ...meta,
    }),
  });

  test('serves discovery on 127.0.0.1 with the endpoints we use', async () => {
    assert.match(idp.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(idp.discoveryUrl);
    assert.equal(r.status, 200);
    const d = await r.json();
    assert.equal(d.issuer, idp.url);
    assert.equal(d.registration_endpoint, `${idp.url}/reg`);
    assert.equal(d.token_endpoint, `${idp.url}/token`);
    assert.equal(d.jwks_uri, `${idp.url}/jwks`);
    assert.ok(d.grant_types_supported.includes('client_credentials'));
  });

  test('registration needs the initial access token', async () => {
    const r = await fetch(`${idp.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], response_types: [] }),
    });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'invalid_token');
  });

  for (const alg of ['RS256', 'PS256', 'ES256']) {
    test(`${alg} client gets a verifiable JWT access token`, async () => {
      const r = await register({ access_token_alg: alg });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const c = await r.json();
      assert.ok(c.client_id && c.client_secret && c.registration_access_token);
      const t = await idp.token(c.client_id, c.client_secret, 'api:read');
      assert.equal(t.token_type, 'Bearer');
      const { header, payload } = decodeJwt(t.access_token);
      assert.equal(header.alg, alg);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(payload.client_id, c.client_id);
      assert.equal(payload.iss, idp.url);
      assert.equal(payload.aud, idp.audience);
      assert.equal(payload.scope, 'api:read');
      const jwks = await (await fetch(`${idp.url}/jwks`)).json();
      const key = jwks.keys.find((k) => k.kid === header.kid);
      assert.ok(key, 'kid is published in the JWKS');
      assert.equal(verifyJws(t.access_token, key), true);
      // And a flipped bit fails: the check above can fail.
      const bad = `${t.access_token.slice(0, -4)}${t.access_token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      assert.equal(verifyJws(bad, key), false);
    });
  }

  test('a wrong secret and an unknown alg are refused', async () => {
    const c = await (await register()).json();
    const t = await idp.tokenResponse(c.client_id, 'wrong', 'api:read');
    assert.equal(t.status, 401);
    assert.equal(t.json.error, 'invalid_client');
    const r = await register({ access_token_alg: 'HS256' });
    assert.equal(r.status, 400);
  });

  test('key rotation keeps clients and changes the kid', async () => {
    const c = await (await register()).json();
    const before1 = decodeJwt((await idp.token(c.client_id, c.client_secret, 'api:read')).access_token);
    const fresh = idp.rotateKeys();
    const after1 = decodeJwt((await idp.token(c.client_id, c.client_secret, 'api:read')).access_token);
    assert.notEqual(after1.header.kid, before1.header.kid);
    assert.equal(after1.header.kid, fresh.find((k) => k.alg === 'RS256').kid);
    const kids = (await (await fetch(`${idp.url}/jwks`)).json()).keys.map((k) => k.kid);
    assert.ok(kids.includes(before1.header.kid), 'old key still published');
    assert.equal(kids[0], after1.header.kid, 'new keys first');
    // RFC 7592 read still works with the registration access token.
    const g = await fetch(c.registration_client_uri, {
      headers: { authorization: `Bearer ${c.registration_access_token}` },
    });
    assert.equal(g.status, 200);
  });

  test('down() refuses connections, 503 mode and garbage mode misbehave, up() recovers', async () => {
    await idp.down();
    await assert.rejects(fetch(idp.discoveryUrl, { signal: AbortSignal.timeout(3000) }));
    await idp.up();
    assert.equal((await fetch(idp.discoveryUrl)).status, 200);
    await idp.down({ mode: '503' });
    assert.equal((await fetch(idp.discoveryUrl)).status, 503);
    await idp.up();
    idp.garbage(true);
    const g = await fetch(`${idp.url}/jwks`);
    assert.equal(g.status, 200);
    await assert.rejects(g.json());
    idp.garbage(false);
    assert.equal((await fetch(`${idp.url}/jwks`)).status, 200);
  });

  test('requests are logged (method and path)', async () => {
    idp.clearRequests();
    await fetch(`${idp.url}/jwks?x=1`);
    assert.deepEqual(idp.requests.map((r) => `${r.method} ${r.path}`), ['GET /jwks']);
    assert.equal(idp.requests.some((r) => r.path === '/never-fetched'), false);
  });
});

describe('SMTP catcher', () => {
  test('receives a message and waitFor finds it; waitFor times out otherwise', async () => {
    const smtp = await startSmtp();
    try {
      assert.match(smtp.url, /^smtp:\/\/127\.0\.0\.1:\d+$/);
      const waiting = smtp.waitFor((m) => m.to.includes('dev@example.test'), 5000);
      await sendRawMail({
        port: smtp.port,
        from: 'clearance@example.test',
        to: 'dev@example.test',
        data: 'Subject: hello\n\nYour credentials are ready.\n.starts with a dot\n',
      });
      const m = await waiting;
      assert.equal(m.from, 'clearance@example.test');
      assert.match(m.raw, /Subject: hello/);
      assert.match(m.raw, /\r\n\.starts with a dot/);
      await assert.rejects(smtp.waitFor((x) => x.to.includes('nobody@example.test'), 200), /no matching/);
    } finally {
      await smtp.stop();
    }
  });
});

test('freePort gives a port that can be bound on 127.0.0.1', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  const srv = net.createServer();
  await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(port, '127.0.0.1', resolve); });
  await new Promise((resolve) => { srv.close(resolve); });
});

test('BASE_URL, when set, is loopback', { skip: noStack }, () => {
  assert.match(BASE_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
});
