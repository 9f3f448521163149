// The catalogue as code: `clearance-ctl apply -f FILE` and `export` against
// the running stack (nginx -> registrar/access), with a real oidc-provider
// behind the provider.  Other test files create objects at the same time, so
// every name here carries a unique suffix and the export round trip is
// compared on this test's objects only; --prune is exercised as a dry run
// (a real prune would delete the other files' objects).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Ajv2020 from 'ajv/dist/2020.js';
import { startIdp } from './lib/idp.mjs';
import { api, haveStack, BASE_URL, ADMIN_TOKEN } from './lib/api.mjs';

const BIN = process.env.CLEARANCE_BIN_DIR;
const skip = !haveStack() ? 'CLEARANCE_BASE_URL not set: run via make integration'
  : !BIN ? 'CLEARANCE_BIN_DIR not set' : false;
const u = crypto.randomBytes(4).toString('hex');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-apply-'));
const IAT_FILE = path.join(dir, 'iat');

// Asynchronous on purpose: the IdP runs in this process and must keep
// answering while clearance-ctl waits on the registrar, which waits on it.
function ctl(args, { env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(path.join(BIN, 'clearance-ctl'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        CLEARANCE_API_URL: BASE_URL,
        CLEARANCE_ADMIN_TOKEN: ADMIN_TOKEN,
        ...env,
      },
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

function writeDoc(doc) {
  const f = path.join(dir, `doc-${crypto.randomBytes(3).toString('hex')}.json`);
  fs.writeFileSync(f, JSON.stringify(doc, null, 2));
  return f;
}

const SCHEMA = JSON.parse(fs.readFileSync(new URL('../../deploy/catalogue.schema.json', import.meta.url), 'utf8'));
const validate = new Ajv2020({ allErrors: true, validateFormats: false }).compile(SCHEMA);

const lines = (out) => out.split('\n').filter((l) => /^[+~-] /.test(l)).sort();

describe('clearance-ctl apply / export', { skip }, () => {
  let idp;
  let doc;

  before(async () => {
    idp = await startIdp();
    fs.writeFileSync(IAT_FILE, `${idp.initialAccessToken}\n`);
    doc = {
      version: 1,
      providers: [{
        name: `cat-idp-${u}`,
        kind: 'other',
        well_known_url: idp.discoveryUrl,
        allow_insecure_http: true,
        initial_access_token: `file:${IAT_FILE}`,
        client_types: [{
          display_name: `machine-${u}`,
          grant_types: ['client_credentials'],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
        }],
      }],
      plans: [
        { name: `gold-${u}`, scopes: 'orders:read', rate_limit_requests: 10, rate_limit_window_seconds: 60 },
        { name: `free-${u}`, scopes: 'orders:read', monthly_quota: 1000 },
      ],
      products: [{
        name: `orders-${u}`,
        description: 'Orders API',
        path_prefixes: [`/api/orders-${u}/`],
        dcr_enabled: true,
        scopes: 'orders:read',
        auto_approve: false,
        plans: [`gold-${u}`, `free-${u}`],
        client_types: [{ provider: `cat-idp-${u}`, client_type: `machine-${u}` }],
      }],
      webhooks: [{ url: `https://hooks.example.test/${u}`, events: ['access_request.created'] }],
    };
  });

  after(async () => {
    await idp?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a bad file changes nothing and says why', async () => {
    const before = await ctl(['export']);
    assert.equal(before.status, 0, before.err);
    const literal = structuredClone(doc);
    literal.providers[0].initial_access_token = 'plain-secret-value';
    let r = await ctl(['apply', '-f', writeDoc(literal)]);
    assert.equal(r.status, 1);
    assert.match(r.err, /initial_access_token must be a reference/);
    assert.ok(!r.err.includes('plain-secret-value') || /reference/.test(r.err));
    const unknownPlan = structuredClone(doc);
    unknownPlan.products[0].plans.push(`nope-${u}`);
    r = await ctl(['apply', '-f', writeDoc(unknownPlan)]);
    assert.equal(r.status, 1);
    assert.match(r.err, new RegExp(`plan nope-${u} is not in the file or the catalogue`));
    const unknownField = structuredClone(doc);
    unknownField.plans[0].colour = 'gold';
    r = await ctl(['apply', '-f', writeDoc(unknownField)]);
    assert.equal(r.status, 1);
    assert.match(r.err, /unknown field "colour"/);
    const missingEnv = structuredClone(doc);
    missingEnv.providers[0].initial_access_token = `env:CLR_NOT_SET_${u}`;
    r = await ctl(['apply', '-f', writeDoc(missingEnv)]);
    assert.equal(r.status, 1);
    assert.match(r.err, /is not set/);
    r = await ctl(['apply', '-f', writeDoc(doc)], { env: { CLEARANCE_ADMIN_TOKEN: 'wrong' } });
    assert.equal(r.status, 1);
    assert.match(r.err, /HTTP 401/);
    assert.equal((await ctl(['apply'])).status, 2);
    const after = await ctl(['export']);
    assert.ok(!after.out.includes(`cat-idp-${u}`), 'nothing of this file was created');
  });

  test('dry run prints the plan and creates nothing; apply creates; re-apply changes nothing', async () => {
    const f = writeDoc(doc);
    const dry = await ctl(['apply', '-f', f, '--dry-run']);
    assert.equal(dry.status, 0, dry.err);
    assert.deepEqual(lines(dry.out), [
      `+ client_type cat-idp-${u}/machine-${u}`,
      `+ plan free-${u}`,
      `+ plan gold-${u}`,
      `+ product orders-${u}`,
      `+ provider cat-idp-${u}`,
      `+ webhook https://hooks.example.test/${u}`,
    ]);
    assert.match(dry.out, /dry run: would have 6 created, 0 updated, 0 deleted, 0 unchanged/);
    const pv = await api('GET', '/v1/providers');
    assert.ok(!pv.json.providers.some((p) => p.name === `cat-idp-${u}`), 'dry run wrote nothing');

    const first = await ctl(['apply', '-f', f]);
    assert.equal(first.status, 0, first.err);
    assert.match(first.out, /apply: 6 created, 0 updated, 0 deleted, 0 unchanged/);
    assert.match(first.out, /signing secret of https:\/\/hooks\.example\.test\/\S+ \(shown once\): whsec_/);
    assert.ok(!first.out.includes(idp.initialAccessToken), 'the secret is never printed');

    const prov = (await api('GET', '/v1/providers')).json.providers.find((p) => p.name === `cat-idp-${u}`);
    assert.ok(prov, 'provider created');
    assert.equal(prov.initial_access_token_set, true, 'the referenced secret was set');
    const prods = (await api('GET', '/v1/products')).json.products;
    const prod = prods.find((p) => p.name === `orders-${u}`);
    assert.equal(prod.plan_ids.length, 2);
    assert.equal(prod.client_type_ids.length, 1);

    const again = await ctl(['apply', '-f', f]);
    assert.equal(again.status, 0, again.err);
    assert.deepEqual(lines(again.out), []);
    assert.match(again.out, /apply: 0 created, 0 updated, 0 deleted, 6 unchanged/);
  });

  test('an edit applies exactly the difference', async () => {
    const edited = structuredClone(doc);
    edited.plans[0].rate_limit_requests = 20;
    edited.products[0].plans = [`gold-${u}`];
    edited.products[0].description = 'Orders API v2';
    edited.providers[0].client_types[0].description = 'Server-to-server';
    const f = writeDoc(edited);
    const dry = await ctl(['apply', '-f', f, '--dry-run']);
    assert.equal(dry.status, 0, dry.err);
    assert.deepEqual(lines(dry.out), [
      `~ client_type cat-idp-${u}/machine-${u}: description: "" -> "Server-to-server"`,
      `~ plan gold-${u}: rate_limit_requests: 10 -> 20`,
      `~ product orders-${u}: description: "Orders API" -> "Orders API v2"`,
      `~ product orders-${u}: plans: ["free-${u}","gold-${u}"] -> ["gold-${u}"]`,
    ]);
    const r = await ctl(['apply', '-f', f]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /apply: 0 created, 3 updated, 0 deleted, 3 unchanged/);
    const after = (await api('GET', '/v1/plans')).json.plans.find((p) => p.name === `gold-${u}`);
    assert.equal(after.rate_limit_requests, 20);
    assert.equal((await ctl(['apply', '-f', f])).out.match(/apply: (.*)/)[1], '0 created, 0 updated, 0 deleted, 6 unchanged');
    doc = edited;
  });

  test('export round trip: what export writes applies as no change', async () => {
    const out = path.join(dir, 'export.json');
    const r = await ctl(['export', '-o', out]);
    assert.equal(r.status, 0, r.err);
    const exp = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(exp.version, 1);
    assert.ok(validate(exp), `the export matches deploy/catalogue.schema.json: ${JSON.stringify(validate.errors)}`);
    assert.ok(validate(doc), 'the test file matches the schema');
    assert.equal(validate({ ...doc, colour: 1 }), false, 'the schema refuses unknown fields');
    assert.ok(!JSON.stringify(exp).includes(idp.initialAccessToken), 'no secrets in an export');
    const mine = {
      version: 1,
      providers: exp.providers.filter((p) => p.name === `cat-idp-${u}`),
      plans: exp.plans.filter((p) => p.name.endsWith(`-${u}`)),
      products: exp.products.filter((p) => p.name === `orders-${u}`),
      webhooks: exp.webhooks.filter((w) => w.url.endsWith(`/${u}`)),
    };
    assert.equal(mine.providers.length, 1);
    assert.equal(mine.plans.length, 2);
    assert.deepEqual(mine.products[0].plans, [`gold-${u}`]);
    assert.deepEqual(mine.products[0].client_types, [{ provider: `cat-idp-${u}`, client_type: `machine-${u}` }]);
    assert.equal(mine.plans.find((p) => p.name === `gold-${u}`).rate_limit_requests, 20);
    const again = await ctl(['apply', '-f', writeDoc(mine)]);
    assert.equal(again.status, 0, again.err);
    assert.match(again.out, /apply: 0 created, 0 updated, 0 deleted, 6 unchanged/);
  });

  test('--prune --dry-run lists what the file no longer names', async () => {
    const fewer = structuredClone(doc);
    fewer.plans = fewer.plans.filter((p) => p.name !== `free-${u}`);
    fewer.webhooks = [];
    const r = await ctl(['apply', '-f', writeDoc(fewer), '--prune', '--dry-run']);
    assert.equal(r.status, 0, r.err);
    assert.ok(r.out.includes(`- plan free-${u}\n`), r.out);
    assert.ok(r.out.includes(`- webhook https://hooks.example.test/${u}\n`), r.out);
    assert.ok(!r.out.includes(`- plan gold-${u}`));
  });
});
