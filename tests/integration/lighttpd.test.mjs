// A smoke subset of the journey through lighttpd (mod_fastcgi) instead of
// nginx, against the same three live services the suite started: each
// service's health, the registrar's admin API, a developer's sign-up and
// login at access, and the documented gateway approach (lighttpd proxies
// /api/ to the nginx gateway, since it cannot ask introspect itself).
// lighttpd runs with tests/stack/lighttpd-test.conf.template, rendered here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, freePort, waitFor, haveStack, BASE_URL, STACK_DIR } from './lib/api.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TEMPLATE = path.join(ROOT, 'tests/stack/lighttpd-test.conf.template');
const haveLighttpd = spawnSync('lighttpd', ['-v'], { timeout: 5000 }).status === 0;
const skip = !haveStack() ? 'CLEARANCE_BASE_URL not set: run via make integration'
  : !haveLighttpd ? 'lighttpd is not installed (tests/stack/deps.sh installs it)' : false;

describe('lighttpd in front of the services', { skip }, () => {
  let proc;
  let base;
  let internal; // the health/metrics listener (127.0.0.1:9102 in deploy/lighttpd)
  let dir;
  let errLog;
  const lt = (method, p, body, opts = {}) => api(method, p, body, { ...opts, baseUrl: base });
  const lti = (method, p, body, opts = {}) => api(method, p, body, { ...opts, baseUrl: internal });

  before(async () => {
    dir = path.join(STACK_DIR || path.join(ROOT, 'build/stack'), 'lighttpd');
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(path.join(dir, 'empty'), { recursive: true });
    fs.mkdirSync(logs, { recursive: true });
    errLog = path.join(logs, 'lighttpd-error.log');
    const port = await freePort();
    let iport = await freePort();
    while (iport === port) iport = await freePort();
    const gw = new URL(BASE_URL);
    const conf = fs.readFileSync(TEMPLATE, 'utf8')
      .replaceAll('@PORT@', String(port))
      .replaceAll('@INTERNAL_PORT@', String(iport))
      .replaceAll('@PREFIX@', dir)
      .replaceAll('@RUN@', path.join(STACK_DIR || path.join(ROOT, 'build/stack'), 'run'))
      .replaceAll('@LOGDIR@', logs)
      .replaceAll('@GATEWAY_HOST@', gw.hostname)
      .replaceAll('@GATEWAY_PORT@', gw.port);
    assert.doesNotMatch(conf, /@[A-Z_]+@/, 'every placeholder is filled');
    const file = path.join(dir, 'lighttpd.conf');
    fs.writeFileSync(file, conf);
    const t = spawnSync('lighttpd', ['-tt', '-f', file], { encoding: 'utf8', timeout: 10000 });
    assert.equal(t.status, 0, `lighttpd -tt: ${t.stderr}${t.stdout}`);
    proc = spawn('lighttpd', ['-D', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.setEncoding('utf8');
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    base = `http://127.0.0.1:${port}`;
    internal = `http://127.0.0.1:${iport}`;
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`lighttpd exited ${proc.exitCode}: ${stderr}`);
      const r = await fetch(`${internal}/registrar/healthz`, { signal: AbortSignal.timeout(1000) });
      return r.status === 200;
    }, { timeoutMs: 10000, what: 'lighttpd serving' });
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((resolve) => { proc.once('exit', resolve); });
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
  });

  for (const svc of ['registrar', 'introspect', 'access']) {
    test(`${svc}: healthz, readyz and metrics through mod_fastcgi, on the internal listener only`, async () => {
      const h = await lti('GET', `/${svc}/healthz`, undefined, { token: null });
      assert.equal(h.status, 200, h.text);
      assert.ok(h.headers.get('x-request-id'), 'the service answered (X-Request-Id)');
      const r = await lti('GET', `/${svc}/readyz`, undefined, { token: null });
      assert.equal(r.status, 200, r.text);
      const m = await lti('GET', `/${svc}/metrics`, undefined, { token: null });
      assert.equal(m.status, 200);
      assert.match(m.text, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/m);
      // As with nginx: not on the public listener, GET only on the internal one.
      for (const what of ['healthz', 'readyz', 'metrics']) {
        const pub = await lt('GET', `/${svc}/${what}`, undefined, { token: null });
        assert.equal(pub.status, 404, `public /${svc}/${what}: ${pub.status}`);
        assert.doesNotMatch(pub.text, /clearance_|"status"/, 'no service answer on the public listener');
      }
      const post = await lti('POST', `/${svc}/metrics`, '{}', { token: null, headers: { 'content-type': 'application/json' } });
      assert.equal(post.status, 403, `POST on the internal listener: ${post.status}`);
    });
  }

  test('the internal listener serves nothing but health and metrics', async () => {
    for (const p of ['/v1/providers', '/v1/developers', '/api/x', '/registrar/healthz/x', '/metrics']) {
      const r = await lti('GET', p);
      assert.equal(r.status, 403, `${p} on the internal listener: ${r.status} ${r.text}`);
    }
  });

  test('registrar admin API: the admin token works, no token is a JSON 401', async () => {
    const anon = await lt('GET', '/v1/providers', undefined, { token: null });
    assert.equal(anon.status, 401, anon.text);
    assert.equal(typeof anon.json?.error, 'string');
    const ok = await lt('GET', '/v1/providers');
    assert.equal(ok.status, 200, ok.text);
    assert.ok(Array.isArray(ok.json?.providers), ok.text);
    const bad = await lt('POST', '/v1/providers', '{"name": ', {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(typeof bad.json?.error, 'string');
  });

  test('a body over server.max-request-size is refused by lighttpd', async () => {
    const r = await lt('POST', '/v1/providers', 'x'.repeat(1024 * 1024 + 10), {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 413);
  });

  test('access: a developer signs up, logs in, sees /v1/me and logs out', async () => {
    const email = `lt-${crypto.randomBytes(4).toString('hex')}@example.test`;
    const password = `lighttpd ${crypto.randomBytes(8).toString('hex')} smoke`;
    const s = await lt('POST', '/v1/developers', { email, password, name: 'Lighttpd Smoke' }, { token: null });
    assert.equal(s.status, 201, s.text);
    assert.equal(JSON.stringify(s.json).includes(password), false, 'the password is never echoed');
    const l = await lt('POST', '/v1/sessions', { email, password }, { token: null });
    assert.equal(l.status, 201, l.text);
    assert.equal(typeof l.json?.token, 'string', l.text);
    const me = await lt('GET', '/v1/me', undefined, { token: l.json.token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json?.email, email);
    const wrong = await lt('POST', '/v1/sessions', { email, password: `${password}x` }, { token: null });
    assert.equal(wrong.status, 401, wrong.text);
    const out = await lt('DELETE', '/v1/sessions/current', undefined, { token: l.json.token });
    assert.equal(out.status, 204, out.text);
    const after = await lt('GET', '/v1/me', undefined, { token: l.json.token });
    assert.equal(after.status, 401, 'the session ended');
  });

  test('a path outside the API is a 404 and /auth is not reachable', async () => {
    assert.equal((await lt('GET', '/definitely/not/here', undefined, { token: null })).status, 404);
    assert.equal((await lt('GET', '/auth', undefined, { token: null })).status, 404);
  });

  test('/api/ goes through the nginx gateway: no token, no data', async () => {
    const anon = await lt('GET', '/api/hello.json', undefined, { token: null });
    assert.notEqual(anon.status, 200);
    assert.ok([401, 503].includes(anon.status), `got ${anon.status} ${anon.text}`);
    assert.doesNotMatch(anon.text, /"resource":"hello"/);
  });

  test('the access log holds neither the Authorization header nor the query', async () => {
    await lt('GET', '/v1/providers?secret-looking=query-value');
    const logFile = path.join(dir, 'logs', 'lighttpd-access.log');
    // lighttpd writes the access log asynchronously.
    const text = await waitFor(() => {
      const t = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return t.includes('/v1/providers') ? t : '';
    }, { timeoutMs: 5000, what: 'access log line' });
    assert.doesNotMatch(text, /query-value/);
    if (process.env.CLEARANCE_ADMIN_TOKEN) {
      assert.equal(text.includes(process.env.CLEARANCE_ADMIN_TOKEN), false);
    }
    assert.equal(fs.existsSync(errLog), true);
  });
});
