// The developer portal in a real Chromium (Debian's chromium driven headless
// by playwright-core): the whole journey through the UI, rejection, password
// reset, CSRF, a keyboard-only request, axe-core on every page, screenshots
// of every page at desktop and phone width (build/portal-screenshots/).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startIdp, DEFAULT_SCOPES } from './lib/idp.mjs';
import { api, haveStack, waitFor, DATABASE_URL, STACK_DIR, BASE_URL } from './lib/api.mjs';
import {
  PASSWORD, uniq, makeAdmin, verifiedDev, mailedToken, apiCatalogue, readMail,
} from './lib/portal.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CLEARANCE_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'build', 'portal-screenshots');
const SCOPES = [...DEFAULT_SCOPES, 'plan:gold', 'plan:free'];

let chromium = null;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = null; }
const skip = !(haveStack() && DATABASE_URL && STACK_DIR) ? 'no stack: run via make integration'
  : !fs.existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (Debian package chromium)`
    : !chromium ? 'playwright-core is not installed (npm ci --prefix tests)' : false;

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

describe('developer portal in Chromium', { skip }, () => {
  let browser;
  let idp;
  let admin;
  before(async () => {
    idp = await startIdp({ scopes: SCOPES });
    admin = await makeAdmin();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000 });
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => { await browser?.close(); await idp?.stop(); });

  async function newPage(opts = {}) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused/.test(m.text())) problems.push(m.text()); });
    page.problems = problems;
    return page;
  }

  // Waits until the page has no API call in flight and has re-rendered after the last one.
  const idle = (page) => page.waitForFunction(() => document.body.dataset.inflight === '0', undefined, { timeout: 60000 });

  async function login(page, email, password = PASSWORD) {
    await page.goto(`${BASE_URL}/#/login`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForFunction(() => !location.hash.startsWith('#/login'));
  }

  // Generous per-test timeouts: the suite also runs against ASan-built services on a loaded machine.
  test('the whole journey in the UI: admin sets up, developer signs up and gets credentials that work at the gateway', { timeout: 240000 }, async () => {
    const sfx = uniq();
    const a = await newPage();
    await login(a, admin.email);
    await a.getByRole('heading', { level: 1, name: 'Pending requests' }).waitFor();
    // The session is an HttpOnly cookie, not a token the page's scripts could read.
    const cookies = await a.context().cookies();
    const ses = cookies.find((c) => c.name === 'clr_session');
    assert.ok(ses && ses.httpOnly && ses.sameSite === 'Lax', 'HttpOnly SameSite=Lax session cookie');
    assert.equal(await a.evaluate(() => document.cookie.includes('clr_session')), false);

    // Provider from the IdP's well-known URL; the verify result item by item.
    await a.goto(`${BASE_URL}/#/admin/providers`);
    await idle(a);
    await a.getByLabel('Provider name').fill(`idp-${sfx}`);
    await a.getByLabel('Discovery URL').fill(idp.discoveryUrl);
    await a.getByLabel('Initial access token').fill(idp.initialAccessToken);
    await a.getByLabel('Token audience').fill(idp.audience);
    await a.getByLabel('Allow plain http').check();
    await a.getByRole('button', { name: 'Create the provider' }).click();
    const checks = a.locator('#provider-created ul.checks li');
    await checks.first().waitFor();
    await idle(a);
    const items = await checks.allTextContents();
    assert.ok(items.length >= 2, `verify items: ${items}`);
    assert.ok(items.some((t) => /^discovery: passed/.test(t)), `discovery check shown: ${items}`);

    // A client type for it.
    const prov = a.getByRole('region', { name: `idp-${sfx}` });
    await prov.getByText(`New client type for idp-${sfx}`).click();
    await prov.getByLabel('Client type name').fill(`machine-${sfx}`);
    await prov.getByRole('button', { name: 'Add the client type' }).click();
    await a.getByRole('region', { name: `idp-${sfx}` }).getByRole('cell', { name: `machine-${sfx}` }).waitFor();
    await idle(a);

    // A plan, then a product with both, then its OpenAPI document.
    await a.goto(`${BASE_URL}/#/admin/products`);
    await idle(a);
    await a.getByText('New plan', { exact: true }).click();
    const plf = a.locator('#plan-form');
    await plf.getByLabel('Plan name').fill(`gold-${sfx}`);
    await plf.getByLabel('Scopes granted').fill('plan:gold');
    await plf.getByLabel('Rate limit: requests').fill('1000');
    await plf.getByLabel('Rate limit: window in seconds').fill('60');
    await a.getByRole('button', { name: 'Create the plan' }).click();
    await a.getByRole('cell', { name: `gold-${sfx}` }).waitFor();
    await idle(a);
    // Edit it: a monthly quota.
    await a.getByText(`Edit gold-${sfx}`, { exact: true }).click();
    const ple = a.locator('form[id^="plan-"]', { has: a.getByLabel(`Scopes of gold-${sfx}`) });
    await ple.getByLabel('Monthly quota').fill('5000');
    await ple.getByRole('button', { name: 'Save' }).click();
    await a.getByRole('cell', { name: '1000 requests per 60 s, 5000 per month' }).waitFor();
    await idle(a);
    await a.getByText('New product', { exact: true }).click();
    const pf = a.locator('#product-form');
    const prefix = `/api/ui${sfx}/`;
    await pf.getByLabel('Product name').fill(`orders-${sfx}`);
    await pf.getByLabel('Description (Markdown)').fill('The **orders** API.\n\n- list orders\n- <script>alert(1)</script>');
    await pf.getByLabel('Gateway path prefixes').fill(prefix);
    await pf.getByLabel('Scopes (space separated)').fill('orders:read');
    await pf.getByLabel(new RegExp(`^gold-${sfx}`)).check();
    await pf.getByLabel(new RegExp(`^machine-${sfx}`)).check();
    await a.getByRole('button', { name: 'Create the product' }).click();
    await a.getByRole('heading', { name: `orders-${sfx}` }).waitFor();
    await idle(a);
    await a.getByText(`API reference of orders-${sfx}`).click();
    const doc = { openapi: '3.0.3', info: { title: 'Orders', version: '1.0' }, paths: { '/orders': { get: { summary: 'List the orders', responses: { 200: { description: 'the orders' } } } } } };
    const products = (await api('GET', '/v1/products?limit=200', undefined, { token: admin.token })).json.products;
    const productId = products.find((p) => p.name === `orders-${sfx}`).id;
    await a.locator(`#openapi-${productId}`).getByLabel(/OpenAPI 3 document/).fill(JSON.stringify(doc));
    await a.locator(`#openapi-${productId}`).getByRole('button', { name: 'Attach the OpenAPI document' }).click();
    await waitFor(async () => (await api('GET', `/v1/products/${productId}/openapi`, undefined, { token: admin.token })).status === 200,
      { what: 'the OpenAPI document stored' });

    // The developer signs up and verifies the address from the SMTP catcher.
    const d = await newPage();
    const email = `ui-${sfx}@example.test`;
    await d.goto(`${BASE_URL}/#/signup`);
    await d.getByLabel('Your name').fill('UI Developer');
    await d.getByLabel('E-mail address').fill(email);
    await d.getByLabel('Password').fill(PASSWORD);
    await d.getByRole('button', { name: 'Sign up' }).click();
    await d.locator('#signup-done').waitFor();
    const vtok = await mailedToken(email, 'verify');
    await d.goto(`${BASE_URL}/#/verify/${vtok}`);
    await d.getByRole('heading', { level: 1, name: 'E-mail address confirmed' }).waitFor();
    await login(d, email);

    // Catalogue -> product (Markdown rendered safely, API reference) -> request access.
    await d.goto(`${BASE_URL}/#/catalogue`);
    await d.getByRole('link', { name: `orders-${sfx}` }).click();
    await d.getByRole('heading', { level: 1, name: `orders-${sfx}` }).waitFor();
    assert.equal(await d.locator('main strong', { hasText: 'orders' }).count(), 1, 'Markdown bold rendered');
    assert.equal(await d.locator('main script').count(), 0, 'no script element from Markdown');
    assert.ok((await d.locator('main').textContent()).includes('<script>alert(1)</script>'), 'HTML shown as text');
    await d.getByRole('heading', { name: /get \/orders/i }).waitFor();
    await d.getByText('List the orders').waitFor();
    await d.getByRole('link', { name: 'Request access' }).click();
    await d.getByLabel('New app name').fill(`app-${sfx}`);
    await d.getByLabel('Plan').selectOption({ label: `gold-${sfx} (1000 requests per 60 s, 5000 per month)` });
    await d.getByRole('button', { name: 'Send the request' }).click();
    await d.getByRole('heading', { level: 1, name: 'My apps' }).waitFor();
    const row = d.locator('tr[data-request]').filter({ hasText: `orders-${sfx}` });
    await row.getByText('pending').waitFor();

    // The admin approves from the queue.
    await a.goto(`${BASE_URL}/#/admin/queue`);
    await a.getByRole('button', { name: `Approve app-${sfx} for orders-${sfx}` }).click();
    // The developer's page updates by itself: provisioning -> active.
    await row.getByText('active').waitFor({ timeout: 30000 });

    await d.getByRole('button', { name: 'Show credentials' }).click();
    const cred = d.locator('.credential').first();
    await cred.waitFor();
    assert.equal(await cred.locator('.secret').textContent(), '••••••••••••', 'the secret is hidden until asked for');
    await cred.getByRole('button', { name: 'Reveal secret' }).click();
    const clientId = (await cred.locator('.client-id').textContent()).trim();
    const secret = (await cred.locator('.secret').textContent()).trim();
    assert.ok(clientId && secret && secret !== '••••••••••••');
    assert.equal((await cred.locator('.token-endpoint').textContent()).trim(), `${idp.url}/token`);
    const curl = await cred.locator('pre.curl').textContent();
    assert.ok(curl.includes(clientId) && curl.includes(secret) && curl.includes(`${idp.url}/token`), curl);

    // The test gets a token with what the page showed and calls through the gateway.
    const dir = path.join(STACK_DIR, 'www', prefix);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'item.json'), '{"item":7}\n');
    const tok = (await idp.token(clientId, secret, 'orders:read plan:gold')).access_token;
    assert.ok(tok, 'the IdP issues a token to the shown credentials');
    const call = await waitFor(async () => {
      const x = await api('GET', `${prefix}item.json`, undefined, { token: null, headers: { authorization: `Bearer ${tok}` } });
      return x.status === 200 ? x : null;
    }, { timeoutMs: 8000, what: 'the gateway lets the new client through' });
    assert.deepEqual(call.json, { item: 7 });

    // Logout ends the session on the server, not only in the browser.
    const c = (await d.context().cookies()).find((x) => x.name === 'clr_session');
    await d.getByRole('button', { name: /^Log out/ }).click();
    await d.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    const replay = await api('GET', '/v1/me', undefined, { token: null, headers: { cookie: `clr_session=${c.value}` } });
    assert.equal(replay.status, 401, 'the old cookie is dead after logout');
    assert.deepEqual([...a.problems, ...d.problems], [], 'no script error and no CSP refusal');
    await a.context().close();
    await d.context().close();
  });

  test('a rejection and its reason reach the developer\'s page', async () => {
    const cat = await apiCatalogue(idp, admin.token);
    const dev = await verifiedDev('rej');
    const rq = await api('POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId, app: { name: `rej-${uniq()}` } }, { token: dev.token });
    assert.equal(rq.status, 201, rq.text);
    const a = await newPage();
    await login(a, admin.email);
    await a.goto(`${BASE_URL}/#/admin/queue`);
    const form = a.locator(`#reject-${rq.json.id}`);
    await a.locator('tr', { has: form }).getByText('Reject…').click();
    // An empty reason is refused next to the field.
    await form.getByRole('button', { name: 'Reject' }).click();
    await form.locator('.err', { hasText: /required/ }).waitFor();
    await form.getByLabel(/Reason for rejecting/).fill('Use the sandbox product first.');
    await form.getByRole('button', { name: 'Reject' }).click();
    await waitFor(async () => (await api('GET', `/v1/access-requests/${rq.json.id}`, undefined, { token: dev.token })).json.status === 'rejected', { what: 'rejected' });

    const d = await newPage();
    await login(d, dev.email);
    await d.goto(`${BASE_URL}/#/apps`);
    const row = d.locator(`tr[data-request="${rq.json.id}"]`);
    await row.getByText('rejected').waitFor();
    await row.getByText('Use the sandbox product first.').waitFor();
    await a.context().close();
    await d.context().close();
  });

  test('password reset end to end: mail link, new password works once, old one does not', async () => {
    const dev = await verifiedDev('reset');
    const p = await newPage();
    await p.goto(`${BASE_URL}/#/forgot`);
    await p.getByLabel('E-mail address').fill(dev.email);
    await p.getByRole('button', { name: 'Send the link' }).click();
    await p.locator('#forgot-done').waitFor();
    const tok = await mailedToken(dev.email, 'reset');
    await p.goto(`${BASE_URL}/#/reset/${tok}`);
    // A weak password is refused next to the field, and the link is not used up.
    await p.getByLabel('New password').fill('short');
    await p.getByRole('button', { name: 'Set the password' }).click();
    const err = p.locator('[data-field="password"] .err');
    await err.waitFor();
    assert.ok((await err.textContent()).length > 5);
    assert.equal(await p.getByLabel('New password').getAttribute('aria-invalid'), 'true');
    const NEW = 'a brand new passphrase 42';
    await p.getByLabel('New password').fill(NEW);
    await p.getByRole('button', { name: 'Set the password' }).click();
    await p.locator('#reset-done').waitFor();
    // The bearer session made before the reset is ended.
    assert.equal((await api('GET', '/v1/me', undefined, { token: dev.token })).status, 401);
    // Used once: the same link again is refused in words.
    await p.goto(`${BASE_URL}/#/`);
    await p.goto(`${BASE_URL}/#/reset/${tok}`);
    await p.getByLabel('New password').fill('another passphrase 43');
    await p.getByRole('button', { name: 'Set the password' }).click();
    await p.getByText(/invalid, was already used or has expired/).waitFor();
    // The old password fails with a message in the form; the new one logs in.
    await p.goto(`${BASE_URL}/#/login`);
    await p.getByLabel('E-mail address').fill(dev.email);
    await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('alert').filter({ hasText: 'wrong e-mail address or password' }).waitFor();
    await login(p, dev.email, NEW);
    await p.getByRole('heading', { level: 1, name: 'My apps' }).waitFor();
    await p.context().close();
  });

  test('CSRF: a cross-origin form post with the admin\'s cookie is refused and changes nothing', async () => {
    const cat = await apiCatalogue(idp, admin.token);
    const dev = await verifiedDev('csrf');
    const rq = await api('POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId, app: { name: `csrf-${uniq()}` } }, { token: dev.token });
    assert.equal(rq.status, 201, rq.text);
    // An attacker's page on another origin (another port: same site, so SameSite=Lax still sends the cookie).
    const evil = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form id=f method=post action="${BASE_URL}/v1/access-requests/${rq.json.id}/approve">`
        + '<input name=x value=1></form><script>document.getElementById("f").submit()</script>');
    });
    evil.listen(0, '127.0.0.1');
    await once(evil, 'listening');
    try {
      const a = await newPage();
      await login(a, admin.email);
      const resp = a.waitForResponse((r) => r.url().includes('/approve'));
      await a.goto(`http://127.0.0.1:${evil.address().port}/`);
      const r = await resp;
      assert.equal(r.status(), 403, 'the forged approval is refused');
      assert.equal(r.request().headers().origin, `http://127.0.0.1:${evil.address().port}`);
      assert.match(await r.text(), /csrf_rejected/);
      const st = await api('GET', `/v1/access-requests/${rq.json.id}`, undefined, { token: admin.token });
      assert.equal(st.json.status, 'pending', 'nothing changed');
      await a.context().close();
    } finally { evil.close(); }
  });

  test('keyboard only: request access from the product page without the mouse', async () => {
    const cat = await apiCatalogue(idp, admin.token);
    const dev = await verifiedDev('kbd');
    const p = await newPage();
    await login(p, dev.email);
    await p.goto(`${BASE_URL}/#/products/${cat.productId}`);
    await p.getByRole('heading', { level: 1, name: cat.productName }).waitFor();
    const tabTo = async (pred, what, max = 60) => {
      for (let i = 0; i < max; i++) {
        await p.keyboard.press('Tab');
        if (await p.evaluate(pred)) return;
      }
      throw new Error(`Tab never reached ${what}`);
    };
    await tabTo(() => document.activeElement.id === 'request-access', 'the Request access link');
    // The focused element has a visible focus indicator.
    const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'visible focus');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: /Request access/ }).waitFor();
    await tabTo(() => document.activeElement.name === 'app_name', 'the app name field');
    const app = `kbd-${uniq()}`;
    await p.keyboard.type(app);
    await tabTo(() => document.activeElement.type === 'submit', 'the submit button');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: 'My apps' }).waitFor();
    await p.locator('tr[data-request]').filter({ hasText: cat.productName }).getByText('pending').waitFor();
    const list = await api('GET', '/v1/apps', undefined, { token: dev.token });
    assert.ok(list.json.apps.some((x) => x.name === app), 'the app was created');
    await p.context().close();
  });

  test('axe-core finds no serious or critical violation on any page; screenshots at desktop and phone width', { timeout: 420000 }, async () => {
    const axeSrc = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    const cat = await apiCatalogue(idp, admin.token);
    await api('PUT', `/v1/products/${cat.productId}/openapi`, { openapi: '3.0.3', info: { title: 'T', version: '1' }, paths: { '/x': { get: { summary: 'x', parameters: [{ name: 'id', in: 'query', schema: { type: 'string' } }], responses: { 200: { description: 'ok' } } } } } }, { token: admin.token });
    const dev = await verifiedDev('axe');
    const rq = await api('POST', '/v1/access-requests', { product_id: cat.productId, plan_id: cat.planId, client_type_id: cat.ctId, app: { name: `axe-${uniq()}` } }, { token: dev.token });
    assert.equal(rq.status, 201);
    const pages = {
      anonymous: [['home', '#/'], ['login', '#/login'], ['signup', '#/signup'], ['forgot', '#/forgot'], ['reset', '#/reset/clr_rst_x'], ['verify-bad', '#/verify/clr_vfy_x']],
      dev: [['catalogue', '#/catalogue'], ['product', `#/products/${cat.productId}`], ['request', `#/request/${cat.productId}`], ['apps', '#/apps'], ['account', '#/account']],
      admin: [['admin-queue', '#/admin/queue'], ['admin-requests', '#/admin/requests'], ['admin-developers', '#/admin/developers'], ['admin-products', '#/admin/products'],
        ['admin-providers', '#/admin/providers'], ['admin-registrations', '#/admin/registrations'], ['admin-webhooks', '#/admin/webhooks'], ['admin-audit', '#/admin/audit']],
    };
    const found = [];
    let shots = 0;
    for (const [who, list] of Object.entries(pages)) {
      // bypassCSP only so the test can inject axe; the app itself never needs it.
      const p = await newPage({ bypassCSP: true });
      if (who === 'dev') await login(p, dev.email);
      if (who === 'admin') await login(p, admin.email);
      for (const [name, hash] of list) {
        await p.goto(`${BASE_URL}/${hash}`);
        await p.waitForFunction(() => document.body.dataset.ready === '1' && !document.querySelector('main p')?.textContent.startsWith('Loading'));
        await p.waitForTimeout(300);
        // Open every disclosure so the forms inside are checked too.
        await p.evaluate(() => document.querySelectorAll('details').forEach((x) => { x.open = true; }));
        await p.addScriptTag({ content: axeSrc });
        const res = await p.evaluate(async () => axe.run(document, { resultTypes: ['violations'] }));
        for (const v of res.violations) {
          if (v.impact === 'serious' || v.impact === 'critical') {
            found.push(`${name}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
          }
        }
        for (const [w, vw] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
          await p.setViewportSize(vw);
          const file = path.join(SHOTS, `${name}-${w}.png`);
          await p.screenshot({ path: file, fullPage: true, animations: 'disabled', timeout: 90000 });
          assert.ok(fs.statSync(file).size > 1000, `${file} written`);
          shots++;
          if (w === 'phone') {
            const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 1, `${name}: no horizontal scrolling at phone width (${overflow}px too wide)`);
          }
        }
        await p.setViewportSize({ width: 1280, height: 900 });
      }
      await p.context().close();
    }
    assert.deepEqual(found, [], 'axe: serious/critical violations');
    assert.equal(shots, 2 * Object.values(pages).flat().length);
  });
});
