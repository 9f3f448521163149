// clearance-ctl's operator switches used by the deployments: create-admin
// --if-absent (the docker compose bootstrap step, run on every start) and
// migrate --wait (the Kubernetes init container, started with the database).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { api, haveStack, DATABASE_URL } from './lib/api.mjs';
import { startIdp } from './lib/idp.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.CLEARANCE_BIN_DIR;
const skip = !haveStack() ? 'CLEARANCE_BASE_URL not set: run via make integration'
  : !BIN ? 'CLEARANCE_BIN_DIR not set' : false;

function ctl(args, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(path.join(BIN, 'clearance-ctl'), args, {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, CLEARANCE_DATABASE_URL: DATABASE_URL, ...env },
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, out, err }); });
  });
}

describe('clearance-ctl for deployments', { skip }, () => {
  test('create-admin --if-absent makes the admin once and succeeds again without a change', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-ctl-'));
    const pwFile = path.join(dir, 'pw');
    const password = `Bootstrap-${crypto.randomBytes(8).toString('hex')}`;
    fs.writeFileSync(pwFile, `${password}\n`);
    const email = `bootstrap-${crypto.randomBytes(4).toString('hex')}@example.test`;
    try {
      const args = ['create-admin', '--email', email, '--password-file', pwFile, '--if-absent'];
      const first = await ctl(args);
      assert.equal(first.status, 0, first.err);
      assert.match(first.out, /created admin/);
      const again = await ctl(args);
      assert.equal(again.status, 0, again.err);
      assert.match(again.out, /exists; nothing to do/);
      const strict = await ctl(args.filter((a) => a !== '--if-absent'));
      assert.equal(strict.status, 1, 'without --if-absent an existing account is an error');
      assert.match(strict.err, /exists/);
      const login = await api('POST', '/v1/sessions', { email, password }, { token: null });
      assert.equal(login.status, 201, login.text);
      assert.equal(login.json.role, 'admin');
      assert.equal((await ctl(['create-admin', '--if-absent', '--email'])).status, 2, 'usage');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('migrate --wait retries a database that is not there yet, then gives up', async () => {
    const ok = await ctl(['migrate', '--wait', '5']);
    assert.equal(ok.status, 0, ok.err);
    const down = await ctl(['migrate', '--wait', '2'], {
      CLEARANCE_DATABASE_URL: `host=${path.join(os.tmpdir(), 'clr-no-such-pg-dir')} dbname=x user=x`,
    });
    assert.equal(down.status, 1);
    assert.ok((down.err.match(/waiting for PostgreSQL/g) || []).length >= 2, down.err);
    assert.match(down.err, /cannot connect to PostgreSQL/);
    for (const bad of [['--wait', '0'], ['--wait', 'soon'], ['--wait'], ['--wait', '5', '--bogus']]) {
      assert.equal((await ctl(['migrate', ...bad])).status, 2, `usage: ${bad.join(' ')}`);
    }
  });

  // Key rotation k1 -> k2 as the README describes it, on the live database.
  // The services keep the stack's key, so the test rotates back at the end.
  test('reseal: rotate to a new key, drop the old one, every secret still opens', async () => {
    const old = process.env.CLEARANCE_SEAL_KEYS;
    assert.ok(old, 'the stack exports CLEARANCE_SEAL_KEYS');
    const kid = `rot${crypto.randomBytes(3).toString('hex')}`;
    const k2 = `${kid}:${crypto.randomBytes(32).toString('base64')}`;
    // Sealed values of every kind this test can make: a provider's initial
    // access token, a registration's secret and access token, a webhook secret.
    const idp = await startIdp();
    try {
      const pv = await api('POST', '/v1/providers', {
        name: `reseal-${kid}`, kind: 'other', well_known_url: idp.discoveryUrl,
        initial_access_token: idp.initialAccessToken, allow_insecure_http: true,
      });
      assert.equal(pv.status, 201, pv.text);
      const ct = await api('POST', `/v1/providers/${pv.json.id}/client-types`, {
        display_name: 'm2m', grant_types: ['client_credentials'], response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      });
      assert.equal(ct.status, 201, ct.text);
      const reg = await api('POST', '/v1/registrations', { client_type_id: ct.json.id, client_name: `reseal-${kid}` });
      assert.ok([201, 202].includes(reg.status), reg.text);
      const wh = await api('POST', '/v1/webhooks', { url: `https://hooks.example.test/reseal-${kid}`, events: ['access_request.created'] });
      assert.equal(wh.status, 201, wh.text);

      const before = await ctl(['reseal', '--check'], { CLEARANCE_SEAL_KEYS: k2 });
      assert.equal(before.status, 1, 'with only the new key the old values do not open');
      assert.match(before.err, /open with none of the keys given/);

      const first = await ctl(['reseal'], { CLEARANCE_SEAL_KEYS: `${k2},${old}` });
      assert.equal(first.status, 0, first.err);
      for (const col of ['providers.initial_access_token', 'registrations.client_secret',
        'registrations.registration_access_token', 'webhooks.secret']) {
        const m = first.out.match(new RegExp(`^${col.replace('.', '\\.')}: (\\d+) resealed, \\d+ already current, \\d+ changed meanwhile, 0 unreadable$`, 'm'));
        assert.ok(m && Number(m[1]) >= 1, `${col} resealed:\n${first.out}`);
      }
      assert.match(first.out, new RegExp(`every sealed value is under key ${kid}`));
      const again = await ctl(['reseal'], { CLEARANCE_SEAL_KEYS: `${k2},${old}` });
      assert.equal(again.status, 0, again.err);
      // Every sealed column (one line each, however many there are) has nothing left to do.
      const colLines = again.out.split('\n').filter((l) => /^[a-z_]+\.[a-z_]+: \d+ resealed,/.test(l));
      assert.ok(colLines.length >= 6, `every sealed column reported:\n${again.out}`);
      assert.ok(colLines.every((l) => / 0 resealed,/.test(l)), `idempotent:\n${again.out}`);

      const dropped = await ctl(['reseal', '--check'], { CLEARANCE_SEAL_KEYS: k2 });
      assert.equal(dropped.status, 0, `k1 dropped, everything opens with k2: ${dropped.err}`);
      assert.match(dropped.out, /every sealed value opens/);
    } finally {
      // Back under the stack's key for the services and the tests after this.
      const back = await ctl(['reseal'], { CLEARANCE_SEAL_KEYS: `${old},${k2}` });
      await idp.stop();
      assert.equal(back.status, 0, back.err);
      const ok = await ctl(['reseal', '--check'], { CLEARANCE_SEAL_KEYS: old });
      assert.equal(ok.status, 0, ok.err);
    }
  });
});
