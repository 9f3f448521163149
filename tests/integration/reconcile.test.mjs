// Reconciling what an IdP holds with what Clearance stores (issue 13),
// against the IdP stub playing Glewlwyd's documented admin API (client list
// and delete with an API key) and its registration, which keeps Clearance's
// tag in the client's description:
//   - a lost answer (the IdP created the client, then broke the connection)
//     is looked up by its tag at once and adopted: one client, active;
//   - a reconcile run sorts the listed clients (matched, stray, foreign,
//     unknown_found, missing) and acts per policy: report and dry runs change
//     nothing; adopt makes a parked registration's client its own; delete
//     removes strays and the clients of orphaned registrations (then retired);
//     clients Clearance did not create are never touched;
//   - a parked registration with no tagged client, past the grace period, is
//     resolved as gone;
//   - a family that cannot list says "unsupported"; bad input is refused
//     and changes nothing; /metrics and clearance-ctl show the counts;
//   - and, when the Debian package is installed, the same against a real
//     Glewlwyd 2.7 (the tag kept and listed, an admin API key).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { api, haveStack, waitFor, DATABASE_URL } from './lib/api.mjs';
import { startIdpStub } from './lib/idp-stub.mjs';
import { startGlewlwyd, haveGlewlwyd, REGISTRATION_SCOPE } from './lib/glewlwyd.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.CLEARANCE_BIN_DIR;
const noStack = haveStack() && DATABASE_URL ? false : 'run via make integration';
const uniq = () => crypto.randomBytes(4).toString('hex');
const TAG = 'clearance-registration:';

function sql(text) {
  return execFileSync('psql', [DATABASE_URL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'],
    { input: text, encoding: 'utf8', timeout: 15000 }).trim();
}

function ctl(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(path.join(BIN, 'clearance-ctl'), args, {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, CLEARANCE_DATABASE_URL: DATABASE_URL },
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 90000);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, out, err }); });
  });
}

async function rowsOf(providerId) {
  const r = await api('GET', `/v1/registrations?provider_id=${providerId}&limit=200`);
  assert.equal(r.status, 200, r.text);
  return r.json.registrations;
}

async function rowNamed(providerId, name) {
  const rows = await rowsOf(providerId);
  return rows.find((x) => x.client_name === name);
}

// Registers name; waits for a queued (202) registration to settle.
async function register(ctId, providerId, name) {
  const r = await api('POST', '/v1/registrations', { client_type_id: ctId, client_name: name }, { timeoutMs: 60000 });
  assert.ok([201, 202, 502, 504].includes(r.status), `${name}: ${r.status} ${r.text}`);
  let row;
  await waitFor(async () => {
    row = await rowNamed(providerId, name);
    return row && row.status !== 'pending';
  }, { timeoutMs: 60000, intervalMs: 300, what: `${name} settled` });
  return row;
}

// Queues a run (POST), waits for its job, returns GET .../reconcile.
async function reconcile(providerId, query = '') {
  const r = await api('POST', `/v1/providers/${providerId}/reconcile${query}`);
  assert.equal(r.status, 202, r.text);
  assert.match(r.headers.get('location'), /^\/v1\/jobs\//);
  await waitFor(async () => (await api('GET', `/v1/jobs/${r.json.job_id}`)).json.state === 'done',
    { timeoutMs: 60000, intervalMs: 250, what: 'the reconcile job finished' });
  const g = await api('GET', `/v1/providers/${providerId}/reconcile`);
  assert.equal(g.status, 200, g.text);
  return g.json;
}

describe('reconcile (issue 13)', { skip: noStack }, () => {
  let stub, prov, ct;
  const t = uniq();
  const names = {
    ok: `m-ok-rc-${t}`, cb: `m-create_break-rc-${t}`, hang: `m-hang-rc-${t}`,
    hang2: `m-hang-rc2-${t}`, gone: `m-ok-gone-${t}`, dup: `m-ok-dup-${t}`,
  };
  const rows = {};

  before(async () => {
    stub = await startIdpStub();
    let r = await api('POST', '/v1/providers', {
      name: `rc-glw-${t}`, kind: 'glewlwyd', well_known_url: stub.oidcDiscoveryUrl, allow_insecure_http: true,
      initial_client_id: 'registrar', initial_client_secret: 'registrar-secret',
    });
    assert.equal(r.status, 201, r.text);
    prov = r.json;
    r = await api('POST', `/v1/providers/${prov.id}/client-types`, {
      display_name: `cc-${t}`, description: 'reconcile', response_types: [],
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(r.status, 201, r.text);
    ct = r.json;
  });
  after(async () => { await stub?.stop(); });

  test('the registrar keeps one periodic reconcile job queued (CLEARANCE_RECONCILE_INTERVAL)', () => {
    const n = Number(sql(`SELECT count(*) FROM jobs WHERE kind = 'reconcile'
      AND payload @> '{"periodic":true}'::jsonb AND state IN ('queued', 'running')`));
    assert.ok(n >= 1, `${n} periodic reconcile jobs queued`);
  });

  test('settings: the listing credential is sealed and never shown; bad input changes nothing', async () => {
    let r = await api('GET', `/v1/providers/${prov.id}/reconcile`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.policy, r.json.has_credential, r.json.can_list, r.json.last_run],
      ['report', false, true, null]);
    r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { policy: 'nuke', credential: stub.adminKey });
    assert.equal(r.status, 400, r.text);
    r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { colour: 'red' });
    assert.equal(r.status, 400, r.text);
    r = await api('PUT', `/v1/providers/${crypto.randomUUID()}/reconcile`, { policy: 'delete' });
    assert.equal(r.status, 404, r.text);
    r = await api('POST', `/v1/providers/${prov.id}/reconcile?policy=burn`);
    assert.equal(r.status, 400, r.text);
    r = await api('POST', `/v1/providers/${prov.id}/reconcile?dry_run=maybe`);
    assert.equal(r.status, 400, r.text);
    r = await api('POST', `/v1/providers/${crypto.randomUUID()}/reconcile`);
    assert.equal(r.status, 404, r.text);
    r = await api('GET', `/v1/providers/${prov.id}/reconcile`);
    assert.deepEqual([r.json.policy, r.json.has_credential, r.json.last_run], ['report', false, null]);

    r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { credential: stub.adminKey });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.has_credential, true);
    assert.ok(!r.text.includes(stub.adminKey));
    const stored = sql(`SELECT reconcile_credential_sealed FROM providers WHERE id = '${prov.id}'`);
    assert.ok(stored.startsWith('v1.') && !stored.includes(stub.adminKey), 'sealed at rest');
  });

  test('a lost answer is found by its tag and adopted at once: one client, active', async () => {
    for (const k of ['ok', 'cb', 'hang', 'hang2', 'gone', 'dup']) {
      rows[k] = await register(ct.id, prov.id, names[k]);
    }
    assert.equal(rows.ok.status, 'active');
    const okClient = stub.clients.get(rows.ok.client_id);
    assert.equal(okClient.description, `${TAG}${rows.ok.id}`, 'the tag is in what was registered');
    assert.equal(rows.cb.status, 'active', `create_break adopted: ${rows.cb.last_error}`);
    const held = stub.named(names.cb);
    assert.equal(held.length, 1, 'exactly one client for the broken answer');
    assert.equal(rows.cb.client_id, held[0].client_id);
    assert.equal(rows.hang.status, 'outcome_unknown', 'nothing was created: still parked');
    assert.equal(stub.named(names.hang).length, 0);
  });

  test('dry run and report: sorted and counted, nothing changed', async () => {
    // A second client for the ok intent (a stray), the client the hang intent's
    // attempt made after all (found later), a client of someone else, and one
    // tagged with a uuid that names no registration here (not ours either).
    const stray = stub.addClient({ client_name: names.dup, description: `${TAG}${rows.dup.id}` });
    const late = stub.addClient({ client_name: names.hang, description: `${TAG}${rows.hang.id}` });
    const foreign = stub.addClient({ client_name: `someone-else-${t}` });
    const other = stub.addClient({ client_name: `other-install-${t}`, description: `${TAG}${crypto.randomUUID()}` });
    // The gone intent's client vanished at the IdP behind Clearance's back.
    stub.clients.delete(rows.gone.client_id);
    Object.assign(rows, { stray, late, foreign, other });
    const before = stub.clients.size;

    let rep = await reconcile(prov.id, '?policy=delete&dry_run=true');
    assert.equal(rep.last_run.status, 'ok', JSON.stringify(rep));
    assert.equal(rep.last_run.dry_run, true);
    assert.equal(rep.last_run.policy, 'delete');
    const c = rep.last_run.counts;
    assert.equal(c.matched, 3, JSON.stringify(c)); // ok, cb, dup
    assert.equal(c.stray, 1, JSON.stringify(c));
    assert.equal(c.unknown_found, 1, JSON.stringify(c));
    assert.ok(c.foreign >= 2, JSON.stringify(c));
    assert.equal(c.missing, 1, JSON.stringify(c));
    assert.equal(c.deleted + c.orphaned + c.unknown_adopted + c.unknown_gone, 0, 'a dry run acts on nothing');
    assert.equal(stub.clients.size, before);
    assert.equal((await rowNamed(prov.id, names.gone)).status, 'active');
    assert.equal((await rowNamed(prov.id, names.hang)).status, 'outcome_unknown');

    rep = await reconcile(prov.id); // the stored policy: report
    assert.equal(rep.last_run.policy, 'report');
    assert.equal(rep.last_run.dry_run, false);
    assert.equal(rep.last_run.counts.stray, 1);
    assert.equal(rep.last_run.counts.deleted, 0);
    assert.ok(!stub.clients.get(stray.client_id).disabled, 'report deletes nothing');
  });

  test('adopt: the parked intent takes its client; missing ones are orphaned; strays stay', async () => {
    const rep = await reconcile(prov.id, '?policy=adopt');
    const c = rep.last_run.counts;
    assert.equal(c.unknown_adopted, 1, JSON.stringify(c));
    assert.equal(c.orphaned, 1, JSON.stringify(c));
    const hang = await rowNamed(prov.id, names.hang);
    assert.equal(hang.status, 'active');
    assert.equal(hang.client_id, rows.late.client_id);
    const gone = await rowNamed(prov.id, names.gone);
    assert.equal(gone.status, 'orphaned');
    assert.match(gone.last_error, /no longer lists/);
    assert.ok(!stub.clients.get(rows.stray.client_id).disabled, 'adopt deletes no stray');
    const g = await api('GET', `/v1/providers/${prov.id}/reconcile`);
    assert.equal(g.json.last_run.counts.unknown_adopted, 1);
  });

  test('delete: strays go, clients Clearance did not create stay, an old empty parked intent is gone', async () => {
    // hang2 parked with no client: past the grace period, the listing proves none exists.
    sql(`UPDATE registrations SET idp_attempt_at = now() - interval '10 minutes',
         updated_at = now() - interval '10 minutes' WHERE id = '${rows.hang2.id}'`);
    // An orphaned registration (its deletion was refused) whose client is still listed.
    const orph = await register(ct.id, prov.id, `m-ok-orph-${t}`);
    assert.equal(orph.status, 'active');
    sql(`UPDATE registrations SET status = 'orphaned', last_error = 'test: the IdP refused the deletion'
         WHERE id = '${orph.id}'`);
    const calls = stub.adminCalls.length;
    const rep = await reconcile(prov.id, '?policy=delete');
    const c = rep.last_run.counts;
    assert.equal(c.stray, 1, JSON.stringify(c));
    assert.equal(c.deleted, 2, JSON.stringify(c));
    assert.equal(c.retired, 1, JSON.stringify(c));
    assert.equal(c.unknown_gone, 1, JSON.stringify(c));
    assert.equal(c.failed_actions, 0, JSON.stringify(c));
    assert.ok(stub.clients.get(rows.stray.client_id).disabled, 'the stray is deleted at the IdP');
    assert.ok(!stub.clients.get(rows.foreign.client_id).disabled, 'a client without our tag is untouched');
    assert.ok(!stub.clients.get(rows.other.client_id).disabled, 'a tag naming no registration here: untouched');
    for (const k of ['ok', 'cb']) assert.ok(!stub.clients.get(rows[k].client_id).disabled);
    const deletes = stub.adminCalls.slice(calls).filter((x) => x.startsWith('DELETE')).sort();
    assert.deepEqual(deletes, [`DELETE /api/client/${orph.client_id}`, `DELETE /api/client/${rows.stray.client_id}`].sort());
    const retired = await rowNamed(prov.id, `m-ok-orph-${t}`);
    assert.equal(retired.status, 'deleted');
    assert.match(retired.last_error, /reconcile deleted its client/);
    const audited = sql(`SELECT action || ' ' || target_id || ' ' || coalesce(detail->>'client_id', '')
      FROM audit_log WHERE actor_name = 'reconcile' AND detail->>'provider_id' = '${prov.id}' ORDER BY id`);
    assert.match(audited, new RegExp(`registration.reconcile_adopt ${rows.hang.id} ${rows.late.client_id}`));
    assert.match(audited, new RegExp(`registration.reconcile_orphaned ${rows.gone.id}`));
    assert.match(audited, new RegExp(`provider.reconcile_delete ${prov.id} ${rows.stray.client_id}`));
    assert.match(audited, new RegExp(`registration.reconcile_gone ${rows.hang2.id}`));
    assert.match(audited, new RegExp(`registration.reconcile_retire ${orph.id} ${orph.client_id}`));
    const h2 = await rowNamed(prov.id, names.hang2);
    assert.equal(h2.status, 'failed');
    assert.match(h2.last_error, /tag/);
    // The next run finds everything in order.
    const again = await reconcile(prov.id, '?policy=delete');
    assert.equal(again.last_run.counts.stray, 0);
    assert.equal(again.last_run.counts.deleted, 0);
    assert.equal(again.last_run.counts.missing, 0);
  });

  test('a family that cannot list says so; a listing failure is stored as an error', async () => {
    let r = await api('POST', '/v1/providers', {
      name: `rc-other-${t}`, kind: 'other', well_known_url: stub.discoveryUrl, allow_insecure_http: true,
    });
    assert.equal(r.status, 201, r.text);
    const other = r.json;
    let rep = await reconcile(other.id);
    assert.equal(rep.can_list, false);
    assert.equal(rep.last_run.status, 'unsupported');
    assert.match(rep.last_run.last_error, /no client listing/);
    // A wrong admin key: an error run, with the key nowhere in it.
    r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { credential: 'wrong-key-0123456789' });
    assert.equal(r.status, 200, r.text);
    rep = await reconcile(prov.id, '?policy=delete');
    assert.equal(rep.last_run.status, 'error');
    assert.match(rep.last_run.last_error, /401|refused|unauthorized/i);
    assert.ok(!JSON.stringify(rep).includes('wrong-key-0123456789'));
    r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { credential: stub.adminKey });
    assert.equal(r.status, 200, r.text);
  });

  test('metrics and clearance-ctl reconcile show the counts', { skip: !BIN && 'CLEARANCE_BIN_DIR not set' }, async () => {
    const res = await ctl(['reconcile', '--provider', prov.id, '--dry-run', '--policy', 'delete']);
    assert.equal(res.status, 0, `${res.out}${res.err}`);
    assert.match(res.out, new RegExp(`rc-glw-${t} \\(glewlwyd, ${prov.id}\\): ok, policy delete, dry run: listed \\d+, matched 4, stray 0`));
    const bad = await ctl(['reconcile', '--policy', 'burn']);
    assert.equal(bad.status, 2);
    const m = await api('GET', '/registrar/metrics', undefined, { token: null });
    assert.equal(m.status, 200);
    assert.match(m.text, new RegExp(`clearance_reconcile_clients\\{provider="${prov.id}",class="matched"\\} 4`));
    assert.match(m.text, /clearance_reconcile_runs_total\{status="ok"\} \d+/);
    assert.match(m.text, new RegExp(`clearance_reconcile_last_run_timestamp_seconds\\{provider="${prov.id}",status="ok"\\} \\d+`));
  });

  test('a retried job whose earlier attempt never stored its answer adopts the tagged client, creates none', async () => {
    // The registrar died after the IdP created the client and before COMMIT:
    // the intent mark stays on the pending row, the client carries its tag.
    const id = crypto.randomUUID();
    const name = `m-ok-retry-${t}`;
    sql(`INSERT INTO registrations (id, provider_id, client_type_id, client_name, status, idp_attempt_at,
         idp_attempts) VALUES ('${id}', '${prov.id}', '${ct.id}', '${name}', 'pending', now(), 1)`);
    const made = stub.addClient({ client_name: name, description: `${TAG}${id}` });
    const payload = JSON.stringify({ registration_id: id, client_type_id: ct.id, client_name: name });
    const job = sql(`BEGIN; INSERT INTO jobs (kind, payload) VALUES ('register', '${payload}'::jsonb) RETURNING id;
      SELECT pg_notify('clearance_jobs', 'x'); COMMIT;`).split('\n')[0];
    await waitFor(async () => (await api('GET', `/v1/jobs/${job}`)).json.state === 'done',
      { timeoutMs: 60000, intervalMs: 250, what: 'the register job finished' });
    const row = (await api('GET', `/v1/registrations/${id}`)).json;
    assert.equal(row.status, 'active', row.last_error);
    assert.equal(row.client_id, made.client_id);
    assert.equal(stub.named(name).length, 1, 'no second client for the intent');
  });
});

// The same against a real Glewlwyd 2.7: the tag really is kept and listed,
// and the admin API key really lists and deletes.
describe('reconcile against a real Glewlwyd (issue 13)', { skip: noStack || (!haveGlewlwyd() && 'glewlwyd not installed') }, () => {
  let g, prov, ct;
  const t = uniq();

  before(async () => {
    g = await startGlewlwyd({ scopes: ['api:read'] });
    let r = await api('POST', '/v1/providers', {
      name: `rc-real-glw-${t}`, kind: 'glewlwyd', well_known_url: g.discoveryUrl, allow_insecure_http: true,
      initial_client_id: g.registrar.id, initial_client_secret: g.registrar.secret,
      initial_token_scope: REGISTRATION_SCOPE,
    });
    assert.equal(r.status, 201, r.text);
    prov = r.json;
    r = await api('POST', `/v1/providers/${prov.id}/client-types`, {
      display_name: `cc-${t}`, description: 'reconcile', response_types: [],
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(r.status, 201, r.text);
    ct = r.json;
  });
  after(async () => { await g?.stop(); });

  // A client registered straight at Glewlwyd (RFC 7591), as a lost attempt would have.
  async function registerAtIdp(name, tag) {
    const r = await fetch(g.registrationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await g.initialAccessToken()}` },
      body: JSON.stringify({
        client_name: name, redirect_uris: ['https://clearance.invalid/no-redirect'], response_types: [],
        grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
        description: `${TAG}${tag}`,
      }),
    });
    const text = await r.text();
    assert.ok(r.status === 200 || r.status === 201, `RFC 7591 at Glewlwyd: ${r.status} ${text}`);
    return JSON.parse(text);
  }
  const enabledAt = async (clientId) => {
    try { return (await g.admin('GET', `client/${encodeURIComponent(clientId)}`)).enabled; } catch { return false; }
  };

  test('tagged registration, dry run, adopt and delete with an admin API key', async () => {
    const active = await register(ct.id, prov.id, `real-active-${t}`);
    assert.equal(active.status, 'active', active.last_error);
    const atIdp = await g.admin('GET', `client/${encodeURIComponent(active.client_id)}`);
    assert.equal(atIdp.description, `${TAG}${active.id}`, 'Glewlwyd keeps the tag Clearance registered');

    const parkedId = crypto.randomUUID();
    sql(`INSERT INTO registrations (id, provider_id, client_type_id, client_name, status, idp_attempt_at,
         idp_attempts, last_error) VALUES ('${parkedId}', '${prov.id}', '${ct.id}', 'real-parked-${t}',
         'outcome_unknown', now(), 1, 'test: the answer was lost')`);
    const lost = await registerAtIdp(`real-parked-${t}`, parkedId);
    const stray = await registerAtIdp(`real-active-${t}`, active.id);

    let r = await api('PUT', `/v1/providers/${prov.id}/reconcile`, { credential: await g.apiKey() });
    assert.equal(r.status, 200, r.text);
    let rep = await reconcile(prov.id, '?policy=delete&dry_run=true');
    assert.equal(rep.last_run.status, 'ok', JSON.stringify(rep.last_run));
    let c = rep.last_run.counts;
    assert.equal(c.matched, 1, JSON.stringify(c));
    assert.equal(c.stray, 1, JSON.stringify(c));
    assert.equal(c.unknown_found, 1, JSON.stringify(c));
    assert.ok(c.foreign >= 1, `the registrar's own client is foreign: ${JSON.stringify(c)}`);
    assert.equal(c.deleted, 0);

    rep = await reconcile(prov.id, '?policy=adopt');
    assert.equal(rep.last_run.counts.unknown_adopted, 1, JSON.stringify(rep.last_run));
    const adopted = (await api('GET', `/v1/registrations/${parkedId}`)).json;
    assert.equal(adopted.status, 'active');
    assert.equal(adopted.client_id, lost.client_id);
    assert.equal(await enabledAt(stray.client_id), true, 'adopt deletes no stray');

    rep = await reconcile(prov.id, '?policy=delete');
    c = rep.last_run.counts;
    assert.equal(c.deleted, 1, JSON.stringify(c));
    assert.equal(c.failed_actions, 0, JSON.stringify(c));
    assert.equal(c.matched, 2, JSON.stringify(c));
    assert.equal(await enabledAt(stray.client_id), false, 'the stray is gone at Glewlwyd');
    for (const id of [active.client_id, lost.client_id, g.registrar.id]) {
      assert.equal(await enabledAt(id), true, `${id} untouched`);
    }
  });
});
