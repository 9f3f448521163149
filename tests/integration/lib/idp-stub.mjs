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
//   slow          create, answer after slowMs (within the client's deadline)
//   bad_uri       answer 400 invalid_redirect_uri, create nothing
import http from 'node:http';
import crypto from 'node:crypto';

export async function startIdpStub({ lateMs = 13000, slowMs = 2500 } = {}) {
  const clients = new Map(); // client_id -> { client_name, rat }
  const hanging = new Set();
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
      switch (mode) {
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
        const c = create(meta);
        return json(res, 201, { client_id: c.client_id, client_secret: c.client_secret });
      }
      const bm = /^\/bridge\/([^/]+)(\/new-secret)?$/.exec(url.pathname);
      const c = bm && clients.get(bm[1]);
      if (!c) return json(res, 404, { error: 'not_found' });
      if (req.method === 'POST' && bm[2]) {
        c.client_secret = crypto.randomBytes(24).toString('base64url');
        return json(res, 200, { client_id: c.client_id, client_secret: c.client_secret });
      }
      if (req.method === 'DELETE' && !bm[2]) { clients.delete(c.client_id); res.writeHead(204); return res.end(); }
      return json(res, 405, { error: 'method' });
    }
    const rm = /^\/register\/([^/]+)$/.exec(url.pathname);
    if (rm) {
      const c = clients.get(rm[1]);
      const auth = req.headers.authorization || '';
      if (!c) return json(res, 404, { error: 'invalid_client' });
      if (auth !== `Bearer ${c.registration_access_token}`) return json(res, 401, { error: 'invalid_token' });
      if (req.method === 'GET') return json(res, 200, c);
      if (req.method === 'PUT') {
        let meta;
        try { meta = JSON.parse(await readBody(req)); } catch { return json(res, 400, { error: 'invalid_client_metadata' }); }
        const keep = ['client_id', 'client_secret', 'registration_access_token', 'registration_client_uri',
          'client_id_issued_at', 'client_secret_expires_at'];
        for (const k of Object.keys(c)) if (!keep.includes(k)) delete c[k];
        for (const [k, v] of Object.entries(meta)) if (!keep.includes(k)) c[k] = v;
        return json(res, 200, c);
      }
      if (req.method === 'DELETE') { clients.delete(c.client_id); res.writeHead(204); return res.end(); }
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
    /** Clients held whose client_name starts with prefix. */
    named: (prefix) => [...clients.values()].filter((c) => (c.client_name || '').startsWith(prefix)),
    async stop() {
      for (const r of hanging) r.destroy();
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    },
  };
}
