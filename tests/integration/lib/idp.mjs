// A real OpenID Provider (oidc-provider 9) on 127.0.0.1 for the integration
// tests, plus switches to make it misbehave (down, garbage, slow) and a log of
// what it was asked.  Everything it holds is in memory and dies with stop().
//
// Client-credentials tokens are JWT access tokens (RFC 9068) for the audience
// `audience`; each client picks its signing alg with the non-standard client
// metadata property `access_token_alg` (RS256 when omitted), because
// oidc-provider has no standard metadata for that.
import http from 'node:http';
import crypto from 'node:crypto';
import { once } from 'node:events';
import Provider, { errors } from 'oidc-provider';

export const DEFAULT_AUDIENCE = 'https://api.clearance.test';
export const DEFAULT_SCOPES = [
  'api:read', 'api:write', 'orders:read', 'orders:write', 'payments:read', 'payments:write',
];

// Models that must outlive a Provider object (key rotation builds a new one).
// Keyed per IdP instance, never module-global, so two IdPs in one test process
// stay independent.
function makeAdapterClass(store) {
  const live = (entry) => entry && (entry.exp === undefined || entry.exp > Date.now());
  return class SharedMemoryAdapter {
    constructor(name) { this.name = name; }
    key(id) { return `${this.name}:${id}`; }
    async upsert(id, payload, expiresIn) {
      const exp = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
      store.set(this.key(id), { payload: structuredClone(payload), exp });
      if (payload.grantId) {
        const g = `grant:${payload.grantId}`;
        const members = store.get(g)?.payload ?? [];
        members.push(this.key(id));
        store.set(g, { payload: members });
      }
      if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, exp });
      if (payload.uid) store.set(`uid:${this.name}:${payload.uid}`, { payload: id, exp });
    }
    async find(id) {
      const e = store.get(this.key(id));
      if (!live(e)) { store.delete(this.key(id)); return undefined; }
      return structuredClone(e.payload);
    }
    async findByUserCode(userCode) {
      const e = store.get(`userCode:${userCode}`);
      return live(e) ? this.find(e.payload) : undefined;
    }
    async findByUid(uid) {
      const e = store.get(`uid:${this.name}:${uid}`);
      return live(e) ? this.find(e.payload) : undefined;
    }
    async consume(id) {
      const e = store.get(this.key(id));
      if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id) { store.delete(this.key(id)); }
    async revokeByGrantId(grantId) {
      const g = `grant:${grantId}`;
      for (const k of store.get(g)?.payload ?? []) store.delete(k);
      store.delete(g);
    }
  };
}

let kidSeq = 0;
// One private JWK per alg, with `alg` pinned so RS256 and PS256 never share a
// key and the keystore's selectForSign picks exactly one.
export function generateSigningKeys(algs) {
  return algs.map((alg) => {
    let pair;
    if (alg.startsWith('RS') || alg.startsWith('PS')) {
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    } else if (alg === 'ES256') {
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    } else if (alg === 'ES384') {
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    } else if (alg === 'EdDSA' || alg === 'Ed25519') {
      pair = crypto.generateKeyPairSync('ed25519');
    } else {
      throw new Error(`startIdp: unsupported alg ${alg}`);
    }
    kidSeq += 1;
    const kid = `${alg.toLowerCase()}-${Date.now().toString(36)}-${kidSeq}-${crypto.randomBytes(3).toString('hex')}`;
    return { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  });
}

/**
 * Starts the IdP.  Resolves to an object:
 *   url                    issuer, "http://127.0.0.1:PORT" (no trailing slash)
 *   port, audience, scopes, initialAccessToken, algs
 *   discoveryUrl           url + "/.well-known/openid-configuration"
 *   requests               [{method, path, url, time, basic}] received (path without
 *                          query; basic: an "Authorization: Basic" header came)
 *   clearRequests()
 *   keys()                 the public JWKs currently published (new first)
 *   signRs256(header, claims) a JWT signed with the IdP's current RS256 key
 *                          (claims oidc-provider never issues, e.g. an array aud)
 *   rotateKeys({keep=true}) new keys for every alg, old ones kept (unless keep=false)
 *   down({mode='refuse'})  'refuse': close the port (connection refused);
 *                          '503': answer 503 JSON everywhere
 *   up()                   back to normal
 *   garbage(on=true)       200 text/plain non-JSON on every route
 *   slow(ms)               delay every answer by ms (0 = off)
 *   register(metadata, {token}) POST /reg -> {status, headers, json}
 *   token(clientId, clientSecret, scope) client-credentials grant -> JSON body
 *   tokenResponse(...)     same -> {status, headers, json}
 *   stop()
 */
export async function startIdp({
  port = 0,
  initialAccessToken = crypto.randomBytes(16).toString('hex'),
  algs = ['RS256', 'PS256', 'ES256'],
  scopes = DEFAULT_SCOPES,
  audience = DEFAULT_AUDIENCE,
  accessTokenTtl = 600,
} = {}) {
  const store = new Map();
  const Adapter = makeAdapterClass(store);
  let keys = generateSigningKeys(algs);
  const cookieKeys = [crypto.randomBytes(32).toString('hex')];
  const requests = [];
  let mode = 'up'; // 'up' | 'refuse' | '503'
  let garbageOn = false;
  let delayMs = 0;
  let issuer;
  let provider;
  let handler;

  function build() {
    const p = new Provider(issuer, {
      adapter: Adapter,
      jwks: { keys },
      cookies: { keys: cookieKeys },
      scopes: ['openid', 'offline_access', ...scopes],
      extraClientMetadata: {
        properties: ['access_token_alg'],
        validator(ctx, key, value) {
          if (key === 'access_token_alg' && value !== undefined && !algs.includes(value)) {
            throw new errors.InvalidClientMetadata(
              `access_token_alg must be one of ${algs.join(', ')}`,
            );
          }
        },
      },
      ttl: { ClientCredentials: accessTokenTtl },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true, initialAccessToken },
        registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: (ctx, resourceIndicator, client) => ({
            scope: scopes.join(' '),
            audience,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: client.access_token_alg || 'RS256' } },
          }),
        },
      },
    });
    // Errors the provider answers on purpose (401, 400...) are not test failures.
    p.on('server_error', (ctx, err) => { console.error('[idp] server_error', err); });
    handler = p.callback();
    return p;
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    // basic: whether the request carried HTTP Basic client authentication.
    requests.push({
      method: req.method, path: u.pathname, url: req.url, time: Date.now(),
      basic: /^basic /i.test(req.headers.authorization || ''),
    });
    const answer = () => {
      if (mode === '503') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"temporarily_unavailable"}');
      } else if (garbageOn) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('<html>this is not JSON</html>\n');
      } else {
        handler(req, res);
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs).unref(); else answer();
  });
  server.keepAliveTimeout = 1000;
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  async function listen(p) {
    server.listen(p, '127.0.0.1');
    await once(server, 'listening');
    return server.address().port;
  }
  async function close() {
    if (!server.listening) return;
    const closed = new Promise((resolve) => { server.close(() => resolve()); });
    for (const s of sockets) s.destroy();
    await closed;
  }

  const boundPort = await listen(port);
  issuer = `http://127.0.0.1:${boundPort}`;
  provider = build();

  const publicJwk = (k) => {
    const pub = crypto.createPublicKey({ key: k, format: 'jwk' }).export({ format: 'jwk' });
    return { ...pub, kid: k.kid, alg: k.alg, use: 'sig' };
  };

  async function tokenResponse(clientId, clientSecret, scope, extra = {}) {
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...extra });
    if (scope) form.set('scope', scope);
    // RFC 6749 2.3.1: id and secret are form-encoded before Basic.
    const basic = Buffer.from(
      `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`,
    ).toString('base64');
    const r = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
      signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, headers: r.headers, json, text };
  }

  return {
    url: issuer,
    port: boundPort,
    audience,
    scopes: [...scopes],
    algs: [...algs],
    initialAccessToken,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    requests,
    get provider() { return provider; },
    clearRequests() { requests.length = 0; },
    keys() { return keys.map(publicJwk); },
    signRs256(header, claims) {
      const jwk = keys.find((k) => k.alg === 'RS256');
      if (!jwk) throw new Error('signRs256: no RS256 key');
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${b64({ ...header, alg: 'RS256', kid: jwk.kid })}.${b64(claims)}`;
      const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
      return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    },
    rotateKeys({ keep = true } = {}) {
      const fresh = generateSigningKeys(algs);
      keys = keep ? [...fresh, ...keys] : fresh;
      provider = build();
      return fresh.map(publicJwk);
    },
    async down({ mode: how = 'refuse' } = {}) {
      if (how === 'refuse') { mode = 'refuse'; await close(); } else if (how === '503') {
        mode = '503';
      } else throw new Error(`idp.down: unknown mode ${how}`);
    },
    async up() {
      if (!server.listening) await listen(boundPort);
      mode = 'up';
      garbageOn = false;
    },
    garbage(on = true) { garbageOn = !!on; },
    slow(ms = 0) { delayMs = ms; },
    async register(metadata, { token = initialAccessToken } = {}) {
      const headers = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const r = await fetch(`${issuer}/reg`, {
        method: 'POST', headers, body: JSON.stringify(metadata), signal: AbortSignal.timeout(10000),
      });
      const text = await r.text();
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: r.status, headers: r.headers, json };
    },
    tokenResponse,
    async token(clientId, clientSecret, scope, extra) {
      const r = await tokenResponse(clientId, clientSecret, scope, extra);
      if (r.json === undefined) throw new Error(`idp.token: non-JSON answer ${r.status}`);
      return r.json;
    },
    async stop() { mode = 'refuse'; await close(); },
  };
}

/** Decodes a compact JWS without verifying it: {header, payload}. */
export function decodeJwt(token) {
  const [h, p] = String(token).split('.');
  if (!h || !p) throw new Error('not a compact JWS');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}
