// The portal: a hash router, the session (cookie; /v1/me tells who we are),
// branding from /config.json, and the developer pages.  Admin pages are in
// admin.js.  Every page talks only to the JSON API of the same origin.
import { api, get, post, patch, del, ApiError } from './api.js';
import { h, md, field, form, announce, statusBadge, table, errorBox, fmtDate, showError } from './ui.js';
import { renderOpenApi } from './openapi.js';
import { adminRoutes } from './admin.js';

export const state = { me: null, config: null, timers: [] };

// ---------------------------------------------------------------- shell
async function loadConfig() {
  try {
    const r = await fetch('/config.json', { cache: 'no-cache' });
    state.config = r.ok ? await r.json() : {};
  } catch { state.config = {}; }
  const c = state.config;
  if (c.colors && typeof c.colors === 'object') {
    for (const [k, v] of Object.entries(c.colors)) {
      if (/^[a-z-]+$/.test(k) && typeof v === 'string') document.documentElement.style.setProperty(`--color-${k}`, v);
    }
  }
  if (c.name) { document.getElementById('brand-name').textContent = c.name; }
  if (typeof c.logo === 'string' && /^\/(?!\/)/.test(c.logo)) document.getElementById('brand-logo').src = c.logo;
  document.getElementById('foot-text').textContent = c.footer || '';
}

export async function refreshMe() {
  try { state.me = await get('/v1/me'); } catch { state.me = null; }
  renderNav();
}

const isAdmin = () => state.me && state.me.role === 'admin';

function renderNav() {
  const nav = document.getElementById('nav');
  const links = [['#/', 'Home'], ['#/catalogue', 'Catalogue']];
  if (state.me && state.me.role === 'developer') links.push(['#/apps', 'My apps'], ['#/account', 'Account']);
  if (isAdmin()) {
    links.push(['#/admin/queue', 'Queue'], ['#/admin/requests', 'Requests'], ['#/admin/developers', 'Developers'],
      ['#/admin/products', 'Products'], ['#/admin/providers', 'Providers'], ['#/admin/registrations', 'Registrations'],
      ['#/admin/webhooks', 'Webhooks'], ['#/admin/audit', 'Audit'], ['#/account', 'Account']);
  }
  if (!state.me) links.push(['#/login', 'Log in'], ['#/signup', 'Sign up']);
  const cur = location.hash || '#/';
  nav.replaceChildren(h('ul', {}, links.map(([href, label]) => h('li', {},
    h('a', { href, 'aria-current': cur === href || (href !== '#/' && cur.startsWith(`${href}/`)) ? 'page' : null, text: label }))),
  state.me ? h('li', {}, h('button', { type: 'button', class: 'secondary', id: 'logout', onclick: logout, text: `Log out (${state.me.email || state.me.name || ''})` })) : null));
}

async function logout() {
  try { await del('/v1/sessions/current'); } catch { /* the cookie is cleared either way */ }
  state.me = null;
  renderNav();
  location.hash = '#/login';
  announce('You are logged out.');
}

export function page(title, ...children) {
  document.title = `${title} · ${(state.config && state.config.name) || 'Developer portal'}`;
  const h1 = h('h1', { tabindex: '-1', text: title });
  const main = document.getElementById('main');
  main.replaceChildren(h1, ...children.flat());
  h1.focus();
  return main;
}

export function every(ms, fn) {
  const t = setInterval(() => { if (document.visibilityState === 'visible') fn(); }, ms);
  state.timers.push(t);
}

function needLogin(role) {
  if (!state.me) { location.hash = `#/login?next=${encodeURIComponent(location.hash)}`; return true; }
  if (role && state.me.role !== role) { page('Not allowed', h('p', { text: `This page is for ${role}s.` })); return true; }
  return false;
}

// ---------------------------------------------------------------- account pages
function homePage() {
  const c = state.config || {};
  const home = c.home || {};
  page(home.title || 'Welcome', md(home.markdown || ''),
    h('div', { class: 'actions' },
      h('a', { class: 'button', href: '#/catalogue', text: 'Browse the catalogue' }),
      !state.me ? h('a', { class: 'button secondary', href: '#/signup', text: 'Create an account' }) : null));
}

function loginPage(params) {
  const next = params.get('next');
  page('Log in', form({
    id: 'login-form',
    fields: [field({ name: 'email', label: 'E-mail address', type: 'email', required: true, autocomplete: 'username' }),
      field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' })],
    submit: 'Log in',
    onSubmit: async (v) => {
      const r = await api('POST', '/v1/sessions', { email: v.email, password: v.password }, { extraHeaders: { 'X-Clearance-Session': 'cookie' } });
      await refreshMe();
      announce('You are logged in.');
      location.hash = next && next.startsWith('#/') ? next : (r.role === 'admin' ? '#/admin/queue' : '#/apps');
    },
  }), h('p', {}, h('a', { href: '#/forgot', text: 'Forgot your password?' }), ' · ', h('a', { href: '#/signup', text: 'Create an account' })));
}

function signupPage() {
  page('Create an account', form({
    id: 'signup-form',
    fields: [field({ name: 'name', label: 'Your name', required: true, autocomplete: 'name' }),
      field({ name: 'email', label: 'E-mail address', type: 'email', required: true, autocomplete: 'email' }),
      field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 12 characters; not your e-mail address.' })],
    submit: 'Sign up',
    onSubmit: async (v, f) => {
      await post('/v1/developers', { name: v.name, email: v.email, password: v.password });
      f.replaceWith(h('div', { class: 'ok', role: 'status', id: 'signup-done' },
        h('p', { text: `We sent a mail to ${v.email}. Open the link in it to confirm your address, then log in.` }),
        h('p', {}, h('a', { href: '#/login', text: 'Go to log in' }))));
      announce('Check your mail to confirm your address.');
    },
  }));
}

async function verifyPage(params, token) {
  page('Confirm your e-mail address', h('p', { text: 'Checking your link…' }));
  try {
    await post('/v1/email-verifications', { token });
    page('E-mail address confirmed', h('div', { class: 'ok', role: 'status', text: 'Thank you, your address is confirmed.' }),
      h('p', {}, h('a', { href: state.me ? '#/catalogue' : '#/login', text: state.me ? 'Go to the catalogue' : 'Log in' })));
  } catch (e) {
    page('This link did not work', errorBox(e), h('p', { text: 'Log in and ask for a new mail from your account page.' }));
  }
}

function forgotPage() {
  page('Forgotten password', h('p', { text: 'Give your e-mail address; if it has an account, we send a link to choose a new password.' }), form({
    id: 'forgot-form',
    fields: [field({ name: 'email', label: 'E-mail address', type: 'email', required: true, autocomplete: 'email' })],
    submit: 'Send the link',
    onSubmit: async (v, f) => {
      await post('/v1/password-resets', { email: v.email });
      f.replaceWith(h('div', { class: 'ok', role: 'status', id: 'forgot-done', text: `If ${v.email} has an account, a mail with a link is on its way. The link works once, within one hour.` }));
    },
  }));
}

function resetPage(params, token) {
  page('Choose a new password', form({
    id: 'reset-form',
    fields: [field({ name: 'password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 12 characters.' })],
    submit: 'Set the password',
    fieldMap: { token: 'password' },
    onSubmit: async (v, f) => {
      await post('/v1/password-resets/confirm', { token, password: v.password });
      state.me = null;
      renderNav();
      f.replaceWith(h('div', { class: 'ok', role: 'status', id: 'reset-done' }, 'Your password is changed and every session ended. ', h('a', { href: '#/login', text: 'Log in' })));
    },
  }));
}

async function accountPage() {
  if (needLogin()) return;
  let verified = true;
  try { verified = (await get('/v1/me/verification')).email_verified; } catch { /* shown as verified */ }
  const resend = h('div', { class: 'card' }, h('h2', { text: 'E-mail address' }),
    h('p', { text: `${state.me.email || ''}: ${verified ? 'confirmed' : 'not confirmed yet'}` }),
    !verified ? form({ id: 'resend-form', fields: [], submit: 'Send the confirmation mail again',
      onSubmit: async (v, f) => { await post('/v1/me/verification'); f.replaceWith(h('p', { class: 'ok', role: 'status', text: 'Mail sent.' })); } }) : null);
  page('Your account', resend, h('h2', { text: 'Change your password' }), form({
    id: 'password-form',
    fields: [field({ name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' }),
      field({ name: 'new_password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 12 characters.' })],
    submit: 'Change the password',
    onSubmit: async (v, f) => {
      await post('/v1/me/password', v);
      f.reset();
      f.prepend(h('p', { class: 'ok', role: 'status', text: 'Password changed. Your other sessions were ended.' }));
    },
  }));
}

// ---------------------------------------------------------------- catalogue
export const fmtPlan = (p) => {
  const parts = [];
  if (p.rate_limit_requests) parts.push(`${p.rate_limit_requests} requests per ${p.rate_limit_window_seconds || 60} s`);
  if (p.monthly_quota) parts.push(`${p.monthly_quota} per month`);
  return parts.length ? parts.join(', ') : 'no limit';
};

async function cataloguePage() {
  if (needLogin()) return;
  page('Catalogue', h('p', { text: 'Loading products…' }));
  let cat;
  try { cat = await get('/v1/catalogue'); } catch (e) { page('Catalogue', errorBox(e)); return; }
  const products = cat.products || [];
  page('Catalogue', products.length ? h('div', { class: 'grid' }, products.map((p) => h('article', { class: 'card' },
    h('h2', {}, h('a', { href: `#/products/${p.id}`, text: p.name })),
    md(p.description || '', { headingBase: 3 }),
    h('p', { text: `${p.plans.length} plan${p.plans.length === 1 ? '' : 's'}` })))) : h('p', { text: 'No product is published yet.' }));
}

async function productPage(params, id) {
  if (needLogin()) return;
  let cat;
  try { cat = await get('/v1/catalogue'); } catch (e) { page('Product', errorBox(e)); return; }
  const p = (cat.products || []).find((x) => x.id === id);
  if (!p) { page('Product not found', h('p', { text: 'This product does not exist or is not published.' })); return; }
  const ref = h('div', {}, h('p', { text: 'Loading the API reference…' }));
  page(p.name, md(p.description || ''),
    h('h2', { text: 'Plans' }),
    table(['Plan', 'Description', 'Rate limit and quota'], p.plans.map((l) => [l.name, l.description || '', fmtPlan(l)]), 'Plans'),
    state.me.role === 'developer' ? h('div', { class: 'actions' }, h('a', { class: 'button', href: `#/request/${p.id}`, id: 'request-access', text: 'Request access' })) : null,
    ref);
  try {
    ref.replaceChildren(renderOpenApi(await get(`/v1/products/${id}/openapi`)));
  } catch (e) {
    ref.replaceChildren(e.status === 404 ? h('p', { class: 'hint', text: 'No API reference is attached to this product.' }) : errorBox(e));
  }
}

async function requestPage(params, productId) {
  if (needLogin('developer')) return;
  let cat; let apps;
  try { [cat, apps] = await Promise.all([get('/v1/catalogue'), get('/v1/apps')]); } catch (e) { page('Request access', errorBox(e)); return; }
  const p = (cat.products || []).find((x) => x.id === productId);
  if (!p) { page('Product not found', h('p', { text: 'This product does not exist or is not published.' })); return; }
  const appList = apps.apps || [];
  const appOpts = [{ value: '', label: 'A new app…' }, ...appList.map((a) => ({ value: a.id, label: a.name }))];
  const newApp = h('div', { id: 'new-app' },
    field({ name: 'app_name', label: 'New app name', hint: 'Shown to administrators and in your app list.' }),
    field({ name: 'app_description', label: 'What the app does (optional)' }));
  const appSel = field({ name: 'app_id', label: 'App', options: appOpts, value: '' });
  appSel.querySelector('select').addEventListener('change', (ev) => { newApp.hidden = Boolean(ev.target.value); });
  const f = form({
    id: 'request-form',
    fields: [appSel, newApp,
      field({ name: 'plan_id', label: 'Plan', required: true, options: p.plans.map((l) => ({ value: l.id, label: `${l.name} (${fmtPlan(l)})` })) }),
      field({ name: 'client_type_id', label: 'Client type', required: true, options: p.client_types.map((t) => ({ value: t.id, label: t.description ? `${t.display_name}: ${t.description}` : t.display_name })) }),
      field({ name: 'redirect_uris', label: 'Redirect URIs (one per line)', multiline: true, rows: 3, hint: 'Only for client types that sign users in through a browser; https on a public host, or http on localhost or 127.0.0.1 (private-network hosts only where the operator allows them).' })],
    submit: 'Send the request',
    fieldMap: { name: 'app_name', app: 'app_name', description: 'app_description', app_id: 'app_id' },
    onSubmit: async (v) => {
      const uris = v.redirect_uris.split('\n').map((s) => s.trim()).filter(Boolean);
      const body = { product_id: p.id, plan_id: v.plan_id, client_type_id: v.client_type_id };
      if (v.app_id) {
        body.app_id = v.app_id;
        if (uris.length) await patch(`/v1/apps/${v.app_id}`, { redirect_uris: uris });
      } else {
        if (!v.app_name.trim()) throw Object.assign(new Error('Give the new app a name.'), { field: 'app_name' });
        body.app = { name: v.app_name.trim() };
        if (v.app_description.trim()) body.app.description = v.app_description.trim();
        if (uris.length) body.app.redirect_uris = uris;
      }
      try {
        await post('/v1/access-requests', body);
      } catch (e) {
        if (e.field === 'redirect_uris' || (e.field && e.field.startsWith('app.redirect'))) e.field = 'redirect_uris';
        throw e;
      }
      announce('Your request was sent.');
      location.hash = '#/apps';
    },
  });
  page(`Request access to ${p.name}`, f);
}

// ---------------------------------------------------------------- my apps
function curlFor(c, secret) {
  const scope = c.scope ? ` -d 'scope=${c.scope.replace(/'/g, '')}'` : '';
  return `curl -s -u '${c.client_id}:${secret}' -d grant_type=client_credentials${scope} '${c.token_endpoint}'`;
}

function copyButton(label, getText) {
  return h('button', { type: 'button', class: 'secondary', text: label, onclick: async (ev) => {
    try { await navigator.clipboard.writeText(getText()); announce('Copied.'); ev.target.textContent = 'Copied'; } catch { announce('Copying failed; select the text instead.'); }
  } });
}

// When the secret stops working, as the identity provider said (null: it did not say).
function secretExpiry(c) {
  if (!('client_secret_expires_at' in c)) return [];
  const at = c.client_secret_expires_at;
  const text = at === null ? 'unknown: the identity provider did not say; it may stop working without notice'
    : Number(at) === 0 ? 'never' : new Date(Number(at) * 1000).toISOString().replace('.000Z', 'Z');
  return [h('dt', { text: 'Secret expires' }), h('dd', { class: at === null ? 'secret-expiry warn' : 'secret-expiry', text })];
}

function credentialView(appId, c, reload) {
  let shown = false;
  const secretEl = h('code', { class: 'secret', text: '••••••••••••' });
  const curl = h('pre', { class: 'curl' }, curlFor(c, '$CLIENT_SECRET'));
  const reveal = h('button', { type: 'button', class: 'secondary reveal', 'aria-pressed': 'false', text: 'Reveal secret', onclick: () => {
    shown = !shown;
    secretEl.textContent = shown ? c.client_secret : '••••••••••••';
    curl.textContent = curlFor(c, shown ? c.client_secret : '$CLIENT_SECRET');
    reveal.textContent = shown ? 'Hide secret' : 'Reveal secret';
    reveal.setAttribute('aria-pressed', String(shown));
  } });
  const status = h('div', { role: 'status' });
  return h('div', { class: 'card credential', 'data-request': c.access_request_id },
    h('h4', { text: `${c.product.name} · ${c.plan.name}` }),
    h('dl', { class: 'kv' },
      h('dt', { text: 'Client ID' }), h('dd', {}, h('code', { class: 'client-id', text: c.client_id }), ' ', copyButton('Copy client ID', () => c.client_id)),
      h('dt', { text: 'Client secret' }), h('dd', {}, secretEl, ' ', reveal, ' ', copyButton('Copy secret', () => c.client_secret)),
      ...secretExpiry(c),
      h('dt', { text: 'Token endpoint' }), h('dd', {}, h('code', { class: 'token-endpoint', text: c.token_endpoint })),
      h('dt', { text: 'Scope' }), h('dd', {}, h('code', { text: c.scope || '' }))),
    h('p', { text: 'Get a token:' }), curl, h('div', { class: 'actions' }, copyButton('Copy the curl command', () => curlFor(c, c.client_secret)),
      h('button', { type: 'button', class: 'secondary', text: 'Rotate the secret', onclick: async () => {
        if (!window.confirm('Rotate the secret? The old one stops working.')) return;
        try { await post(`/v1/apps/${appId}/credentials/${c.access_request_id}/rotate`); announce('Secret rotated.'); reload(); } catch (e) { status.replaceChildren(errorBox(e)); }
      } })), status);
}

async function appsPage() {
  if (needLogin('developer')) return;
  const root = h('div', { id: 'apps' }, h('p', { text: 'Loading…' }));
  page('My apps', h('p', {}, 'Request access to a product from the ', h('a', { href: '#/catalogue', text: 'catalogue' }), '.'), root);
  const openCreds = new Set();
  const load = async () => {
    let apps; let reqs;
    try { [apps, reqs] = await Promise.all([get('/v1/apps'), get('/v1/access-requests?limit=200')]); } catch (e) { root.replaceChildren(errorBox(e)); return; }
    const byApp = new Map();
    for (const r of reqs.access_requests || []) { if (!byApp.has(r.app_id)) byApp.set(r.app_id, []); byApp.get(r.app_id).push(r); }
    const focusId = document.activeElement && document.activeElement.id;
    root.replaceChildren(...((apps.apps || []).length ? apps.apps.map((a) => appCard(a, byApp.get(a.id) || [], openCreds, load)) : [h('p', { text: 'You have no apps yet.' })]));
    if (focusId) { const el = document.getElementById(focusId); if (el) el.focus(); }
  };
  await load();
  every(2000, async () => {
    // Only the status cells change by themselves; forms being edited are kept.
    if (root.querySelector('form:focus-within, .credential')) { await refreshStatuses(root); return; }
    await load();
  });
}

async function refreshStatuses(root) {
  let reqs;
  try { reqs = await get('/v1/access-requests?limit=200'); } catch { return; }
  for (const r of reqs.access_requests || []) {
    const row = root.querySelector(`tr[data-request="${r.id}"]`);
    if (row && row.dataset.status !== r.status) {
      row.dataset.status = r.status;
      row.querySelector('.st').replaceChildren(statusBadge(r.status));
      row.querySelector('.why').textContent = r.reason || r.last_error || '';
      announce(`Request for ${r.product_name} is now ${r.status}.`);
    }
  }
}

function appCard(a, reqs, openCreds, reload) {
  const credBox = h('div', { class: 'creds' });
  const showCreds = async () => {
    try {
      const c = await get(`/v1/apps/${a.id}/credentials`);
      credBox.replaceChildren(...(c.credentials.length ? c.credentials.map((x) => credentialView(a.id, x, showCreds)) : [h('p', { text: 'No active credentials yet: they appear once a request is active.' })]));
    } catch (e) { credBox.replaceChildren(errorBox(e)); }
  };
  if (openCreds.has(a.id)) showCreds();
  const uris = form({
    id: `uris-${a.id}`,
    fields: [field({ name: 'redirect_uris', label: `Redirect URIs of ${a.name} (one per line)`, multiline: true, rows: 3, value: (a.redirect_uris || []).join('\n') })],
    submit: 'Save redirect URIs',
    onSubmit: async (v, f) => {
      await patch(`/v1/apps/${a.id}`, { redirect_uris: v.redirect_uris.split('\n').map((s) => s.trim()).filter(Boolean) });
      f.prepend(h('p', { class: 'ok', role: 'status', text: 'Saved.' }));
    },
  });
  return h('section', { class: 'card app', 'data-app': a.id, 'aria-labelledby': `app-h-${a.id}` },
    h('h2', { id: `app-h-${a.id}`, text: a.name }),
    a.description ? h('p', { text: a.description }) : null,
    h('h3', { text: 'Access requests' }),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `Access requests of ${a.name}` }, h('table', {},
      h('caption', { class: 'visually-hidden', text: `Access requests of ${a.name}` }),
      h('thead', {}, h('tr', {}, ['Product', 'Plan', 'Status', 'Reason or error', 'Requested'].map((x) => h('th', { scope: 'col', text: x })))),
      h('tbody', {}, reqs.length ? reqs.map((r) => h('tr', { 'data-request': r.id, 'data-status': r.status },
        h('td', { 'data-label': 'Product', text: r.product_name }), h('td', { 'data-label': 'Plan', text: r.plan_name }),
        h('td', { class: 'st', 'data-label': 'Status' }, statusBadge(r.status)),
        h('td', { class: 'why', 'data-label': 'Reason or error', text: r.reason || r.last_error || '' }),
        h('td', { 'data-label': 'Requested', text: fmtDate(r.created_at) })))
        : h('tr', {}, h('td', { colspan: 5, text: 'No requests.' }))))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: `show-creds-${a.id}`, class: 'show-creds', text: 'Show credentials', onclick: () => { openCreds.add(a.id); showCreds(); } }),
      h('button', { type: 'button', class: 'danger', id: `delete-${a.id}`, text: 'Delete app', onclick: async () => {
        if (!window.confirm(`Delete ${a.name}? Its credentials stop working.`)) return;
        try { await del(`/v1/apps/${a.id}`); announce('App deleted.'); reload(); } catch (e) { credBox.replaceChildren(errorBox(e)); }
      } })),
    credBox,
    h('details', {}, h('summary', { text: 'Edit redirect URIs' }), uris));
}

// ---------------------------------------------------------------- router
const routes = [
  [/^#?\/?$/, homePage],
  [/^#\/login$/, loginPage],
  [/^#\/signup$/, signupPage],
  [/^#\/verify\/([\w-]+)$/, verifyPage],
  [/^#\/forgot$/, forgotPage],
  [/^#\/reset\/([\w-]+)$/, resetPage],
  [/^#\/account$/, accountPage],
  [/^#\/catalogue$/, cataloguePage],
  [/^#\/products\/([\w-]+)$/, productPage],
  [/^#\/request\/([\w-]+)$/, requestPage],
  [/^#\/apps$/, appsPage],
];

async function route() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  const [path, query] = (location.hash || '#/').split('?');
  const params = new URLSearchParams(query || '');
  renderNav();
  const all = [...routes, ...adminRoutes.map(([re, fn]) => [re, (...a) => (needLogin('admin') ? null : fn(...a))])];
  for (const [re, fn] of all) {
    const m = re.exec(path);
    if (m) {
      try { await fn(params, ...m.slice(1)); } catch (e) {
        if (e instanceof ApiError && e.status === 401) { state.me = null; location.hash = '#/login'; return; }
        page('Something went wrong', errorBox(e));
      }
      return;
    }
  }
  page('Page not found', h('p', {}, 'There is no such page. ', h('a', { href: '#/', text: 'Home' })));
}

export { showError };

async function start() {
  await loadConfig();
  await refreshMe();
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = '1';
}
start();
