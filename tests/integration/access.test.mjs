// The access service end to end, through nginx: accounts and sessions, the
// catalogue, apps, access requests and their approval workflow (run by the
// registrar's job worker against a real local OpenID Provider), credentials,
// e-mail through the stack's SMTP catcher (messages as JSON files in
// $CLEARANCE_STACK_DIR/mail), webhooks, the audit log, and the gateway check.
// Every test makes its own rows (random suffixes), so order does not matter.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { startIdp, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR } from './lib/api.mjs';

const noStack = haveStack() && DATABASE_URL && STACK_DIR
  ? false : 'CLEARANCE_BASE_URL/DATABASE_URL/STACK_DIR not set: run via make integration';
const MAIL_DIR = STACK_DIR ? path.join(STACK_DIR, 'mail') : '';
const uniq = () => crypto.randomBytes(4).toString('hex');
const PASSWORD = 'correct horse battery staple';
const SCOPES = [...DEFAULT_SCOPES, 'plan:gold', 'plan:free'];

function sql(text, vars = {}) {
  const args = [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

// The same encoding as common/src/password.c, computed by node's scrypt: an
// admin account made this way also checks that the two implementations agree.
function scryptHash(pw) {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(pw, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$ln=15,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

const as = (token) => ({ token });
const get = (p, token) => api('GET', p, undefined, token === undefined ? {} : as(token));

function readMail() {
  if (!fs.existsSync(MAIL_DIR)) return [];
  return fs.readdirSync(MAIL_DIR).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(MAIL_DIR, f), 'utf8')));
}
const waitMail = (to, re, timeoutMs = 15000) => waitFor(
  () => readMail().find((m) => m.to.includes(to) && re.test(m.raw)),
  { timeoutMs, what: `mail to ${to} matching ${re}` },
);

function assertJsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `${what}: JSON error body, got ${r.text}`);
  assert.equal(typeof r.json?.error_description, 'string', `${what}: error_description`);
}

async function signup(prefix = 'dev') {
  const email = `${prefix}-${uniq()}@example.test`;
  const s = await api('POST', '/v1/developers', { email, password: PASSWORD, name: `Dev ${prefix}` },
    { token: null });
  assert.equal(s.status, 201, s.text);
  assert.ok(!s.text.includes(PASSWORD) && !('password_hash' in s.json));
  // Access requests need a verified address (portal issue): follow the mailed link.
  const vm = await waitMail(email, /verify\/clr_vfy_/);
  const v = await api('POST', '/v1/email-verifications',
    { token: /verify\/(clr_vfy_[\w-]+)/.exec(vm.raw)[1] }, { token: null });
  assert.equal(v.status, 200, v.text);
  const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
  assert.equal(l.status, 201, l.text);
  assert.match(l.json.token, /^clr_ses_/);
  assert.equal(l.json.role, 'developer');
  return { email, id: s.json.id, token: l.json.token };
}

async function makeAdmin() {
  const email = `admin-${uniq()}@example.test`;
  sql(`INSERT INTO accounts (role, email, name, password_hash) VALUES ('admin', :'e', 'Admin', :'h')`,
    { e: email, h: scryptHash(PASSWORD) });
  const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
  assert.equal(l.status, 201, `admin login: ${l.text}`);
  assert.equal(l.json.role, 'admin');
  return { email, token: l.json.token };
}

// Provider + client type at a fresh IdP, a plan, a product, the file behind it.
async function setupCatalogue(idp, { autoApprove = false } = {}) {
  const sfx = uniq();
  const p = await api('POST', '/v1/providers', {
    name: `acc-${sfx}`, kind: 'other', well_known_url: idp.discoveryUrl,
    initial_access_token: idp.initialAccessToken, allow_insecure_http: true, audience: idp.audience,
  });
  assert.equal(p.status, 201, `provider: ${p.text}`);
  const ct = await api('POST', `/v1/providers/${p.json.id}/client-types`, {
    display_name: `machine-${sfx}`, description: 'server to server', grant_types: ['client_credentials'],
    response_types: [], token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.equal(ct.status, 201, `client type: ${ct.text}`);
  const plan = await api('POST', '/v1/plans', {
    name: `gold-${sfx}`, description: 'the gold plan', scopes: 'plan:gold',
    rate_limit_requests: 1000, rate_limit_window_seconds: 60,
  });
  assert.equal(plan.status, 201, `plan: ${plan.text}`);
  const prefix = `/api/acc${sfx}/orders`;
  const product = await api('POST', '/v1/products', {
    name: `orders-${sfx}`, description: 'orders API', path_prefixes: [prefix], dcr_enabled: true,
    scopes: 'orders:read', client_type_ids: [ct.json.id], plan_ids: [plan.json.id],
    auto_approve: autoApprove,
  });
  assert.equal(product.status, 201, `product: ${product.text}`);
  assert.deepEqual(product.json.plan_ids, [plan.json.id]);
  assert.deepEqual(product.json.client_type_ids, [ct.json.id]);
  const dir = path.join(STACK_DIR, 'www', prefix);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'item.json'), '{"item":1}\n');
  return {
    providerId: p.json.id, ctId: ct.json.id, planId: plan.json.id, productId: product.json.id,
    planName: plan.json.name, productName: product.json.name, file: `${prefix}/item.json`,
  };
}

async function request(dev, cat, appName = `app-${uniq()}`) {
  const r = await api('POST', '/v1/access-requests', {
    product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId,
    app: { name: appName, description: 'my app' },
  }, as(dev.token));
  assert.equal(r.status, 201, `access request: ${r.text}`);
  return r.json;
}

const waitStatus = (id, status, token, timeoutMs = 20000) => waitFor(async () => {
  const r = await get(`/v1/access-requests/${id}`, token);
  return r.json?.status === status ? r.json : null;
}, { timeoutMs, what: `request ${id} ${status}` });

describe('access service', { skip: noStack }, () => {
  let idp;
  let admin;
  before(async () => {
    idp = await startIdp({ scopes: SCOPES });
    admin = await makeAdmin();
  });
  after(async () => { await idp?.stop(); });

  test('the whole journey: request, approve, mail, credentials, token, gateway, revoke', async () => {
    const cat = await setupCatalogue(idp);
    const dev = await signup('journey');

    const me = await get('/v1/me', dev.token);
    assert.equal(me.status, 200);
    assert.equal(me.json.email, dev.email);

    const catalogue = await get('/v1/catalogue', dev.token);
    assert.equal(catalogue.status, 200, catalogue.text);
    const entry = catalogue.json.products.find((p) => p.id === cat.productId);
    assert.ok(entry, 'the DCR product is in the catalogue');
    assert.deepEqual(entry.plans.map((p) => p.id), [cat.planId]);
    assert.deepEqual(Object.keys(entry.client_types[0]).sort(), ['description', 'display_name', 'id']);

    const rq = await request(dev, cat, 'journey app');
    assert.equal(rq.status, 'pending');
    assert.equal(rq.product_id, cat.productId);
    await waitMail(admin.email, /awaits approval/);

    const early = await get(`/v1/apps/${rq.app_id}/credentials`, dev.token);
    assert.equal(early.status, 200);
    assert.deepEqual(early.json.credentials, [], 'no credentials before approval');

    const approve = await api('POST', `/v1/access-requests/${rq.id}/approve`, undefined, as(admin.token));
    assert.equal(approve.status, 200, approve.text);
    assert.equal(approve.json.status, 'provisioning');
    const replay = await api('POST', `/v1/access-requests/${rq.id}/approve`, undefined, as(admin.token));
    assertJsonError(replay, 409, 'approving twice');

    const active = await waitStatus(rq.id, 'active', dev.token);
    assert.ok(active.client_id, 'the request names its client');
    const mail = await waitMail(dev.email, /is ready/);
    assert.match(mail.raw, /journey app/);

    const creds = await get(`/v1/apps/${rq.app_id}/credentials`, dev.token);
    assert.equal(creds.status, 200, creds.text);
    assert.match(creds.headers.get('cache-control') || '', /no-store/);
    assert.equal(creds.json.credentials.length, 1);
    const c = creds.json.credentials[0];
    assert.equal(c.client_id, active.client_id);
    assert.ok(c.client_secret, 'the secret is shown to the owner');
    assert.equal(c.token_endpoint, `${idp.url}/token`);
    assert.deepEqual(c.scope.split(' ').sort(), ['orders:read', 'plan:gold']);
    assert.equal(c.product.id, cat.productId);
    assert.equal(c.plan.id, cat.planId);
    assert.ok(!('client_secret_sealed' in c));
    assert.ok(!mail.raw.includes(c.client_secret), 'no secret in the mail');

    // No secret in any list or in the admin's view.
    for (const [p, tok] of [['/v1/access-requests', dev.token], ['/v1/apps', dev.token],
      [`/v1/access-requests?status=active`, admin.token], ['/v1/audit', admin.token],
      [`/v1/apps/${rq.app_id}`, admin.token], ['/v1/developers', admin.token]]) {
      const r = await get(p, tok);
      assert.equal(r.status, 200, `${p}: ${r.text}`);
      assert.ok(!r.text.includes(c.client_secret), `no client secret in ${p}`);
      assert.ok(!r.text.includes(dev.token) && !r.text.includes('$scrypt$'), `no session/password in ${p}`);
    }
    const adminCreds = await get(`/v1/apps/${rq.app_id}/credentials`, admin.token);
    assertJsonError(adminCreds, 403, 'admin reading credentials');

    const audit = await get(`/v1/audit?action=credentials.read&target_id=${rq.app_id}`, admin.token);
    assert.equal(audit.status, 200);
    assert.ok(audit.json.audit.length >= 1, 'credential reads are audited');
    assert.equal(audit.json.audit[0].actor_id, dev.id);
    const audApprove = await get(`/v1/audit?action=access_request.approve&target_id=${rq.id}`, admin.token);
    assert.equal(audApprove.json.audit.length, 1, 'the approval is audited');

    // ...and none in any service log line.
    for (const f of ['access.log', 'registrar.log', 'introspect.log']) {
      const p = path.join(STACK_DIR, 'logs', f);
      if (!fs.existsSync(p)) continue;
      const text = fs.readFileSync(p, 'utf8');
      for (const secret of [c.client_secret, dev.token, admin.token, PASSWORD]) {
        assert.ok(!text.includes(secret), `a secret appears in ${f}`);
      }
    }

    const tok = (await idp.token(c.client_id, c.client_secret, 'orders:read plan:gold')).access_token;
    assert.ok(tok, 'the IdP issues a token to the new client');
    const call = await waitFor(async () => {
      const x = await api('GET', cat.file, undefined, { token: null, headers: { authorization: `Bearer ${tok}` } });
      return x.status === 200 ? x : null;
    }, { timeoutMs: 8000, what: 'the gateway lets the new client through' });
    assert.deepEqual(call.json, { item: 1 });

    const revoke = await api('POST', `/v1/access-requests/${rq.id}/revoke`, { reason: 'contract ended' },
      as(admin.token));
    assert.equal(revoke.status, 200, revoke.text);
    assert.equal(revoke.json.status, 'revoked');
    const again = await api('POST', `/v1/access-requests/${rq.id}/revoke`, undefined, as(admin.token));
    assertJsonError(again, 409, 'revoking twice');
    await waitFor(async () => {
      const x = await api('GET', cat.file, undefined, { token: null, headers: { authorization: `Bearer ${tok}` } });
      return x.status === 401 || x.status === 403;
    }, { timeoutMs: 5000, what: 'the gateway refuses the revoked client' });
    await waitMail(dev.email, /contract ended/);
    const after = await get(`/v1/apps/${rq.app_id}/credentials`, dev.token);
    assert.deepEqual(after.json.credentials, []);
    // Deregistered at the IdP (RFC 7592 DELETE) by the job.
    await waitFor(() => idp.requests.some((x) => x.method === 'DELETE' && x.path.includes(c.client_id)),
      { timeoutMs: 10000, what: 'RFC 7592 DELETE at the IdP' });
    // Each service ran its own jobs: the registrar's provision and deregister
    // (which took the registration out of service), and the access service's
    // request_settle, queued by the trigger on registrations.
    await waitFor(() => sql(`SELECT status FROM registrations WHERE owner->>'access_request_id' = :'id'`,
      { id: rq.id }) === 'deleted', { timeoutMs: 10000, what: 'the registration deleted by the registrar' });
    const kinds = () => sql(`SELECT string_agg(kind || ':' || state, ',' ORDER BY kind) FROM (SELECT DISTINCT kind, state
      FROM jobs WHERE payload->>'access_request_id' = :'id' OR payload->>'registration_id' IN
      (SELECT id::text FROM registrations WHERE owner->>'access_request_id' = :'id')) j`, { id: rq.id });
    await waitFor(() => kinds() === 'deregister:done,provision:done,request_settle:done',
      { timeoutMs: 10000, what: 'provision, request_settle and deregister all done' });
  });

  test('the drivers\' capabilities are data the registrar publishes', () => {
    const rows = sql(`SELECT string_agg(kind || '=' || can_rotate, ',' ORDER BY kind) FROM provider_kinds`);
    assert.equal(rows, 'curity=false,glewlwyd=false,gluu=false,http_bridge=true,keycloak=false,okta=true,other=false');
  });

  test('rejection mails the reason; reject needs a reason and a pending request', async () => {
    const cat = await setupCatalogue(idp);
    const dev = await signup('reject');
    const rq = await request(dev, cat);
    const noReason = await api('POST', `/v1/access-requests/${rq.id}/reject`, {}, as(admin.token));
    assertJsonError(noReason, 400, 'reject without reason');
    const rej = await api('POST', `/v1/access-requests/${rq.id}/reject`, { reason: 'no budget left' },
      as(admin.token));
    assert.equal(rej.status, 200, rej.text);
    assert.equal(rej.json.status, 'rejected');
    assert.equal(rej.json.reason, 'no budget left');
    await waitMail(dev.email, /no budget left/);
    for (const step of ['approve', 'revoke', 'retry']) {
      const r = await api('POST', `/v1/access-requests/${rq.id}/${step}`, undefined, as(admin.token));
      assertJsonError(r, 409, `${step} after reject`);
    }
    const rej2 = await api('POST', `/v1/access-requests/${rq.id}/reject`, { reason: 'x' }, as(admin.token));
    assertJsonError(rej2, 409, 'reject twice');
  });

  test('auto_approve products skip the admin', async () => {
    const cat = await setupCatalogue(idp, { autoApprove: true });
    const dev = await signup('auto');
    const rq = await request(dev, cat);
    assert.equal(rq.status, 'provisioning');
    await waitStatus(rq.id, 'active', dev.token);
  });

  test('IdP down at approval: failed with the reason, admin retry makes exactly one client', async () => {
    const idp2 = await startIdp({ scopes: SCOPES });
    try {
      const cat = await setupCatalogue(idp2);
      const dev = await signup('down');
      const rq = await request(dev, cat);
      await idp2.down();
      const ok = await api('POST', `/v1/access-requests/${rq.id}/approve`, undefined, as(admin.token));
      assert.equal(ok.status, 200, ok.text);
      const failed = await waitStatus(rq.id, 'failed', dev.token, 30000);
      assert.match(failed.last_error, /IdP|connect|refused/i, failed.last_error);
      await idp2.up();
      idp2.clearRequests();
      const retry = await api('POST', `/v1/access-requests/${rq.id}/retry`, undefined, as(admin.token));
      assert.equal(retry.status, 200, retry.text);
      assert.equal(retry.json.status, 'provisioning');
      const active = await waitStatus(rq.id, 'active', dev.token);
      assert.equal(active.last_error, null);
      const regs = idp2.requests.filter((x) => x.method === 'POST' && x.path === '/reg');
      assert.equal(regs.length, 1, 'exactly one registration reached the IdP');
      const creds = await get(`/v1/apps/${rq.app_id}/credentials`, dev.token);
      assert.equal(creds.json.credentials.length, 1);
    } finally {
      await idp2.stop();
    }
  });

  test('webhooks: signed with HMAC-SHA256, no secret in the body', async () => {
    const got = [];
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    try {
      const url = `http://127.0.0.1:${srv.address().port}/hook`;
      const bad = await api('POST', '/v1/webhooks', { url: 'http://example.com/hook', events: ['access_request.created'] });
      assertJsonError(bad, 400, 'http webhook off loopback');
      const badEv = await api('POST', '/v1/webhooks', { url, events: ['nope'] });
      assertJsonError(badEv, 400, 'unknown event');
      const wh = await api('POST', '/v1/webhooks', { url, events: ['access_request.created'] });
      assert.equal(wh.status, 201, wh.text);
      assert.match(wh.json.secret, /^whsec_/);
      const list = await get('/v1/webhooks');
      assert.ok(!list.text.includes(wh.json.secret), 'the secret is shown once');

      const cat = await setupCatalogue(idp);
      const dev = await signup('hook');
      const rq = await request(dev, cat);
      const hit = await waitFor(() => got.find((g) => g.body.includes(rq.id)),
        { timeoutMs: 15000, what: 'webhook delivery' });
      assert.equal(hit.headers['x-clearance-event'], 'access_request.created');
      const want = `sha256=${crypto.createHmac('sha256', wh.json.secret).update(hit.body).digest('hex')}`;
      assert.equal(hit.headers['x-clearance-signature'], want);
      assert.ok(!hit.body.includes(wh.json.secret));
      const body = JSON.parse(hit.body);
      assert.equal(body.event, 'access_request.created');
      assert.equal(body.data.id, rq.id);
      const del = await api('DELETE', `/v1/webhooks/${wh.json.id}`);
      assert.equal(del.status, 204);
    } finally {
      srv.close();
    }
  });

  test('two developers: B gets 404 for every object of A; developers get 403 on admin routes', async () => {
    const cat = await setupCatalogue(idp);
    const a = await signup('a');
    const b = await signup('b');
    const rq = await request(a, cat);
    const appId = rq.app_id;
    const calls = [
      ['GET', `/v1/apps/${appId}`], ['PATCH', `/v1/apps/${appId}`, { name: 'stolen' }],
      ['DELETE', `/v1/apps/${appId}`], ['GET', `/v1/apps/${appId}/credentials`],
      ['POST', `/v1/apps/${appId}/credentials/${rq.id}/rotate`], ['GET', `/v1/access-requests/${rq.id}`],
    ];
    for (const [m, p, body] of calls) {
      const r = await api(m, p, body, as(b.token));
      assertJsonError(r, 404, `B ${m} ${p}`);
    }
    const reqB = await api('POST', '/v1/access-requests', {
      product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId, app_id: appId,
    }, as(b.token));
    assertJsonError(reqB, 404, 'B requesting access for A\'s app');
    const appsB = await get('/v1/apps', b.token);
    assert.ok(!appsB.json.apps.some((x) => x.id === appId));
    const reqsB = await get('/v1/access-requests', b.token);
    assert.ok(!reqsB.json.access_requests.some((x) => x.id === rq.id));
    // A's app is untouched.
    const mine = await get(`/v1/apps/${appId}`, a.token);
    assert.equal(mine.status, 200);
    assert.notEqual(mine.json.name, 'stolen');

    const id = crypto.randomUUID();
    const admin403 = [
      ['POST', '/v1/products', { name: 'x' }], ['PATCH', `/v1/products/${cat.productId}`, { name: 'x' }],
      ['DELETE', `/v1/products/${cat.productId}`], ['POST', '/v1/plans', { name: 'x' }],
      ['PATCH', `/v1/plans/${cat.planId}`, { name: 'x' }], ['DELETE', `/v1/plans/${cat.planId}`],
      ['GET', '/v1/developers'], ['GET', `/v1/developers/${b.id}`],
      ['PATCH', `/v1/developers/${b.id}`, { blocked: true }],
      ['POST', `/v1/access-requests/${rq.id}/approve`], ['POST', `/v1/access-requests/${rq.id}/reject`, { reason: 'x' }],
      ['POST', `/v1/access-requests/${rq.id}/revoke`], ['POST', `/v1/access-requests/${rq.id}/retry`],
      ['POST', '/v1/webhooks', { url: 'https://x.test/', events: ['credential.created'] }],
      ['GET', '/v1/webhooks'], ['GET', `/v1/webhooks/${id}`], ['DELETE', `/v1/webhooks/${id}`],
      ['GET', '/v1/audit'], ['GET', '/v1/providers'], ['GET', '/v1/registrations'], ['GET', '/v1/jobs'],
    ];
    for (const [m, p, body] of admin403) {
      const r = await api(m, p, body, as(a.token));
      assertJsonError(r, 403, `developer ${m} ${p}`);
    }
    const still = await get(`/v1/access-requests/${rq.id}`, a.token);
    assert.equal(still.json.status, 'pending', 'nothing a developer did moved the request');
  });

  test('forbidden and unknown fields are refused everywhere', async () => {
    const cat = await setupCatalogue(idp);
    const dev = await signup('fields');
    const app = await api('POST', '/v1/apps', { name: 'x' }, as(dev.token));
    assert.equal(app.status, 201, app.text);
    const bodies = [
      ['POST', '/v1/apps', { name: 'x', developer_id: crypto.randomUUID() }],
      ['POST', '/v1/apps', { name: 'x', owner: 'me' }],
      ['PATCH', `/v1/apps/${app.json.id}`, { status: 'active' }],
      ['PATCH', `/v1/apps/${app.json.id}`, { client_secret: 's' }],
      ['POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId,
        client_type_id: cat.ctId, app_id: app.json.id, status: 'active' }],
      ['POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId,
        client_type_id: cat.ctId, app_id: app.json.id, plan: 'gold' }],
      ['POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId,
        client_type_id: cat.ctId, app: { name: 'y', developer_id: crypto.randomUUID() } }],
      ['POST', '/v1/developers', { email: `x-${uniq()}@e.test`, password: PASSWORD, name: 'x', role: 'admin' }],
    ];
    for (const [m, p, body] of bodies) {
      const r = await api(m, p, body, as(dev.token));
      assertJsonError(r, 400, `${m} ${p} ${JSON.stringify(body)}`);
    }
    const reqs = await get('/v1/access-requests', dev.token);
    assert.equal(reqs.json.access_requests.length, 0, 'nothing was half-applied');
  });

  // Issue 10: the stack allows 10.99.0.0/16 (CLEARANCE_REDIRECT_ALLOW_PRIVATE).
  test('app redirect URIs on non-public hosts: refused, or allowed by the operator', async () => {
    const dev = await signup('priv');
    for (const uri of ['https://169.254.169.254/latest', 'https://192.168.1.1/cb', 'https://[fe80::1]/cb',
      'https://100.64.0.1/cb', 'https://2130706433/cb', 'https://printer.local/cb']) {
      const r = await api('POST', '/v1/apps', { name: 'p', redirect_uris: [uri] }, as(dev.token));
      assertJsonError(r, 400, uri);
      assert.equal(r.json.error, 'invalid_redirect_uri', r.text);
    }
    const app = await api('POST', '/v1/apps', { name: 'p', redirect_uris: ['https://app.example.test/cb'] },
      as(dev.token));
    assert.equal(app.status, 201, app.text);
    const bad = await api('PATCH', `/v1/apps/${app.json.id}`, { redirect_uris: ['https://10.0.0.1/cb'] },
      as(dev.token));
    assertJsonError(bad, 400, 'patch to 10.0.0.1');
    assert.match(bad.json.error_description, /private-range.*CLEARANCE_REDIRECT_ALLOW_PRIVATE/, bad.text);
    const kept = await api('GET', `/v1/apps/${app.json.id}`, undefined, as(dev.token));
    assert.deepEqual(kept.json.redirect_uris, ['https://app.example.test/cb'], 'a refused patch changes nothing');
    const ok = await api('PATCH', `/v1/apps/${app.json.id}`,
      { redirect_uris: ['https://10.99.1.2/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb'] }, as(dev.token));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.redirect_uris, ['https://10.99.1.2/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb']);
  });

  test('bad input on every route gets a clear JSON 4xx', async () => {
    const cat = await setupCatalogue(idp);
    const dev = await signup('bad');
    const app = await api('POST', '/v1/apps', { name: 'x' }, as(dev.token));
    const cases = [
      ['POST', '/v1/developers', { email: 'not-an-email', password: PASSWORD, name: 'x' }, 400, null],
      ['POST', '/v1/developers', { email: `w-${uniq()}@e.test`, password: 'short', name: 'x' }, 400, null],
      ['POST', '/v1/developers', { email: `w-${uniq()}@e.test`, name: 'x' }, 400, null],
      ['POST', '/v1/developers', { email: `w-${uniq()}@e.test`, password: 'aaaaaaaaaaaaaaaa', name: 'x' }, 400, null],
      ['POST', '/v1/developers', '{"email":', 400, null],
      ['POST', '/v1/sessions', { email: dev.email }, 400, null],
      ['POST', '/v1/sessions', { email: dev.email, password: 12 }, 400, null],
      ['POST', '/v1/apps', { name: '' }, 400, dev.token],
      ['POST', '/v1/apps', { name: 'x', redirect_uris: ['http://evil.example/cb'] }, 400, dev.token],
      ['POST', '/v1/apps', { name: 'x', redirect_uris: ['https://a.test/cb#frag'] }, 400, dev.token],
      ['POST', '/v1/apps', { name: 'x', redirect_uris: ['not a url'] }, 400, dev.token],
      ['POST', '/v1/apps', { name: 'x', redirect_uris: 'https://a.test/cb' }, 400, dev.token],
      ['PATCH', `/v1/apps/${app.json.id}`, {}, 400, dev.token],
      ['GET', '/v1/apps/not-a-uuid', undefined, 404, dev.token],
      ['GET', `/v1/apps/${crypto.randomUUID()}`, undefined, 404, dev.token],
      ['GET', '/v1/apps?limit=0', undefined, 400, dev.token],
      ['GET', '/v1/access-requests?status=bogus', undefined, 400, dev.token],
      ['POST', '/v1/access-requests', { product_id: 'x', plan_id: cat.planId, client_type_id: cat.ctId, app_id: app.json.id }, 400, dev.token],
      ['POST', '/v1/access-requests', { product_id: cat.productId, plan_id: crypto.randomUUID(), client_type_id: cat.ctId, app_id: app.json.id }, 400, dev.token],
      ['POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId }, 400, dev.token],
      ['POST', '/v1/products', { name: 'p', dcr_enabled: true }, 400, undefined],
      ['POST', '/v1/products', { name: 'p', scopes: 'a  b' }, 400, undefined],
      ['POST', '/v1/products', { name: 'p', path_prefixes: ['no-slash'] }, 400, undefined],
      ['POST', '/v1/products', { name: 'p', plan_ids: [crypto.randomUUID()] }, 400, undefined],
      ['POST', '/v1/products', { name: 'p', client_type_ids: ['nope'] }, 400, undefined],
      ['POST', '/v1/products', { name: cat.productName }, 409, undefined],
      ['POST', '/v1/plans', { name: 'p', rate_limit_requests: 10 }, 400, undefined],
      ['POST', '/v1/plans', { name: 'p', rate_limit_requests: 0, rate_limit_window_seconds: 1 }, 400, undefined],
      ['POST', '/v1/plans', { name: 'p', monthly_quota: 'lots' }, 400, undefined],
      ['PATCH', `/v1/plans/${crypto.randomUUID()}`, { name: 'q' }, 404, undefined],
      ['DELETE', `/v1/products/${cat.productId}x`, undefined, 404, undefined],
      ['PATCH', `/v1/developers/${dev.id}`, { blocked: 'yes' }, 400, undefined],
      ['POST', `/v1/access-requests/${crypto.randomUUID()}/approve`, undefined, 404, undefined],
      ['POST', `/v1/access-requests/${crypto.randomUUID()}/reject`, { reason: 'x', extra: 1 }, 400, undefined],
      ['GET', '/v1/audit?limit=-1', undefined, 400, undefined],
    ];
    for (const [m, p, body, status, token] of cases) {
      const opts = token === undefined ? {} : { token };
      if (typeof body === 'string') opts.headers = { 'content-type': 'application/json' };
      const r = await api(m, p, body, opts);
      assertJsonError(r, status, `${m} ${p} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
      // Only a string password can leak; a number such as 12 would match the
      // hex request_id that every error body now carries.
      if (typeof body === 'object' && typeof body?.password === 'string') assert.ok(!r.text.includes(body.password));
    }
    const noAuth = await api('GET', '/v1/apps', undefined, { token: null });
    assertJsonError(noAuth, 401, 'no token');
  });

  test('login is throttled after repeated failures; logout and blocking end sessions', async () => {
    const dev = await signup('throttle');
    for (let i = 0; i < 5; i += 1) {
      const r = await api('POST', '/v1/sessions', { email: dev.email, password: `wrong password ${i}` }, { token: null });
      assertJsonError(r, 401, `failure ${i}`);
      assert.ok(!r.text.includes('wrong password'));
    }
    const locked = await api('POST', '/v1/sessions', { email: dev.email, password: PASSWORD }, { token: null });
    assertJsonError(locked, 429, 'locked even with the right password');
    const unknown = await api('POST', '/v1/sessions', { email: `nobody-${uniq()}@e.test`, password: PASSWORD }, { token: null });
    assertJsonError(unknown, 401, 'unknown account');

    const other = await signup('session');
    const out = await api('DELETE', '/v1/sessions/current', undefined, as(other.token));
    assert.equal(out.status, 204);
    assertJsonError(await get('/v1/me', other.token), 401, 'session after logout');

    const victim = await signup('blocked');
    const blk = await api('PATCH', `/v1/developers/${victim.id}`, { blocked: true });
    assert.equal(blk.status, 200, blk.text);
    assert.equal(blk.json.blocked, true);
    assertJsonError(await get('/v1/me', victim.token), 401, 'session of a blocked developer');
    const relog = await api('POST', '/v1/sessions', { email: victim.email, password: PASSWORD }, { token: null });
    assertJsonError(relog, 403, 'blocked developer logging in');
    const unblk = await api('PATCH', `/v1/developers/${victim.id}`, { blocked: false });
    assert.equal(unblk.status, 200);
    const back = await api('POST', '/v1/sessions', { email: victim.email, password: PASSWORD }, { token: null });
    assert.equal(back.status, 201, back.text);
    const aud = await get(`/v1/audit?action=developer.block&target_id=${victim.id}`);
    assert.equal(aud.json.audit.length, 1);
  });

  test('clearance-ctl create-admin makes an admin who logs in with POST /v1/sessions', { skip: !process.env.CLEARANCE_BIN_DIR && 'CLEARANCE_BIN_DIR not set' }, async () => {
    const email = `ctl-admin-${uniq()}@example.test`;
    const ctl = path.join(process.env.CLEARANCE_BIN_DIR, 'clearance-ctl');
    const env = { PATH: process.env.PATH, CLEARANCE_DATABASE_URL: DATABASE_URL };
    const weak = (() => {
      try { execFileSync(ctl, ['create-admin', '--email', email], { input: 'short\n', env, stdio: 'pipe' }); return 0; } catch (e) { return e.status; }
    })();
    assert.equal(weak, 1, 'a weak password is refused');
    const out = execFileSync(ctl, ['create-admin', '--email', email, '--name', 'Ops'],
      { input: `${PASSWORD}\n`, env, encoding: 'utf8', timeout: 30000 });
    assert.match(out, /created admin/);
    assert.ok(!out.includes(PASSWORD));
    const l = await api('POST', '/v1/sessions', { email, password: PASSWORD }, { token: null });
    assert.equal(l.status, 201, l.text);
    assert.equal(l.json.role, 'admin');
    const devs = await get('/v1/developers', l.json.token);
    assert.equal(devs.status, 200, 'the session is an admin session');
    const me = await get('/v1/me', l.json.token);
    assert.equal(me.json.role, 'admin');
  });

  test('editing redirect URIs updates the live client at the IdP (RFC 7592); rotation where unsupported is a 409', async () => {
    const cat = await setupCatalogue(idp, { autoApprove: true });
    const web = await api('POST', `/v1/providers/${cat.providerId}/client-types`, {
      display_name: `web-${uniq()}`, grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(web.status, 201, web.text);
    const prod = await api('PATCH', `/v1/products/${cat.productId}`, { client_type_ids: [cat.ctId, web.json.id] });
    assert.equal(prod.status, 200, prod.text);
    const dev = await signup('edit');
    const noUris = await api('POST', '/v1/access-requests', {
      product_id: cat.productId, plan_id: cat.planId, client_type_id: web.json.id, app: { name: 'no uris' },
    }, as(dev.token));
    assertJsonError(noUris, 400, 'redirect client type without redirect URIs');
    const r = await api('POST', '/v1/access-requests', {
      product_id: cat.productId, plan_id: cat.planId, client_type_id: web.json.id,
      app: { name: 'web app', redirect_uris: ['https://app.example.test/cb'] },
    }, as(dev.token));
    assert.equal(r.status, 201, r.text);
    const active = await waitStatus(r.json.id, 'active', dev.token);
    idp.clearRequests();
    const edit = await api('PATCH', `/v1/apps/${r.json.app_id}`,
      { redirect_uris: ['https://app.example.test/cb2', 'http://127.0.0.1:8080/cb'] }, as(dev.token));
    assert.equal(edit.status, 200, edit.text);
    await waitFor(() => idp.requests.some((x) => x.method === 'PUT' && x.path.includes(active.client_id)),
      { timeoutMs: 10000, what: 'RFC 7592 PUT at the IdP' });
    await waitFor(async () => {
      const regs = await get('/v1/registrations?limit=1000');
      const reg = regs.json?.registrations?.find((x) => x.client_id === active.client_id);
      return reg && JSON.stringify(reg.redirect_uris) === JSON.stringify(['https://app.example.test/cb2', 'http://127.0.0.1:8080/cb']);
    }, { timeoutMs: 10000, what: 'the stored registration has the new redirect URIs' });

    const rot = await api('POST', `/v1/apps/${r.json.app_id}/credentials/${r.json.id}/rotate`, undefined, as(dev.token));
    assertJsonError(rot, 409, 'rotation at an IdP kind that cannot rotate');
  });

  test('deleting an app revokes its access and deregisters its client', async () => {
    const cat = await setupCatalogue(idp, { autoApprove: true });
    const dev = await signup('delapp');
    const rq = await request(dev, cat);
    const active = await waitStatus(rq.id, 'active', dev.token);
    const del = await api('DELETE', `/v1/apps/${rq.app_id}`, undefined, as(dev.token));
    assert.equal(del.status, 204, del.text);
    assertJsonError(await get(`/v1/apps/${rq.app_id}`, dev.token), 404, 'deleted app');
    const r = await get(`/v1/access-requests/${rq.id}`, dev.token);
    assert.equal(r.json.status, 'revoked');
    await waitFor(() => idp.requests.some((x) => x.method === 'DELETE' && x.path.includes(active.client_id)),
      { timeoutMs: 10000, what: 'deregistration after app deletion' });
  });
  // Regression: the throttle read the failure count before checking the
  // password and counted the failure afterwards, so parallel guesses all
  // passed the check: one per worker thread instead of 5 per window.  Every
  // attempt is now counted first, in one upsert.
  test('parallel wrong logins cannot outrun the throttle; e-mail case variants share one counter', async () => {
    const dev = await signup('race');
    const tries = await Promise.all(Array.from({ length: 16 }, (_, i) => api('POST', '/v1/sessions',
      { email: dev.email, password: `wrong guess ${i}` }, { token: null })));
    const by = (st) => tries.filter((r) => r.status === st).length;
    assert.equal(by(401) + by(429), 16, tries.map((r) => r.status).join(','));
    assert.ok(by(401) <= 5, `at most 5 guesses were checked, got ${by(401)}`);
    for (const r of tries) assert.ok(!r.text.includes('wrong guess'));
    assertJsonError(await api('POST', '/v1/sessions', { email: dev.email, password: PASSWORD }, { token: null }),
      429, 'locked after the parallel burst');

    const cased = await signup('case');
    const variants = [cased.email.toUpperCase(), cased.email, `${cased.email[0].toUpperCase()}${cased.email.slice(1)}`,
      [...cased.email].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join(''), cased.email];
    for (const [i, email] of variants.entries()) {
      assertJsonError(await api('POST', '/v1/sessions', { email, password: `bad ${i}` }, { token: null }), 401, `case variant ${i}`);
    }
    assertJsonError(await api('POST', '/v1/sessions', { email: cased.email.toUpperCase(), password: PASSWORD }, { token: null }),
      429, 'a sixth attempt in another case is still locked');
    assertJsonError(await api('POST', '/v1/sessions', { email: cased.email, password: PASSWORD }, { token: null }),
      429, 'and so is the original spelling');
  });

  test('two parallel approvals: one 200, one 409, exactly one provision job and one client; replays are 409', async () => {
    const cat = await setupCatalogue(idp);
    const dev = await signup('twice');
    const rq = await request(dev, cat);
    const both = await Promise.all([0, 1].map(() => api('POST', `/v1/access-requests/${rq.id}/approve`, undefined, as(admin.token))));
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 409], both.map((r) => r.text).join(' | '));
    assertJsonError(both.find((r) => r.status === 409), 409, 'the losing approval');
    const jobs = sql(`SELECT count(*) FROM jobs WHERE kind = 'provision' AND payload->>'access_request_id' = :'id'`, { id: rq.id });
    assert.equal(jobs, '1', 'exactly one provision job');
    await waitStatus(rq.id, 'active', dev.token);
    const regs = sql(`SELECT count(*) FROM registrations WHERE owner->>'access_request_id' = :'id'`, { id: rq.id });
    assert.equal(regs, '1', 'exactly one registration');
    for (const step of ['approve', 'retry']) {
      assertJsonError(await api('POST', `/v1/access-requests/${rq.id}/${step}`, undefined, as(admin.token)), 409, `${step} of an active request`);
    }
    assertJsonError(await api('POST', `/v1/access-requests/${rq.id}/reject`, { reason: 'late' }, as(admin.token)), 409, 'reject of an active request');
    const rev = await api('POST', `/v1/access-requests/${rq.id}/revoke`, undefined, as(admin.token));
    assert.equal(rev.status, 200, rev.text);
    assertJsonError(await api('POST', `/v1/access-requests/${rq.id}/revoke`, undefined, as(admin.token)), 409, 'revoke replayed');
    const creds = await get(`/v1/apps/${rq.app_id}/credentials`, dev.token);
    assert.equal(creds.json.credentials.length, 0, 'no credentials after revocation');
    const filtered = await get(`/v1/access-requests?app_id=${rq.app_id}`, (await signup('other')).token);
    assert.equal(filtered.json.access_requests.length, 0, 'another developer filtering by this app sees nothing');
  });
  // Regression: login read `blocked` before the password check (tens of
  // milliseconds of scrypt) and made the session after it, so a block
  // committed in between revoked the old sessions but not the new one.
  test('a block racing a login never leaves the blocked developer a working session', async () => {
    for (const delayMs of [0, 5, 15, 30]) {
      const dev = await signup('blockrace');
      const login = api('POST', '/v1/sessions', { email: dev.email, password: PASSWORD }, { token: null });
      await new Promise((res) => { setTimeout(res, delayMs); });
      const blk = await api('PATCH', `/v1/developers/${dev.id}`, { blocked: true });
      assert.equal(blk.status, 200, blk.text);
      const l = await login;
      assert.ok([201, 403].includes(l.status), `login: ${l.status} ${l.text}`);
      if (l.status === 201) {
        assertJsonError(await get('/v1/me', l.json.token), 401, `session made while blocking (delay ${delayMs} ms)`);
      }
      assertJsonError(await get('/v1/me', dev.token), 401, 'the older session');
    }
  });
});
