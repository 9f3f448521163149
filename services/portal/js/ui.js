// DOM helpers: elements are built with textContent (never innerHTML, except
// the escaped output of md.js), forms get a label per control and show each
// API error next to the control it names.
import { ApiError } from './api.js';
import { markdown } from './md.js';

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function md(src, opts) {
  const d = h('div', { class: 'md' });
  d.innerHTML = markdown(src, opts); // escaped by md.js
  return d;
}

let uid = 0;
/**
 * A labelled control.  spec: {name, label, type, required, value, hint,
 * options: [{value, label}], multiline, autocomplete, checked}.
 */
export function field(spec) {
  const id = `f-${spec.name}-${++uid}`;
  const errId = `${id}-err`;
  const hintId = spec.hint ? `${id}-hint` : null;
  const described = [hintId, errId].filter(Boolean).join(' ');
  let control;
  if (spec.type === 'checkbox') {
    control = h('input', { type: 'checkbox', id, name: spec.name, checked: spec.checked, 'aria-describedby': described });
    return h('div', { class: 'field', 'data-field': spec.name },
      h('label', { class: 'check', for: id }, control, spec.label),
      hintId && h('p', { class: 'hint', id: hintId, text: spec.hint }),
      h('p', { class: 'err', id: errId, 'aria-live': 'polite' }));
  }
  if (spec.options) {
    control = h('select', { id, name: spec.name, required: spec.required, 'aria-describedby': described },
      spec.options.map((o) => h('option', { value: o.value, selected: o.value === spec.value, text: o.label })));
  } else if (spec.multiline) {
    control = h('textarea', { id, name: spec.name, required: spec.required, 'aria-describedby': described, rows: spec.rows || 5 });
    control.value = spec.value || '';
  } else {
    control = h('input', {
      id, name: spec.name, type: spec.type || 'text', required: spec.required, value: spec.value,
      autocomplete: spec.autocomplete, 'aria-describedby': described, min: spec.min, inputmode: spec.inputmode,
    });
  }
  return h('div', { class: 'field', 'data-field': spec.name },
    h('label', { for: id }, spec.label),
    control,
    hintId && h('p', { class: 'hint', id: hintId, text: spec.hint }),
    h('p', { class: 'err', id: errId, 'aria-live': 'polite' }));
}

export function clearErrors(form) {
  form.querySelectorAll('.err').forEach((e) => { e.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const a = form.querySelector('.alert');
  if (a) a.textContent = '';
}

/** Shows err in form: next to its field when the API named one, else at the top. */
export function showError(form, err, fieldMap = {}) {
  const msg = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  const name = err && err.field ? (fieldMap[err.field] || err.field.replace(/\[.*$/, '')) : null;
  const wrap = name ? form.querySelector(`[data-field="${CSS.escape(name)}"]`) : null;
  if (wrap) {
    const control = wrap.querySelector('input, select, textarea');
    const e = wrap.querySelector('.err');
    e.textContent = msg;
    if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
    return;
  }
  let a = form.querySelector('.alert');
  if (!a) { a = h('div', { class: 'alert', role: 'alert' }); form.prepend(a); }
  a.textContent = msg;
  a.setAttribute('tabindex', '-1');
  a.focus();
}

/**
 * A form whose submit calls onSubmit(values, form).  Errors thrown are shown
 * in the form.  Returns the form element.
 */
export function form({ fields, submit, onSubmit, fieldMap, cls, id, extra }) {
  const f = h('form', { novalidate: true, class: cls, id },
    h('div', { class: 'alert', role: 'alert' }),
    fields, extra,
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: submit })));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const btn = f.querySelector('button[type=submit]');
    const vals = {};
    for (const el of f.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') vals[el.name] = el.checked;
      else if (el.type === 'radio') { if (el.checked) vals[el.name] = el.value; }
      else vals[el.name] = el.value;
    }
    // Required fields are checked here so the message sits next to the control.
    for (const el of f.elements) {
      if (el.required && !String(el.value).trim()) {
        const lbl = f.querySelector(`label[for="${el.id}"]`);
        showError(f, Object.assign(new Error(`${lbl ? lbl.firstChild.textContent : el.name} is required.`), { field: el.name }));
        return;
      }
    }
    btn.disabled = true;
    try { await onSubmit(vals, f); } catch (e) { showError(f, e, fieldMap); } finally { btn.disabled = false; }
  });
  return f;
}

export function announce(text) {
  const live = document.getElementById('live');
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}

export function statusBadge(s) {
  return h('span', { class: `status status-${s}`, text: s });
}

export function table(headers, rows, caption) {
  // Focusable and named, so a table wider than a phone can be scrolled from the keyboard.
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'Table' }, h('table', {},
    caption ? h('caption', { class: 'visually-hidden', text: caption }) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { 'data-label': headers[i] }, c))))
      : h('tr', {}, h('td', { colspan: headers.length, text: 'Nothing here yet.' })))));
}

export function errorBox(err) {
  return h('div', { class: 'alert', role: 'alert', text: err && err.message ? err.message : String(err) });
}

export const fmtDate = (s) => (s ? new Date(s).toLocaleString() : '');
