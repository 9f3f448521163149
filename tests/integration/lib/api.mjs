// Fetch helpers for the Clearance API behind the test nginx
// (CLEARANCE_BASE_URL), with the admin token from the stack scripts.
import net from 'node:net';

export const BASE_URL = process.env.CLEARANCE_BASE_URL || '';
export const ADMIN_TOKEN = process.env.CLEARANCE_ADMIN_TOKEN || '';
export const STACK_DIR = process.env.CLEARANCE_STACK_DIR || '';
export const DATABASE_URL = process.env.CLEARANCE_DATABASE_URL || '';

/** True when the stack scripts started nginx and the services for us. */
export const haveStack = () => Boolean(BASE_URL);

/**
 * api(method, path, body, {token, headers, raw, timeoutMs})
 *   token: bearer token; defaults to the admin token, null sends none.
 *   body: object -> JSON; string/Buffer/URLSearchParams sent as is.
 * Resolves to {status, headers, json, text}; json is undefined if the body
 * is not JSON.  Never throws for an HTTP status, only for transport errors.
 */
export async function api(method, path, body, {
  token = ADMIN_TOKEN, headers = {}, timeoutMs = 15000, baseUrl = BASE_URL,
} = {}) {
  if (!baseUrl) throw new Error('api(): CLEARANCE_BASE_URL is not set (run through make integration)');
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof URLSearchParams) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
  }
  const r = await fetch(new URL(path, baseUrl), {
    method, headers: h, body: payload, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, json, text };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls fn() until it returns a truthy value; rejects after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { lastErr = e; }
    if (Date.now() > end) {
      throw new Error(`waitFor(${what}): timed out after ${timeoutMs} ms${lastErr ? `: ${lastErr.message}` : ''}`);
    }
    await new Promise((r) => { setTimeout(r, intervalMs); });
  }
}
