// Rate limits and monthly quotas across three copies of
// clearance-introspect (issue 8): the stack's copy behind nginx and two
// more started here, asked in turn (round robin, as an nginx upstream with
// three servers would).  The copies lease blocks from one counter in
// PostgreSQL (services/introspect/limits.h), so together they admit the
// plan's figure, not three times it; the quota survives restarts and the
// admin API shows it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { startIdp, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';
import { fcgiRequest } from './lib/fcgi.mjs';

const BIN_DIR = process.env.CLEARANCE_BIN_DIR || '';
const noStack = haveStack() && DATABASE_URL && STACK_DIR && BIN_DIR
  ? false : 'CLEARANCE_BASE_URL/DATABASE_URL/STACK_DIR/BIN_DIR not set: run via make integration';

const SFX = crypto.randomBytes(4).toString('hex');
const SCOPES = [...DEFAULT_SCOPES, 'plan:rl', 'plan:quota'];
const BASE = `/api/lim${SFX}/orders`;
const FILE = `${BASE}/item.json`;
const RATE = 30; // per hour
const QUOTA = 40; // per month

function sql(text, vars = {}) {
  const args = [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

describe('gateway: limits shared by three copies', { skip: noStack }, () => {
  let idp;
  let providerId;
  const copies = []; // {proc, sock}
  const clients = {};

  async function startCopy(sock) {
    const log = fs.openSync(path.join(STACK_DIR, `introspect-lim-${SFX}.log`), 'a');
    const proc = spawn(path.join(BIN_DIR, 'clearance-introspect'), [], {
      env: { ...process.env, CLEARANCE_LISTEN: `unix:${sock}`, CLEARANCE_THREADS: '2' },
      stdio: ['ignore', log, log],
    });
    await waitFor(() => fs.existsSync(sock), { timeoutMs: 10000, what: 'copy socket' });
    await waitFor(async () => (await fcgiRequest(sock, { path: '/readyz' })).status === 200,
      { timeoutMs: 10000, what: 'copy ready' });
    return proc;
  }

  async function stopCopy(c) {
    if (c.proc && c.proc.exitCode === null) {
      c.proc.kill('SIGTERM');
      await new Promise((res) => { c.proc.once('exit', res); setTimeout(res, 5000); });
    }
    fs.rmSync(c.sock, { force: true });
  }

  // Request i goes to copy i % 3: 0 is nginx (the stack's copy).
  async function call(i, tok) {
    if (i % 3 === 0) {
      const r = await api('GET', FILE, undefined, { token: null, headers: { authorization: `Bearer ${tok}` } });
      return { allowed: r.status === 200, limited: r.status === 429, status: r.status, h: (n) => r.headers.get(n) };
    }
    const r = await fcgiRequest(copies[(i % 3) - 1].sock, {
      path: '/auth', headers: { authorization: `Bearer ${tok}`, 'x-original-uri': FILE },
    });
    return {
      allowed: r.status === 204,
      limited: r.status === 403 && r.headers['x-clearance-deny'] === '429',
      status: r.status,
      h: (n) => r.headers[n] ?? null,
    };
  }

  async function client(name, plan) {
    const r = await idp.register({
      grant_types: ['client_credentials'], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: `orders:read plan:${plan}`,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    sql(`BEGIN;
         WITH reg AS (INSERT INTO registrations (provider_id, client_name, status, client_id)
                      VALUES (:'p'::uuid, :'n', 'active', :'c') RETURNING id)
         INSERT INTO registration_grants (registration_id, product_id, plan_id)
         SELECT reg.id, pr.id, pl.id FROM reg, products pr, plans pl WHERE pr.name = :'pn' AND pl.name = :'pl';
         COMMIT;`,
    { p: providerId, n: `lim-${name}-${SFX}`, c: r.json.client_id, pn: `lim-orders-${SFX}`, pl: `lim-${plan}-${SFX}` });
    clients[name] = { client_id: r.json.client_id, client_secret: r.json.client_secret, scope: `orders:read plan:${plan}` };
  }

  const tokenOf = async (c) => (await idp.token(c.client_id, c.client_secret, c.scope)).access_token;

  before(async () => {
    idp = await startIdp({ scopes: SCOPES });
    const p = await api('POST', '/v1/providers', {
      name: `lim-${SFX}`, kind: 'other', well_known_url: idp.discoveryUrl,
      allow_insecure_http: true, audience: idp.audience,
    });
    assert.equal(p.status, 201, `provider: ${p.text}`);
    providerId = p.json.id;
    sql(`
      WITH pr AS (INSERT INTO products (name, path_prefixes, scopes)
                  VALUES (:'pname', ARRAY[:'pfx'], 'orders:read') RETURNING id),
           rl AS (INSERT INTO plans (name, scopes, rate_limit_requests, rate_limit_window_seconds)
                  VALUES (:'rl', 'plan:rl', :'rate', 3600) RETURNING id),
           q AS (INSERT INTO plans (name, scopes, monthly_quota) VALUES (:'q', 'plan:quota', :'quota') RETURNING id)
      INSERT INTO product_plans (product_id, plan_id)
        SELECT pr.id, rl.id FROM pr, rl UNION ALL SELECT pr.id, q.id FROM pr, q;
    `, { pname: `lim-orders-${SFX}`, pfx: BASE, rl: `lim-rl-${SFX}`, q: `lim-quota-${SFX}`, rate: RATE, quota: QUOTA });
    fs.mkdirSync(path.join(STACK_DIR, 'www', BASE), { recursive: true });
    fs.writeFileSync(path.join(STACK_DIR, 'www', FILE), '{"item":1}\n');
    await client('rl', 'rl');
    await client('quota', 'quota');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-lim-'));
    for (let i = 0; i < 2; i += 1) {
      const sock = path.join(dir, `introspect${i + 2}.sock`);
      copies.push({ sock, proc: await startCopy(sock) });
    }
  });

  after(async () => {
    for (const c of copies) await stopCopy(c);
    await idp?.stop();
    try {
      sql(`DELETE FROM products WHERE name LIKE :'p'; DELETE FROM plans WHERE name LIKE :'p';`, { p: `lim-%-${SFX}` });
    } catch { /* best effort */ }
  });

  test(`rate limit: ${RATE} per hour over three copies admits ${RATE} to ${RATE * 1.1} in total`, async () => {
    // Fixed windows aligned to the hour: keep clear of a boundary.
    const intoHour = (Date.now() / 1000) % 3600;
    if (intoHour > 3600 - 30) await new Promise((res) => { setTimeout(res, (3600 - intoHour + 1) * 1000); });
    const tok = await tokenOf(clients.rl);
    await waitFor(async () => (await call(0, tok)).allowed, { timeoutMs: 5000, what: 'grant visible' });
    let allowed = 1;
    let limited = 0;
    for (let i = 1; i < 3 * RATE; i += 1) {
      const r = await call(i, tok);
      if (r.allowed) {
        allowed += 1;
        assert.equal(r.h('ratelimit-limit'), String(RATE));
        assert.ok(Number(r.h('ratelimit-reset')) >= 1 && Number(r.h('ratelimit-reset')) <= 3600);
      } else {
        assert.ok(r.limited, `request ${i}: ${r.status}`);
        limited += 1;
        const ra = Number(r.h('retry-after'));
        assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${r.h('retry-after')}`);
      }
    }
    assert.ok(allowed >= RATE && allowed <= Math.floor(RATE * 1.1), `admitted ${allowed} of a ${RATE} limit`);
    assert.equal(allowed + limited, 3 * RATE);
  });

  test(`quota: ${QUOTA} per month over three copies, kept across restarts, shown by the admin API`, async () => {
    const tok = await tokenOf(clients.quota);
    await waitFor(async () => (await call(0, tok)).allowed, { timeoutMs: 5000, what: 'grant visible' });
    let allowed = 1;
    for (let i = 1; i < QUOTA + 20; i += 1) {
      const r = await call(i, tok);
      if (r.allowed) allowed += 1;
      else assert.ok(r.limited, `request ${i}: ${r.status}`);
    }
    assert.ok(allowed >= QUOTA && allowed <= QUOTA * 1.01, `admitted ${allowed} of a ${QUOTA} quota`);
    const usage = await api('GET', `/v1/usage?client_id=${encodeURIComponent(clients.quota.client_id)}`);
    assert.equal(usage.status, 200, usage.text);
    assert.equal(usage.json.usage.length, 1);
    assert.equal(usage.json.usage[0].plan, `lim-quota-${SFX}`);
    assert.equal(usage.json.usage[0].monthly_quota, QUOTA);
    assert.equal(usage.json.usage[0].used, QUOTA);
    assert.match(usage.json.usage[0].month, /^\d{4}-\d{2}$/);
    // Restart the two copies: the count lives in PostgreSQL.
    for (const c of copies) {
      await stopCopy(c);
      c.proc = await startCopy(c.sock);
    }
    for (let i = 0; i < 6; i += 1) {
      const r = await call(i, tok);
      assert.ok(r.limited, `after restart, request ${i}: ${r.status}`);
    }
    // Bad admin queries are clear 400s; a non-admin is refused.
    assert.equal((await api('GET', '/v1/usage?month=2026-13')).status, 400);
    assert.equal((await api('GET', '/v1/usage', undefined, { token: null })).status, 401);
    const none = await api('GET', '/v1/usage?client_id=nobody');
    assert.deepEqual(none.json, { usage: [] });
  });
});
