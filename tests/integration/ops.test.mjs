// Operations (issue 11): a deregistration that can never succeed is final at
// once and retirable by an admin with an audit row; tokens are stored under
// the server-side pepper, and a legacy SHA-256 row is upgraded on first use.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { startIdp } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL } from './lib/api.mjs';

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
      if (code === 0) resolve(out.trim()); else reject(new Error(`psql exited ${code}: ${err}`));
    });
    p.stdin.end(sql);
  });
}
const skip = !haveStack() || !DATABASE_URL ? 'needs the stack and CLEARANCE_DATABASE_URL' : false;
const uniq = () => crypto.randomBytes(5).toString('hex');

function jsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `${what}: JSON error body, got ${r.text}`);
}

describe('operations', { skip }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => { await idp?.stop(); });

  test('deregistration without a registration access token: final at once, then retired by hand', async () => {
    const prov = await api('POST', '/v1/providers', {
      name: `idp-${uniq()}`, kind: 'other', well_known_url: idp.discoveryUrl,
      initial_access_token: idp.initialAccessToken, allow_insecure_http: true,
    });
    assert.equal(prov.status, 201, prov.text);
    const ct = await api('POST', `/v1/providers/${prov.json.id}/client-types`, {
      display_name: `machine-${uniq()}`, response_types: [], grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(ct.status, 201, ct.text);
    const reg = await api('POST', '/v1/registrations', { client_type_id: ct.json.id, client_name: 'no-rat' });
    assert.equal(reg.status, 201, reg.text);
    const id = reg.json.id;
    // Registrar changes are in the shared audit log with the request's id.
    const made = await api('GET', `/v1/audit?target_type=client_type&action=client_type.create&limit=1000`);
    const row = made.json.audit.find((a) => a.request_id === ct.headers.get('x-request-id'));
    assert.ok(row, `client_type.create row for request ${ct.headers.get('x-request-id')}`);
    assert.equal(row.detail.parent_id, prov.json.id);
    assert.equal(row.actor_role, 'admin');
    // A refused change writes no row; an accepted one writes one.
    const badPut = await api('PUT', `/v1/registrations/${id}`, { client_name: '' });
    assert.ok(badPut.status >= 400, badPut.text);
    assert.equal((await api('GET', `/v1/audit?action=registration.update&target_id=${id}`)).json.total, 0);
    const put = await api('PUT', `/v1/registrations/${id}`, { client_name: 'no-rat renamed' });
    assert.equal(put.status, 200, put.text);
    const putRow = await api('GET', `/v1/audit?action=registration.update&target_id=${id}`);
    assert.equal(putRow.json.total, 1, putRow.text);
    assert.equal(putRow.json.audit[0].request_id, put.headers.get('x-request-id'));
    assert.equal(putRow.json.audit[0].detail.name, 'no-rat renamed');
    // An IdP that never handed out a registration access token.
    await psql(`UPDATE registrations SET registration_access_token_sealed = NULL WHERE id = :'id'`, { id });
    // Retiring an active registration is refused and changes nothing.
    jsonError(await api('POST', `/v1/registrations/${id}/retire`), 409, 'retire an active registration');
    assert.equal((await api('GET', `/v1/registrations/${id}`)).json.status, 'active');

    const jobId = await psql(`INSERT INTO jobs (kind, payload)
      VALUES ('deregister', jsonb_build_object('registration_id', :'id', 'withdraw', true)) RETURNING id;
      NOTIFY clearance_jobs;`, { id });
    const job = await waitFor(async () => {
      const j = await api('GET', `/v1/jobs/${jobId}`);
      return ['done', 'failed'].includes(j.json?.state) ? j.json : null;
    }, { timeoutMs: 15000, intervalMs: 200, what: 'deregister job' });
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(job.attempts, 1, 'no retry loop');
    const orphan = await api('GET', `/v1/registrations/${id}`);
    assert.equal(orphan.json.status, 'orphaned', orphan.text);
    assert.match(orphan.json.last_error, /no registration access token/);
    assert.doesNotMatch(orphan.json.last_error, /queued/);

    jsonError(await api('POST', '/v1/registrations/not-a-uuid/retire'), 404, 'malformed id names nothing');
    jsonError(await api('POST', `/v1/registrations/${crypto.randomUUID()}/retire`), 404, 'unknown id');
    const before = await psql(`SELECT count(*) FROM audit_log WHERE target_id = :'id' AND action = 'registration.retire'`, { id });
    assert.equal(before, '0');
    const done = await api('POST', `/v1/registrations/${id}/retire`);
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.status, 'deleted');
    assert.match(done.json.last_error, /removed at the IdP by hand/);
    const audit = await psql(`SELECT action || ' ' || target_type || ' ' || actor_role || ' ' || (detail->>'client_id')
      FROM audit_log WHERE target_id = :'id' AND action = 'registration.retire'`, { id });
    assert.equal(audit, `registration.retire registration admin ${reg.json.client_id}`);
    jsonError(await api('POST', `/v1/registrations/${id}/retire`), 409, 'retire twice');
    assert.equal(await psql(`SELECT count(*) FROM audit_log WHERE target_id = :'id' AND action = 'registration.retire'`, { id }), '1');
    // The registrar's row is in the one audit listing, with the request id.
    const listed = await api('GET', `/v1/audit?target_type=registration&target_id=${id}&action=registration.retire`);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.total, 1);
    assert.equal(listed.json.next, null);
    assert.equal(listed.json.audit[0].action, 'registration.retire');
    assert.equal(listed.json.audit[0].request_id, done.headers.get('x-request-id'));
    // The log is append-only.
    await assert.rejects(psql(`DELETE FROM audit_log WHERE target_id = :'id'`, { id }), /append-only/);
  });

  test('audit listing: filters, total, next link; bad filters are 400', async () => {
    // Three webhook changes make three rows with one target type and actor.
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const w = await api('POST', '/v1/webhooks', { url: `https://hooks.example.com/${uniq()}`, events: ['access_request.approved'] });
      assert.equal(w.status, 201, w.text);
      ids.push(w.json.id);
    }
    const since = await psql(`SELECT to_char(min(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM audit_log WHERE target_id IN (:'a', :'b', :'c')`,
      { a: ids[0], b: ids[1], c: ids[2] });
    const q = `action=webhook.create&since=${encodeURIComponent(since)}`;
    const all = await api('GET', `/v1/audit?${q}&limit=1000`);
    assert.equal(all.status, 200, all.text);
    assert.ok(all.json.total >= 3);
    assert.equal(all.json.audit.length, all.json.total);
    assert.equal(all.json.next, null);
    const page1 = await api('GET', `/v1/audit?${q}&limit=2`);
    assert.equal(page1.json.total, all.json.total);
    assert.equal(page1.json.audit.length, 2);
    assert.match(page1.json.next, /^\/v1\/audit\?/);
    assert.match(page1.json.next, /offset=2/);
    const page2 = await api('GET', page1.json.next);
    assert.equal(page2.status, 200, page2.text);
    assert.deepEqual(page2.json.audit.map((a) => a.id), all.json.audit.slice(2, 4).map((a) => a.id));
    assert.ok(page1.json.audit.every((a) => a.action === 'webhook.create' && a.target_type === 'webhook'));
    const one = await api('GET', `/v1/audit?target_type=webhook&target_id=${ids[1]}&actor=${encodeURIComponent(all.json.audit[0].actor_name)}`);
    assert.equal(one.json.total, 1, one.text);
    const none = await api('GET', `/v1/audit?${q}&until=${encodeURIComponent(since)}`);
    assert.equal(none.json.total, 0);
    assert.deepEqual(none.json.audit, []);
    for (const bad of ['since=yesterday', 'until=2026-02-30T00:00:00Z', 'since=2026-01-01', 'actor=', `action=${'a'.repeat(300)}`]) {
      jsonError(await api('GET', `/v1/audit?${bad}`), 400, bad);
    }
    for (const id of ids) assert.equal((await api('DELETE', `/v1/webhooks/${id}`)).status, 204);
  });

  test('webhooks: update, secret rotation, test delivery retried, delivery history', async () => {
    const got = [];
    let failNext = 1; // the first delivery fails, so the history shows a retry
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (failNext > 0) { failNext--; res.writeHead(503).end(); } else res.writeHead(204).end();
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    try {
      const url = `http://127.0.0.1:${srv.address().port}/hook`;
      const wh = await api('POST', '/v1/webhooks', { url: 'https://hooks.example.com/x', events: ['access_request.created'] });
      assert.equal(wh.status, 201, wh.text);
      const id = wh.json.id;
      // PATCH: bad values are 400 and change nothing; good ones are stored and audited.
      jsonError(await api('PATCH', `/v1/webhooks/${id}`, {}), 400, 'empty patch');
      jsonError(await api('PATCH', `/v1/webhooks/${id}`, { events: ['nope'] }), 400, 'unknown event');
      jsonError(await api('PATCH', `/v1/webhooks/${id}`, { url: 'http://example.com/hook' }), 400, 'http off loopback');
      jsonError(await api('PATCH', `/v1/webhooks/${id}`, { secret: 'x' }), 400, 'unknown field');
      assert.equal((await api('GET', `/v1/webhooks/${id}`)).json.url, 'https://hooks.example.com/x');
      const upd = await api('PATCH', `/v1/webhooks/${id}`, { url, events: ['credential.created', 'credential.rotated'] });
      assert.equal(upd.status, 200, upd.text);
      assert.equal(upd.json.url, url);
      assert.deepEqual(upd.json.events, ['credential.created', 'credential.rotated']);
      jsonError(await api('PATCH', `/v1/webhooks/${crypto.randomUUID()}`, { url }), 404, 'unknown webhook');

      // A new secret, shown once; deliveries are signed with it.
      const rot = await api('POST', `/v1/webhooks/${id}/rotate-secret`);
      assert.equal(rot.status, 200, rot.text);
      assert.match(rot.json.secret, /^whsec_/);
      assert.notEqual(rot.json.secret, wh.json.secret);
      assert.ok(!(await api('GET', `/v1/webhooks/${id}`)).text.includes(rot.json.secret));

      const t = await api('POST', `/v1/webhooks/${id}/test`);
      assert.equal(t.status, 202, t.text);
      assert.match(t.json.job_id, /^[0-9a-f-]{36}$/);
      const hist = await waitFor(async () => {
        const d = await api('GET', `/v1/webhooks/${id}/deliveries`);
        return d.json?.deliveries?.some((x) => x.ok) ? d : null;
      }, { timeoutMs: 15000, intervalMs: 200, what: 'a successful test delivery' });
      assert.equal(hist.json.total, 2, hist.text);
      const [second, first] = hist.json.deliveries;
      assert.deepEqual([first.attempt, first.ok, first.http_status, first.event], [1, false, 503, 'webhook.test']);
      assert.match(first.error, /503/);
      assert.deepEqual([second.attempt, second.ok, second.http_status, second.error], [2, true, 204, null]);
      assert.equal(second.job_id, t.json.job_id);
      assert.ok(Number.isInteger(second.duration_ms) && second.duration_ms >= 0);
      const last = got[got.length - 1];
      assert.equal(last.headers['x-clearance-event'], 'webhook.test');
      assert.equal(last.headers['x-clearance-signature'],
        `sha256=${crypto.createHmac('sha256', rot.json.secret).update(last.body).digest('hex')}`);
      const page = await api('GET', `/v1/webhooks/${id}/deliveries?limit=1`);
      assert.equal(page.json.deliveries.length, 1);
      assert.equal(page.json.next, `/v1/webhooks/${id}/deliveries?limit=1&offset=1`);
      jsonError(await api('GET', `/v1/webhooks/${crypto.randomUUID()}/deliveries`), 404, 'unknown webhook');
      jsonError(await api('GET', `/v1/webhooks/${id}/deliveries?limit=0`), 400, 'bad limit');

      const acts = await api('GET', `/v1/audit?target_type=webhook&target_id=${id}`);
      assert.deepEqual(acts.json.audit.map((a) => a.action), ['webhook.test', 'webhook.rotate_secret', 'webhook.update', 'webhook.create']);
      assert.equal((await api('DELETE', `/v1/webhooks/${id}`)).status, 204);
      assert.equal(await psql(`SELECT count(*) FROM webhook_deliveries WHERE webhook_id = :'id'`, { id }), '0');
    } finally {
      srv.close();
    }
  });

  test('tokens are stored under the pepper; a legacy SHA-256 row is upgraded on first use', async () => {
    const pepper = process.env.CLEARANCE_TOKEN_PEPPER;
    assert.ok(pepper, 'the stack sets CLEARANCE_TOKEN_PEPPER');
    // A developer session made by the service is peppered.
    const email = `pep-${uniq()}@example.com`;
    const password = 'a long enough passphrase 1';
    const reg = await api('POST', '/v1/developers', { email, password, name: 'pep' }, { token: null });
    assert.ok([200, 201].includes(reg.status), reg.text);
    const ses = await api('POST', '/v1/sessions', { email, password }, { token: null });
    assert.equal(ses.status, 201, ses.text);
    // Logins and failed logins are audited, with the account and the address.
    const wrong = await api('POST', '/v1/sessions', { email, password: 'not the passphrase at all' }, { token: null });
    assert.equal(wrong.status, 401, wrong.text);
    const failed = await api('GET', `/v1/audit?action=login.failed&actor=${encodeURIComponent(email)}`);
    assert.equal(failed.json.total, 1, failed.text);
    assert.equal(failed.json.audit[0].actor_role, 'none');
    assert.equal(failed.json.audit[0].request_id, wrong.headers.get('x-request-id'));
    const logins = await api('GET', `/v1/audit?action=login&actor=${encodeURIComponent(email)}`);
    assert.equal(logins.json.total, 1, logins.text);
    assert.equal(logins.json.audit[0].actor_role, 'developer');
    // App create and delete by the developer.
    const app = await api('POST', '/v1/apps', { name: 'audited app', redirect_uris: [] }, { token: ses.json.token });
    assert.equal(app.status, 201, app.text);
    assert.equal((await api('DELETE', `/v1/apps/${app.json.id}`, undefined, { token: ses.json.token })).status, 204);
    const appRows = await api('GET', `/v1/audit?target_type=app&target_id=${app.json.id}`);
    assert.deepEqual(appRows.json.audit.map((a) => a.action), ['app.delete', 'app.create']);
    assert.equal(appRows.json.audit[1].detail.name, 'audited app');
    assert.equal(appRows.json.audit[1].actor_name, email);

    const hmac = (t) => crypto.createHmac('sha256', pepper).update(t).digest('hex');
    const sha = (t) => crypto.createHash('sha256').update(t).digest('hex');
    assert.equal(await psql(`SELECT hash_alg FROM api_tokens WHERE token_hash = :'h'`, { h: hmac(ses.json.token) }), 'hmac-sha256');
    assert.equal(await psql(`SELECT count(*) FROM api_tokens WHERE token_hash = :'h'`, { h: sha(ses.json.token) }), '0');

    // A row from before the pepper: accepted, then rewritten under it.
    const legacy = `clr_adm_${crypto.randomBytes(32).toString('base64url')}`;
    const rowId = await psql(`INSERT INTO api_tokens (token_hash, role, name) VALUES (:'h', 'admin', 'legacy')
      RETURNING id`, { h: sha(legacy) });
    const first = await api('GET', '/v1/providers', undefined, { token: legacy });
    assert.equal(first.status, 200, first.text);
    assert.equal(await psql(`SELECT hash_alg || ' ' || token_hash FROM api_tokens WHERE id = :'id'`, { id: rowId }),
      `hmac-sha256 ${hmac(legacy)}`);
    assert.equal((await api('GET', '/v1/providers', undefined, { token: legacy })).status, 200, 'still valid after the upgrade');
    // The plain hash alone no longer opens anything.
    jsonError(await api('GET', '/v1/providers', undefined, { token: `${legacy}x` }), 401, 'wrong token');
    await psql(`UPDATE api_tokens SET revoked_at = now() WHERE id = :'id'`, { id: rowId });
  });
});
