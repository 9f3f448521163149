// Renders an OpenAPI 3 document (JSON, already parsed) as an API reference.
// Text goes in with textContent; descriptions through the safe md.js.
import { h, md } from './ui.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function schemaText(s) {
  if (!s || typeof s !== 'object') return '';
  if (s.$ref) return String(s.$ref).split('/').pop();
  if (s.type === 'array') return `array of ${schemaText(s.items) || 'any'}`;
  return [s.type, s.format].filter(Boolean).join(' / ');
}

export function renderOpenApi(doc) {
  const info = doc.info || {};
  const root = h('section', { class: 'openapi', 'aria-label': 'API reference' },
    h('h2', { text: `API reference${info.title ? `: ${info.title}` : ''}${info.version ? ` (${info.version})` : ''}` }),
    info.description ? md(info.description, { headingBase: 3 }) : null);
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  if (servers.length) root.append(h('p', {}, 'Server: ', servers.map((s) => h('code', { text: String(s.url || '') }))));
  const paths = doc.paths && typeof doc.paths === 'object' ? doc.paths : {};
  for (const [p, item] of Object.entries(paths)) {
    if (!item || typeof item !== 'object') continue;
    for (const m of METHODS) {
      const op = item[m];
      if (!op || typeof op !== 'object') continue;
      const params = [...(Array.isArray(item.parameters) ? item.parameters : []), ...(Array.isArray(op.parameters) ? op.parameters : [])];
      const responses = op.responses && typeof op.responses === 'object' ? Object.entries(op.responses) : [];
      root.append(h('div', { class: 'op' },
        h('h3', {}, h('span', { class: 'method', text: m }), ' ', h('code', { text: p })),
        op.summary ? h('p', { text: String(op.summary) }) : null,
        op.description ? md(op.description, { headingBase: 4 }) : null,
        params.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `Parameters of ${m.toUpperCase()} ${p}` }, h('table', {},
          h('caption', { text: 'Parameters' }),
          h('thead', {}, h('tr', {}, ['Name', 'In', 'Required', 'Type', 'Description'].map((x) => h('th', { scope: 'col', text: x })))),
          h('tbody', {}, params.map((q) => h('tr', {},
            h('td', {}, h('code', { text: String(q.name || q.$ref || '') })), h('td', { text: String(q.in || '') }),
            h('td', { text: q.required ? 'yes' : 'no' }), h('td', { text: schemaText(q.schema) }),
            h('td', { text: String(q.description || '') })))))) : null,
        op.requestBody && op.requestBody.content ? h('p', {}, 'Request body: ', Object.keys(op.requestBody.content).join(', ')) : null,
        responses.length ? h('ul', { 'aria-label': 'Responses' }, responses.map(([code, r]) => h('li', {},
          h('strong', { text: code }), ` ${r && r.description ? r.description : ''}`))) : null));
    }
  }
  if (!Object.keys(paths).length) root.append(h('p', { text: 'This document describes no paths.' }));
  return root;
}
