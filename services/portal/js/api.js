// The JSON API, same origin only.  Cookie session; every call carries the
// CSRF header the server requires for cookie-authenticated writes.

export class ApiError extends Error {
  constructor(status, body) {
    const desc = body && typeof body.error_description === 'string' ? body.error_description : '';
    super(desc || `The server answered with status ${status}.`);
    this.status = status;
    this.code = body && typeof body.error === 'string' ? body.error : `http_${status}`;
    this.field = body && typeof body.field === 'string' ? body.field : null;
    // The API speaks of bearer tokens; a person in the browser has a session.
    if (status === 401 && this.code === 'invalid_token') this.message = 'Your session has ended. Please log in again.';
    if (status === 403 && this.code === 'csrf_rejected') this.message = 'This page is out of date. Reload it and try again.';
  }
}

let pending = 0;
function inflight(d) {
  pending += d;
  // Set after the caller's code has run (a re-render follows the last await).
  setTimeout(() => { document.body.dataset.inflight = String(pending); }, d > 0 ? 0 : 50);
}

export async function api(method, path, body, { extraHeaders = {} } = {}) {
  const headers = { Accept: 'application/json', 'X-Clearance-CSRF': '1', ...extraHeaders };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let r;
  let text;
  // Calls in flight, on <body data-inflight>: tests wait for 0 before acting on a page.
  inflight(1);
  try {
    r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    text = await r.text();
  } catch {
    throw new ApiError(0, { error: 'network', error_description: 'The server could not be reached. Check your connection and try again.' });
  } finally {
    inflight(-1);
  }
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (!r.ok) {
    if (r.status === 429 && !(json && json.error_description)) {
      throw new ApiError(429, { error: 'too_many_requests', error_description: 'Too many attempts. Wait a while and try again.' });
    }
    throw new ApiError(r.status, json);
  }
  return json;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const put = (p, b) => api('PUT', p, b);
export const del = (p) => api('DELETE', p);
