// An RFC 7591/7592 identity provider stub with fault modes, for the fault
// tests (issue 13).  The mode of a registration is picked by the prefix of
// its client_name ("m-<mode>-..."), so one stub serves many concurrent
// intents with different faults.  It counts the clients it holds.
//
// Modes:
//   ok            create, answer 201
//   500           answer 500, create nothing
//   hang          accept, never answer, create nothing
//   drip          create, then drip the answer one byte a second
//   reset         destroy the connection at once, create nothing
//   garbage       answer 200 with a non-JSON body, create nothing
//   huge          answer 200 with a 2 MB body, create nothing
//   create_break  create, then destroy the connection without an answer
//   late          create, answer after lateMs (beyond the client's deadline)
//   noexp         create, answer without client_secret_expires_at
//   shortexp      create with a secret that expires in expSeconds
//   norat         create, answer without registration_access_token and
//                 registration_client_uri (not manageable by RFC 7592)
//   foreignuri    create, answer a registration_client_uri on another origin
//   put401        create; RFC 7592 PUT on it answers 401 invalid_token
//   slow          create, answer after slowMs (within the client's deadline)
//   bad_uri       answer 400 invalid_redirect_uri, create nothing
// RFC 7592 GET/PUT/DELETE on /register/<id> with the registration access
// token (PUT replaces the metadata and rotates that token).
// /token: client credentials (Basic cc-client:cc-secret) -> a "cc-" bearer
// that /register then requires when sent (tokens.singleUse: once each);
// tokens.fetches counts the tokens issued.
// The bridge (/bridge/) with client_name "m-shortexp-..." issues secrets
// that expire in expSeconds, also on new-secret.
//
// It also plays the parts of Glewlwyd 2.7 that reconciling uses (issue 13),
// as Glewlwyd documents them (docs/API.md): a discovery document at
// /api/oidc/.well-known/openid-configuration (issuer <base>/api/oidc), a
// client-credentials token endpoint for initial access tokens, and the admin
// API's client list GET /api/client/?offset&limit and DELETE
// /api/client/{client_id} with "Authorization: token <adminKey>".  Like
// Glewlwyd it keeps a registration's "description" and lists it, and a
// deleted client is only disabled.
import http from 'node:http';
import crypto from 'node:crypto';

export async function startIdpStub({ lateMs = 13000, slowMs = 2500, expSeconds = 3600, adminKey = 'stub-admin-key-0123456789abcdef' } = {}) {
  const clients = new Map(); // client_id -> { client_name, rat }
  const tokens = { live: new Map(), singleUse: false, fetches: 0, refused: 0, expiresIn: 3600 };
  const hanging = new Set();
  const adminCalls = []; // "METHOD /api/client/..." in order, for assertions
  let base = '';
  // The JWKS: public JWKs served at /jwks; jwksHang makes /jwks never answer.
  const jwks = { keys: [], hang: false, fetches: 0 };

  const create = (meta) => {
    const id = `stub-${crypto.randomUUID()}`;
    const c = {
      client_id: id,
      client_secret: crypto.randomBytes(24).toString('base64url'),
      registration_access_token: crypto.randomBytes(24).toString('base64url'),
      registration_client_uri: `${base}/register/${id}`,
      client_id_issued_at: Math.floor(Date.now() / 1000),
      client_secret_expires_at: 0,
      ...meta,
    };
    clients.set(id, c);
    return c;
  };
  const json = (res, status, o) => {
    const b = JSON.stringify(o);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
    res.end(b);
  };
  const readBody = (req) => new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });

  const srv = http.createServer(async (req, res) => {
    const url = new URL(req.url, base);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: base,
        registration_endpoint: `${base}/register`,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/jwks`,
        response_types_supported: ['code'],
        grant_types_supported: ['client_credentials', 'authorization_code'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: ['openid', 'api:read'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/api/oidc/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: `${base}/api/oidc`,
        registration_endpoint: `${base}/register`,
        token_endpoint: `${base}/api/oidc/token`,
        jwks_uri: `${base}/jwks`,
        response_types_supported: ['code'],
        grant_types_supported: ['client_credentials', 'authorization_code'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: ['openid', 'api:read'],
      });
    }
    // Glewlwyd's part: any client credentials get an initial access token.
    if (req.method === 'POST' && url.pathname === '/api/oidc/token') {
      await readBody(req);
      return json(res, 200, { access_token: crypto.randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 3600 });
    }
    if (url.pathname.startsWith('/api/client/')) {
      adminCalls.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.headers.authorization !== `token ${adminKey}`) return json(res, 401, { error: 'unauthorized' });
      if (req.method === 'GET' && url.pathname === '/api/client/') {
        const offset = Number(url.searchParams.get('offset') || 0);
        const limit = Number(url.searchParams.get('limit') || 100);
        const all = [...clients.values()].map((c) => ({
          client_id: c.client_id, name: c.client_name, description: c.description,
          enabled: !c.disabled, confidential: true, scope: [], client_secret: c.client_secret,
        }));
        return json(res, 200, all.slice(offset, offset + limit));
      }
      const cm = /^\/api\/client\/([^/]+)$/.exec(url.pathname);
      const c = cm && clients.get(decodeURIComponent(cm[1]));
      if (req.method === 'DELETE' && c && !c.disabled) { c.disabled = true; return json(res, 200, {}); }
      return json(res, 404, { error: 'not_found' });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') {
      jwks.fetches++;
      if (jwks.hang) { hanging.add(res); res.on('close', () => hanging.delete(res)); return undefined; }
      return json(res, 200, { keys: jwks.keys });
    }
    if (req.method === 'POST' && url.pathname === '/register') {
      const body = await readBody(req);
      let meta;
      try { meta = JSON.parse(body); } catch { return json(res, 400, { error: 'invalid_client_metadata' }); }
      const m = /^m-([a-z0-9_]+)-/.exec(meta.client_name || '');
      const mode = m ? m[1] : 'ok';
      // RFC 6749 s.3.1.2: no fragment (what verify's probe sends, expecting 400).
      if (Array.isArray(meta.redirect_uris) && meta.redirect_uris.some((u) => String(u).includes('#'))) {
        return json(res, 400, { error: 'invalid_redirect_uri', error_description: 'fragment' });
      }
      const bearer = /^Bearer (cc-.+)$/.exec(req.headers.authorization || '');
      if (bearer) {
        const t = tokens.live.get(bearer[1]);
        if (!t || t.exp < Date.now() || (tokens.singleUse && t.used)) {
          tokens.refused++;
          return json(res, 401, { error: 'invalid_token', error_description: 'unknown, expired or used token' });
        }
        t.used = true;
      }
      const now = Math.floor(Date.now() / 1000);
      switch (mode) {
        case 'noexp': {
          const c = create(meta);
          const { client_secret_expires_at: _drop, ...rest } = c;
          return json(res, 201, rest);
        }
        case 'shortexp': return json(res, 201, create({ ...meta, client_secret_expires_at: now + expSeconds }));
        case 'norat': {
          const c = create(meta);
          const { registration_access_token: _a, registration_client_uri: _b, ...rest } = c;
          return json(res, 201, rest);
        }
        case 'foreignuri': {
          const c = create(meta);
          return json(res, 201, { ...c, registration_client_uri: `https://elsewhere.invalid/register/${c.client_id}` });
        }
        case '500': return json(res, 500, { error: 'server_error', error_description: 'stub fault' });
        case 'bad_uri':
          return json(res, 400, { error: 'invalid_redirect_uri', error_description: 'stub refuses the URIs' });
        case 'hang': hanging.add(res); res.on('close', () => hanging.delete(res)); return undefined;
        case 'reset': return req.socket.destroy();
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('<html>not json');
        case 'huge': {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(`{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
        }
        case 'create_break': create(meta); return req.socket.destroy();
        case 'drip': {
          const b = JSON.stringify(create(meta));
          res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
          let i = 0;
          const t = setInterval(() => {
            if (i >= b.length || res.destroyed) { clearInterval(t); res.end(); return; }
            res.write(b[i++]);
          }, 1000);
          res.on('close', () => clearInterval(t));
          return undefined;
        }
        case 'slow': {
          const c = create(meta);
          const t = setTimeout(() => json(res, 201, c), slowMs);
          res.on('close', () => clearTimeout(t));
          return undefined;
        }
        case 'late': {
          const c = create(meta);
          const t = setTimeout(() => json(res, 201, c), lateMs);
          res.on('close', () => clearTimeout(t));
          return undefined;
        }
        default: return json(res, 201, create(meta));
      }
    }
    // Kong's HTTP DCR bridge contract (kind http_bridge), mode ok only.
    if (url.pathname.startsWith('/bridge/')) {
      if (req.headers['x-api-key'] !== 'bridge-key') return json(res, 401, { error: 'unauthorized' });
      const body = await readBody(req);
      if (req.method === 'POST' && url.pathname === '/bridge/') {
        let meta;
        try { meta = JSON.parse(body); } catch { return json(res, 400, { error: 'bad json' }); }
        const short = /^m-shortexp-/.test(meta.client_name || '');
        const c = create({ ...meta, short });
        const exp = short ? { client_secret_expires_at: Math.floor(Date.now() / 1000) + expSeconds } : {};
        return json(res, 201, { client_id: c.client_id, client_secret: c.client_secret, ...exp });
      }
      const bm = /^\/bridge\/([^/]+)(\/new-secret)?$/.exec(url.pathname);
      const c = bm && clients.get(bm[1]);
      if (!c) return json(res, 404, { error: 'not_found' });
      if (req.method === 'POST' && bm[2]) {
        c.client_secret = crypto.randomBytes(24).toString('base64url');
        c.rotations = (c.rotations || 0) + 1;
        const exp = c.short ? { client_secret_expires_at: Math.floor(Date.now() / 1000) + expSeconds } : {};
        return json(res, 200, { client_id: c.client_id, client_secret: c.client_secret, ...exp });
      }
      if (req.method === 'DELETE' && !bm[2]) { clients.delete(c.client_id); res.writeHead(204); return res.end(); }
      return json(res, 405, { error: 'method' });
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const body = new URLSearchParams(await readBody(req));
      const want = `Basic ${Buffer.from('cc-client:cc-secret').toString('base64')}`;
      if (body.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
      if (req.headers.authorization !== want) return json(res, 401, { error: 'invalid_client' });
      tokens.fetches++;
      const t = `cc-${crypto.randomBytes(12).toString('hex')}`;
      tokens.live.set(t, { exp: Date.now() + tokens.expiresIn * 1000, used: false, scope: body.get('scope') });
      return json(res, 200, { access_token: t, token_type: 'Bearer', expires_in: tokens.expiresIn, scope: body.get('scope') || undefined });
    }
    const rm = /^\/register\/([^/]+)$/.exec(url.pathname);
    if (rm) {
      const c = clients.get(rm[1]);
      const auth = req.headers.authorization || '';
      if (!c) return json(res, 404, { error: 'invalid_client' });
      if (auth !== `Bearer ${c.registration_access_token}`) return json(res, 401, { error: 'invalid_token' });
      if (req.method === 'GET') return json(res, 200, c);
      if (req.method === 'DELETE') { clients.delete(c.client_id); res.writeHead(204); return res.end(); }
      if (req.method === 'PUT') {
        if (/^m-put401-/.test(c.client_name || '')) return json(res, 401, { error: 'invalid_token' });
        let meta;
        try { meta = JSON.parse(await readBody(req)); } catch { return json(res, 400, { error: 'invalid_client_metadata' }); }
        // RFC 7592 s.2.2: the metadata is replaced as a whole; the token is rotated.
        const keep = ['client_id', 'client_secret', 'registration_access_token', 'registration_client_uri',
          'client_id_issued_at', 'client_secret_expires_at', 'short', 'rotations', 'disabled', 'description'];
        for (const k of Object.keys(c)) if (!keep.includes(k)) delete c[k];
        for (const [k, v] of Object.entries(meta)) if (!keep.includes(k)) c[k] = v;
        c.registration_access_token = crypto.randomBytes(24).toString('base64url');
        return json(res, 200, c);
      }
    }
    return json(res, 404, { error: 'not_found' });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${srv.address().port}`;
  return {
    base,
    discoveryUrl: `${base}/.well-known/openid-configuration`,
    clients,
    jwks,
    tokens,
    /** Clients held whose client_name starts with prefix (Glewlwyd-disabled ones excluded). */
    named: (prefix) => [...clients.values()].filter((c) => !c.disabled && (c.client_name || '').startsWith(prefix)),
    /** Creates a client directly, as if a lost answer or an admin had made it. */
    addClient: (meta) => create(meta),
    adminKey,
    adminCalls,
    oidcDiscoveryUrl: `${base}/api/oidc/.well-known/openid-configuration`,
    async stop() {
      for (const r of hanging) r.destroy();
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    },
  };
}
