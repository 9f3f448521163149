// Admin pages: queue, requests, developers, products and plans, providers
// and client types, registrations and jobs, webhooks, audit log.
import { get, post, patch, put, del } from './api.js';
import { h, field, form, announce, statusBadge, table, errorBox, fmtDate, md } from './ui.js';
import { page, every, fmtPlan } from './app.js';

const STATUSES = ['pending', 'provisioning', 'active', 'failed', 'rejected', 'revoked'];
const lines = (s) => s.split('\n').map((x) => x.trim()).filter(Boolean);

function decisionCell(r, reload) {
  const box = h('div', { class: 'decide' });
  const out = h('div', { role: 'status' });
  if (r.status === 'pending') {
    box.append(h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'approve', id: `approve-${r.id}`, text: 'Approve', 'aria-label': `Approve ${r.app_name} for ${r.product_name}`, onclick: async (ev) => {
        ev.target.disabled = true;
        try { await post(`/v1/access-requests/${r.id}/approve`); announce('Approved.'); reload(); } catch (e) { out.replaceChildren(errorBox(e)); ev.target.disabled = false; }
      } })),
    h('details', {}, h('summary', { text: 'Reject…' }), form({
      id: `reject-${r.id}`,
      fields: [field({ name: 'reason', label: `Reason for rejecting ${r.app_name}`, required: true, multiline: true, rows: 2, hint: 'The developer sees this text.' })],
      submit: 'Reject',
      onSubmit: async (v) => { await post(`/v1/access-requests/${r.id}/reject`, { reason: v.reason }); announce('Rejected.'); reload(); },
    })));
  } else if (r.status === 'failed') {
    box.append(h('button', { type: 'button', text: 'Retry', onclick: async () => {
      try { await post(`/v1/access-requests/${r.id}/retry`); announce('Retrying.'); reload(); } catch (e) { out.replaceChildren(errorBox(e)); }
    } }));
  } else if (r.status === 'active') {
    box.append(h('button', { type: 'button', class: 'danger', text: 'Revoke', onclick: async () => {
      if (!window.confirm('Revoke this access? The client stops working at the gateway.')) return;
      try { await post(`/v1/access-requests/${r.id}/revoke`, {}); announce('Revoked.'); reload(); } catch (e) { out.replaceChildren(errorBox(e)); }
    } }));
  }
  box.append(out);
  return box;
}

function requestRows(list, reload) {
  return list.map((r) => [
    h('span', {}, h('strong', { text: r.app_name }), h('br'), `${r.developer_name} <${r.developer_email}>`),
    `${r.product_name} / ${r.plan_name}`, statusBadge(r.status), r.reason || r.last_error || '', fmtDate(r.created_at),
    decisionCell(r, reload)]);
}

async function queuePage() {
  const root = h('div', { id: 'queue' });
  page('Pending requests', root);
  const load = async () => {
    try {
      const r = await get('/v1/access-requests?status=pending&limit=200');
      if (root.querySelector('form:focus-within, details[open]')) return;
      root.replaceChildren(table(['App and developer', 'Product / plan', 'Status', 'Reason', 'Requested', 'Decision'], requestRows(r.access_requests, load), 'Pending requests'));
    } catch (e) { root.replaceChildren(errorBox(e)); }
  };
  await load();
  every(3000, load);
}

async function requestsPage(params) {
  const status = params.get('status') || '';
  const filter = h('form', { class: 'filters', id: 'filter-form', onsubmit: (ev) => {
    ev.preventDefault();
    const s = ev.target.elements.status.value;
    location.hash = s ? `#/admin/requests?status=${encodeURIComponent(s)}` : '#/admin/requests';
  } }, field({ name: 'status', label: 'Status', value: status, options: [{ value: '', label: 'Any' }, ...STATUSES.map((s) => ({ value: s, label: s }))] }),
  h('div', { class: 'field' }, h('button', { type: 'submit', text: 'Filter' })));
  const root = h('div', {});
  page('All requests', filter, root);
  const load = async () => {
    try {
      const r = await get(`/v1/access-requests?limit=200${status ? `&status=${encodeURIComponent(status)}` : ''}`);
      root.replaceChildren(table(['App and developer', 'Product / plan', 'Status', 'Reason or error', 'Requested', 'Action'], requestRows(r.access_requests, load), 'Access requests'));
    } catch (e) { root.replaceChildren(errorBox(e)); }
  };
  await load();
}

async function developersPage() {
  const root = h('div', {});
  page('Developers', root);
  const load = async () => {
    try {
      const r = await get('/v1/developers?limit=200');
      root.replaceChildren(table(['Name', 'E-mail', 'Since', 'State', 'Action'], r.developers.map((d) => [d.name, d.email, fmtDate(d.created_at),
        d.blocked ? 'blocked' : 'active',
        h('button', { type: 'button', class: d.blocked ? 'secondary' : 'danger', text: d.blocked ? `Unblock` : `Block`, 'aria-label': `${d.blocked ? 'Unblock' : 'Block'} ${d.email}`, onclick: async () => {
          try { await patch(`/v1/developers/${d.id}`, { blocked: !d.blocked }); announce(d.blocked ? 'Unblocked.' : 'Blocked.'); load(); } catch (e) { root.prepend(errorBox(e)); }
        } })]), 'Developers'));
    } catch (e) { root.replaceChildren(errorBox(e)); }
  };
  await load();
}

async function productsPage() {
  let products; let plans; let providers;
  try {
    [products, plans, providers] = await Promise.all([get('/v1/products?limit=200'), get('/v1/plans?limit=200'), get('/v1/providers')]);
  } catch (e) { page('Products and plans', errorBox(e)); return; }
  const cts = [];
  for (const p of providers.providers || []) {
    try { for (const c of (await get(`/v1/providers/${p.id}/client-types`)).client_types) cts.push({ ...c, provider: p.name }); } catch { /* listed without it */ }
  }
  const reload = () => productsPage();
  const checks = (name, label, items, selected = []) => h('div', { class: 'field', 'data-field': name },
    h('fieldset', {}, h('legend', { text: label }),
      items.length ? items.map((it) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: `${name}:${it.id}`, checked: selected.includes(it.id) }), it.label))
        : h('p', { class: 'hint', text: 'None yet.' })),
    h('p', { class: 'err', 'aria-live': 'polite' }));
  const picked = (v, name) => Object.entries(v).filter(([k, on]) => k.startsWith(`${name}:`) && on).map(([k]) => k.slice(name.length + 1));
  const planItems = (plans.plans || []).map((l) => ({ id: l.id, label: `${l.name} (${fmtPlan(l)})` }));
  const ctItems = cts.map((c) => ({ id: c.id, label: `${c.display_name} (${c.provider})` }));
  const num = (s) => (String(s).trim() === '' ? null : Number(s));

  const planForm = form({
    id: 'plan-form', submit: 'Create the plan',
    fields: [field({ name: 'name', label: 'Plan name', required: true }), field({ name: 'description', label: 'Description' }),
      field({ name: 'scopes', label: 'Scopes granted (space separated)' }),
      field({ name: 'rate_limit_requests', label: 'Rate limit: requests', type: 'number', min: 1, inputmode: 'numeric' }),
      field({ name: 'rate_limit_window_seconds', label: 'Rate limit: window in seconds', type: 'number', min: 1, inputmode: 'numeric' }),
      field({ name: 'monthly_quota', label: 'Monthly quota', type: 'number', min: 1, inputmode: 'numeric' })],
    onSubmit: async (v) => {
      const b = { name: v.name, description: v.description, scopes: v.scopes };
      for (const k of ['rate_limit_requests', 'rate_limit_window_seconds', 'monthly_quota']) if (num(v[k]) !== null) b[k] = num(v[k]);
      await post('/v1/plans', b); announce('Plan created.'); reload();
    },
  });
  const productForm = form({
    id: 'product-form', submit: 'Create the product', cls: 'wide',
    fields: [field({ name: 'name', label: 'Product name', required: true }),
      field({ name: 'description', label: 'Description (Markdown)', multiline: true, rows: 4 }),
      field({ name: 'path_prefixes', label: 'Gateway path prefixes (one per line)', multiline: true, rows: 2, hint: 'e.g. /api/orders' }),
      field({ name: 'scopes', label: 'Scopes (space separated)' }),
      field({ name: 'dcr_enabled', label: 'Published in the catalogue (dynamic client registration)', type: 'checkbox', checked: true }),
      field({ name: 'auto_approve', label: 'Approve requests automatically', type: 'checkbox' }),
      checks('plan_ids', 'Plans', planItems), checks('client_type_ids', 'Allowed client types', ctItems)],
    onSubmit: async (v) => {
      await post('/v1/products', { name: v.name, description: v.description, path_prefixes: lines(v.path_prefixes), scopes: v.scopes,
        dcr_enabled: v.dcr_enabled, auto_approve: v.auto_approve, plan_ids: picked(v, 'plan_ids'), client_type_ids: picked(v, 'client_type_ids') });
      announce('Product created.'); reload();
    },
  });
  const productCards = (products.products || []).map((p) => {
    const edit = form({
      id: `edit-${p.id}`, submit: 'Save', cls: 'wide',
      fields: [field({ name: 'name', label: `Name of ${p.name}`, required: true, value: p.name }),
        field({ name: 'description', label: `Description of ${p.name} (Markdown)`, multiline: true, rows: 3, value: p.description || '' }),
        field({ name: 'path_prefixes', label: `Gateway path prefixes of ${p.name} (one per line)`, multiline: true, rows: 2, value: (p.path_prefixes || []).join('\n') }),
        field({ name: 'scopes', label: `Scopes of ${p.name} (space separated)`, value: p.scopes || '' }),
        field({ name: 'dcr_enabled', label: 'Published in the catalogue', type: 'checkbox', checked: p.dcr_enabled }),
        field({ name: 'auto_approve', label: 'Approve requests automatically', type: 'checkbox', checked: p.auto_approve }),
        checks('plan_ids', 'Plans', planItems, p.plan_ids), checks('client_type_ids', 'Allowed client types', ctItems, p.client_type_ids)],
      onSubmit: async (v) => {
        await patch(`/v1/products/${p.id}`, { name: v.name, description: v.description, path_prefixes: lines(v.path_prefixes), scopes: v.scopes,
          dcr_enabled: v.dcr_enabled, auto_approve: v.auto_approve, plan_ids: picked(v, 'plan_ids'), client_type_ids: picked(v, 'client_type_ids') });
        announce('Saved.'); reload();
      },
    });
    const oas = form({
      id: `openapi-${p.id}`, submit: 'Attach the OpenAPI document', cls: 'wide',
      fields: [field({ name: 'document', label: `OpenAPI 3 document of ${p.name} (JSON)`, multiline: true, rows: 6, required: true })],
      fieldMap: { openapi: 'document', paths: 'document' },
      onSubmit: async (v) => {
        let doc;
        try { doc = JSON.parse(v.document); } catch (e) { throw Object.assign(new Error(`This is not valid JSON: ${e.message}`), { field: 'document' }); }
        await put(`/v1/products/${p.id}/openapi`, doc); announce('Document attached.'); reload();
      },
    });
    return h('section', { class: 'card', 'aria-label': p.name }, h('h3', { text: p.name }),
      md(p.description || ''), h('p', { class: 'hint', text: `Paths: ${(p.path_prefixes || []).join(', ') || 'none'} · scopes: ${p.scopes || 'none'}` }),
      h('details', {}, h('summary', { text: `Edit ${p.name}` }), edit),
      h('details', {}, h('summary', { text: `API reference of ${p.name}` }), oas));
  });
  const planEdit = (l) => h('details', {}, h('summary', { text: `Edit ${l.name}` }), form({
    id: `plan-${l.id}`, submit: 'Save',
    fields: [field({ name: 'description', label: `Description of ${l.name}`, value: l.description || '' }),
      field({ name: 'scopes', label: `Scopes of ${l.name}`, value: l.scopes || '' }),
      field({ name: 'rate_limit_requests', label: 'Rate limit: requests', type: 'number', min: 1, value: l.rate_limit_requests ?? '' }),
      field({ name: 'rate_limit_window_seconds', label: 'Rate limit: window in seconds', type: 'number', min: 1, value: l.rate_limit_window_seconds ?? '' }),
      field({ name: 'monthly_quota', label: 'Monthly quota', type: 'number', min: 1, value: l.monthly_quota ?? '' })],
    onSubmit: async (v) => {
      const b = { description: v.description, scopes: v.scopes };
      for (const k of ['rate_limit_requests', 'rate_limit_window_seconds', 'monthly_quota']) b[k] = num(v[k]);
      await patch(`/v1/plans/${l.id}`, b); announce('Plan saved.'); reload();
    },
  }));
  page('Products and plans',
    h('h2', { text: 'Plans' }), table(['Name', 'Limits', 'Scopes', 'Edit'], (plans.plans || []).map((l) => [l.name, fmtPlan(l), l.scopes || '', planEdit(l)]), 'Plans'),
    h('details', {}, h('summary', { text: 'New plan' }), planForm),
    h('h2', { text: 'Products' }), productCards,
    h('details', {}, h('summary', { text: 'New product' }), productForm));
}

function checkList(res) {
  return h('div', { class: 'verify', role: 'status' },
    h('p', {}, h('strong', { text: res.ok ? 'All checks passed.' : 'Some checks failed.' })),
    h('ul', { class: 'checks' }, (res.checks || []).map((c) => h('li', { class: c.ok ? 'pass' : 'fail' },
      h('strong', { text: `${c.name}: ` }), c.ok ? 'passed' : 'failed', c.detail ? ` — ${c.detail}` : ''))));
}

async function providersPage() {
  let providers;
  try { providers = await get('/v1/providers'); } catch (e) { page('Identity providers', errorBox(e)); return; }
  const reload = () => providersPage();
  const cards = [];
  for (const p of providers.providers || []) {
    let cts = [];
    try { cts = (await get(`/v1/providers/${p.id}/client-types`)).client_types; } catch { /* empty */ }
    const out = h('div', { class: 'verify-out' });
    const ctForm = form({
      id: `ct-${p.id}`, submit: 'Add the client type',
      fields: [field({ name: 'display_name', label: 'Client type name', required: true }),
        field({ name: 'description', label: 'Description' }),
        field({ name: 'grant_types', label: 'Grant types', options: [{ value: 'client_credentials', label: 'client_credentials (server to server)' },
          { value: 'authorization_code', label: 'authorization_code (signs users in; needs redirect URIs)' }] }),
        field({ name: 'token_endpoint_auth_method', label: 'Token endpoint authentication', options: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].map((x) => ({ value: x, label: x })) })],
      onSubmit: async (v) => {
        const code = v.grant_types === 'authorization_code';
        await post(`/v1/providers/${p.id}/client-types`, { display_name: v.display_name, description: v.description,
          grant_types: code ? ['authorization_code', 'refresh_token'] : ['client_credentials'], response_types: code ? ['code'] : [],
          token_endpoint_auth_method: v.token_endpoint_auth_method });
        announce('Client type added.'); reload();
      },
    });
    cards.push(h('section', { class: 'card', 'aria-label': p.name, 'data-provider': p.id }, h('h3', { text: `${p.name} (${p.kind})` }),
      h('dl', { class: 'kv' }, h('dt', { text: 'Issuer' }), h('dd', { text: p.issuer || '' }), h('dt', { text: 'Discovery' }), h('dd', { text: p.well_known_url || '' }),
        h('dt', { text: 'Registration endpoint' }), h('dd', { text: p.registration_endpoint || '' })),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', text: `Verify ${p.name}`, onclick: async () => {
        out.replaceChildren(h('p', { text: 'Verifying…' }));
        try { out.replaceChildren(checkList(await post(`/v1/providers/${p.id}/verify`))); } catch (e) { out.replaceChildren(errorBox(e)); }
      } })), out,
      h('h4', { text: 'Client types' }), table(['Name', 'Grant types', 'Auth method'], cts.map((c) => [c.display_name, (c.grant_types || []).join(', '), c.token_endpoint_auth_method]), 'Client types'),
      h('details', {}, h('summary', { text: `New client type for ${p.name}` }), ctForm)));
  }
  const created = h('div', { id: 'provider-created' });
  const pf = form({
    id: 'provider-form', submit: 'Create the provider',
    fields: [field({ name: 'name', label: 'Provider name', required: true }),
      field({ name: 'kind', label: 'Kind', options: ['other', 'keycloak', 'okta', 'gluu', 'curity', 'http_bridge'].map((x) => ({ value: x, label: x })) }),
      field({ name: 'well_known_url', label: 'Discovery URL (.well-known/openid-configuration)', type: 'url', required: true }),
      field({ name: 'initial_access_token', label: 'Initial access token (optional)', type: 'password', autocomplete: 'off' }),
      field({ name: 'audience', label: 'Token audience (optional)' }),
      field({ name: 'allow_insecure_http', label: 'Allow plain http (development only)', type: 'checkbox' })],
    onSubmit: async (v) => {
      const b = { name: v.name, kind: v.kind, well_known_url: v.well_known_url, allow_insecure_http: v.allow_insecure_http };
      if (v.initial_access_token) b.initial_access_token = v.initial_access_token;
      if (v.audience) b.audience = v.audience;
      const p = await post('/v1/providers', b);
      announce('Provider created; verifying.');
      let res;
      try { res = await post(`/v1/providers/${p.id}/verify`); } catch (e) { res = null; created.replaceChildren(errorBox(e)); }
      await providersPage();
      if (res) document.getElementById('provider-created').replaceChildren(h('h2', { text: `Verification of ${p.name}` }), checkList(res));
    },
  });
  page('Identity providers', created, cards, h('h2', { text: 'New provider' }), pf);
}

async function registrationsPage(params) {
  const state = params.get('state') || '';
  const root = h('div', {});
  page('Registrations and jobs', root);
  try {
    const [regs, jobs] = await Promise.all([get('/v1/registrations?limit=100'), get(`/v1/jobs?limit=100${state ? `&state=${encodeURIComponent(state)}` : ''}`)]);
    root.replaceChildren(
      h('h2', { text: 'Registrations' }),
      table(['Client ID', 'Status', 'Provider', 'Last error or warnings', 'Updated'], (regs.registrations || []).map((g) => [g.client_id || '', statusBadge(g.status || ''), g.provider_id || '', [g.last_error, ...(g.warnings || []).map((w) => w.message)].filter(Boolean).join('; '), fmtDate(g.updated_at)]), 'Registrations'),
      h('p', { class: 'hint', text: 'A failed access request is retried from the Requests page (filter "failed").' }),
      h('h2', { text: 'Jobs' }),
      h('form', { class: 'filters', onsubmit: (ev) => { ev.preventDefault(); const s = ev.target.elements.state.value; location.hash = s ? `#/admin/registrations?state=${s}` : '#/admin/registrations'; } },
        field({ name: 'state', label: 'Job state', value: state, options: [{ value: '', label: 'Any' }, ...['queued', 'running', 'done', 'failed'].map((s) => ({ value: s, label: s }))] }),
        h('div', { class: 'field' }, h('button', { type: 'submit', text: 'Filter' }))),
      table(['Kind', 'State', 'Attempts', 'Last error', 'Created'], (jobs.jobs || []).map((j) => [j.kind, statusBadge(j.state || ''), String(j.attempts ?? ''), j.last_error || '', fmtDate(j.created_at)]), 'Jobs'));
  } catch (e) { root.replaceChildren(errorBox(e)); }
}

const EVENTS = ['access_request.created', 'access_request.approved', 'access_request.rejected', 'access_request.revoked', 'credential.created', 'credential.rotated'];

async function webhooksPage() {
  let hooks;
  try { hooks = await get('/v1/webhooks'); } catch (e) { page('Webhooks', errorBox(e)); return; }
  const made = h('div', {});
  page('Webhooks', made,
    table(['URL', 'Events', 'Created', 'Action'], (hooks.webhooks || []).map((w) => [w.url, (w.events || []).join(', '), fmtDate(w.created_at),
      h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete webhook ${w.url}`, onclick: async () => {
        try { await del(`/v1/webhooks/${w.id}`); webhooksPage(); } catch (e) { made.replaceChildren(errorBox(e)); }
      } })]), 'Webhooks'),
    h('h2', { text: 'New webhook' }), form({
      id: 'webhook-form', submit: 'Create the webhook',
      fields: [field({ name: 'url', label: 'URL', type: 'url', required: true }),
        h('div', { class: 'field', 'data-field': 'events' }, h('fieldset', {}, h('legend', { text: 'Events' }),
          EVENTS.map((ev) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: `ev:${ev}` }), ev))), h('p', { class: 'err', 'aria-live': 'polite' }))],
      onSubmit: async (v) => {
        const w = await post('/v1/webhooks', { url: v.url, events: Object.keys(v).filter((k) => k.startsWith('ev:') && v[k]).map((k) => k.slice(3)) });
        await webhooksPage();
        if (w.secret) document.getElementById('main').insertBefore(h('div', { class: 'ok', role: 'status' }, 'Webhook created. Its signing secret, shown once: ', h('code', { text: w.secret })), document.querySelector('main h1').nextSibling);
      },
    }));
}

async function auditPage(params) {
  const action = params.get('action') || '';
  const root = h('div', {});
  page('Audit log', h('form', { class: 'filters', onsubmit: (ev) => { ev.preventDefault(); const a = ev.target.elements.action.value.trim(); location.hash = a ? `#/admin/audit?action=${encodeURIComponent(a)}` : '#/admin/audit'; } },
    field({ name: 'action', label: 'Action (e.g. access_request.approve)', value: action }), h('div', { class: 'field' }, h('button', { type: 'submit', text: 'Filter' }))), root);
  try {
    const r = await get(`/v1/audit?limit=200${action ? `&action=${encodeURIComponent(action)}` : ''}`);
    root.replaceChildren(table(['When', 'Who', 'Action', 'Target', 'Detail'], (r.audit || []).map((a) => [fmtDate(a.at), `${a.actor_name} (${a.actor_role})`, a.action,
      `${a.target_type} ${a.target_id || ''}`, h('code', { text: JSON.stringify(a.detail || {}) })]), 'Audit log'));
  } catch (e) { root.replaceChildren(errorBox(e)); }
}

export const adminRoutes = [
  [/^#\/admin\/queue$/, queuePage],
  [/^#\/admin\/requests$/, requestsPage],
  [/^#\/admin\/developers$/, developersPage],
  [/^#\/admin\/products$/, productsPage],
  [/^#\/admin\/providers$/, providersPage],
  [/^#\/admin\/registrations$/, registrationsPage],
  [/^#\/admin\/webhooks$/, webhooksPage],
  [/^#\/admin\/audit$/, auditPage],
];
