// The shipped deploy/nginx/clearance.conf as the front line, run for real
// (its own nginx on loopback ports, in front of the test stack's services):
// no version in answers, health and metrics only on the internal listener,
// slow clients dropped within 10 s, and limit_req / limit_conn answering 429
// on sign-up, login, registration writes and introspection.  The test nginx
// of the other suites has no such zones (they sign up and log in in bursts).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { haveStack, freePort, waitFor, STACK_DIR } from './lib/api.mjs';

const noStack = haveStack() ? false : 'CLEARANCE_BASE_URL not set: run via make integration';
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

let dir;
let ngx;
let base;
let ops;
let port;

async function req(method, p, body, { url = base, headers = {} } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(`${url}${p}`, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15000),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

describe('shipped nginx (deploy/nginx/clearance.conf) at the edge', { skip: noStack }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-edge-'));
    port = await freePort();
    const opsPort = await freePort();
    const shipped = fs.readFileSync(path.join(ROOT, 'deploy/nginx/clearance.conf'), 'utf8');
    const conf = shipped.replace('listen 80;', `listen 127.0.0.1:${port};`)
      .replace('listen 127.0.0.1:9102;', `listen 127.0.0.1:${opsPort};`)
      .replaceAll('unix:/run/clearance/', `unix:${path.join(STACK_DIR, 'run')}/`)
      .replaceAll('/var/log/nginx/', `${dir}/`)
      .replace('root /usr/share/clearance/portal;', `root ${path.join(ROOT, 'services/portal')};`);
    assert.ok(!/listen 80;|\/run\/clearance\/|listen 127\.0\.0\.1:9102;/.test(conf), 'every host-specific path mapped');
    fs.writeFileSync(path.join(dir, 'clearance.conf'), conf);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root;\n' : ''}`
      + `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n`
      + `events { worker_connections 256; }\nhttp {\n  client_body_temp_path ${dir}/cb;\n  proxy_temp_path ${dir}/px;\n`
      + `  fastcgi_temp_path ${dir}/fc;\n  uwsgi_temp_path ${dir}/uw;\n  scgi_temp_path ${dir}/sc;\n`
      + `  include ${dir}/clearance.conf;\n}\n`);
    ngx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir, '-e', `${dir}/error.log`], { stdio: 'ignore' });
    base = `http://127.0.0.1:${port}`;
    ops = `http://127.0.0.1:${opsPort}`;
    await waitFor(async () => (await fetch(`${ops}/access/healthz`)).ok, { timeoutMs: 10000, what: 'shipped nginx' });
  });

  after(async () => {
    if (ngx) {
      ngx.kill('SIGTERM');
      await new Promise((r) => { ngx.once('exit', r); setTimeout(r, 3000); });
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('no version in the Server header', async () => {
    const r = await req('GET', '/no-such-page');
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('server'), 'nginx');
  });

  test('health, readiness and metrics only on the internal listener', async () => {
    for (const svc of ['registrar', 'introspect', 'access']) {
      for (const what of ['healthz', 'readyz', 'metrics']) {
        const pub = await req('GET', `/${svc}/${what}`);
        assert.equal(pub.status, 404, `public /${svc}/${what}`);
        assert.doesNotMatch(pub.text, /clearance_|"status"/);
        const inn = await req('GET', `/${svc}/${what}`, undefined, { url: ops });
        assert.equal(inn.status, 200, `internal /${svc}/${what}: ${inn.text}`);
      }
      const m = await req('GET', `/${svc}/metrics`, undefined, { url: ops });
      assert.match(m.text, new RegExp(`^clearance_build_info\\{service="${svc}"`, 'm'));
    }
    assert.equal((await req('POST', '/access/metrics', {}, { url: ops })).status, 403, 'GET only');
    assert.equal((await req('GET', '/v1/products', undefined, { url: ops })).status, 404, 'nothing else internal');
  });

  test('a client that never finishes its headers is dropped within the 10 s header timeout', async () => {
    const t0 = Date.now();
    const closedAfter = await new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /v1/products HTTP/1.1\r\nHost: x\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve(Date.now() - t0));
      setTimeout(() => { s.destroy(); reject(new Error('still open after 12.5 s')); }, 12500);
    });
    assert.ok(closedAfter < 12500, `closed after ${closedAfter} ms`);
  });

  // Requests one after another until the first 429; bounded.
  async function until429(method, p, body, max) {
    const seen = [];
    for (let i = 0; i < max; i++) {
      const r = await req(method, p, body);
      seen.push(r.status);
      if (r.status === 429) return { r, seen };
    }
    return { r: null, seen };
  }

  for (const [what, method, p, max] of [
    ['sign-up', 'POST', '/v1/developers', 30],
    ['login', 'POST', '/v1/sessions', 40],
    ['registration writes', 'POST', '/v1/registrations', 60],
    ['introspection', 'POST', '/v1/introspect', 400],
  ]) {
    test(`${what} (${method} ${p}) is rate-limited per address with a JSON 429`, async () => {
      const { r, seen } = await until429(method, p, {}, max);
      assert.ok(r, `no 429 in ${max} back-to-back calls: ${[...new Set(seen)]}`);
      assert.notEqual(seen[0], 429, 'the first calls pass');
      assert.ok(seen.length > 2, 'a burst is allowed before the limit');
      assert.equal(r.json?.error, 'rate_limited');
      assert.equal(r.headers.get('retry-after'), '10');
      // Other API routes are not limited by this zone.
      assert.notEqual((await req('GET', '/v1/catalogue')).status, 429);
    });
  }

  test('concurrent API requests per address are capped (limit_conn) with 429', async () => {
    const socks = [];
    const answers = [];
    try {
      for (let i = 0; i < 26; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.setEncoding('latin1');
        let got = '';
        s.on('data', (d) => { got += d; if (/^HTTP\/1\.1 \d{3}/.test(got)) answers.push(got.slice(9, 12)); });
        s.on('error', () => {});
        // Headers of a POST whose body never comes: held in flight by nginx.
        s.write('POST /v1/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
        socks.push(s);
      }
      await waitFor(() => answers.includes('429'), { timeoutMs: 8000, what: 'a 429 from limit_conn' });
      assert.ok(answers.filter((a) => a === '429').length <= 6, `at most the extra ones refused: ${answers}`);
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});
