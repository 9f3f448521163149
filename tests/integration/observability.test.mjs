// Metrics and logs as an operator sees them: every service's /metrics is
// valid Prometheus exposition (promtool, Debian's prometheus package) with no
// repeated series, carries build/process/jobs series, the gateway counts its
// decisions by outcome, and one request id joins nginx's access log, the
// service's JSON log and the error body.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { api, haveStack, waitFor, STACK_DIR } from './lib/api.mjs';

const noStack = haveStack() ? false : 'CLEARANCE_BASE_URL not set: run via make integration';
const LOGS = STACK_DIR ? path.join(STACK_DIR, 'logs') : '';

async function scrape(svc) {
  const m = await api('GET', `/${svc}/metrics`, undefined, { token: null });
  assert.equal(m.status, 200, m.text);
  return m.text;
}

// Sample lines as {series: 'name{labels}', name, value}; comments skipped.
function samples(text) {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = l.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/);
    assert.ok(m, `malformed sample line: ${l}`);
    return { series: m[1] + (m[2] || ''), name: m[1], labels: m[2] || '', value: Number(m[3]) };
  });
}

const value = (text, series) => samples(text).find((s) => s.series === series)?.value;

describe('metrics exposition', { skip: noStack }, () => {
  for (const svc of ['registrar', 'introspect', 'access']) {
    test(`${svc}: promtool accepts /metrics, no series twice, build/process series present`, async () => {
      // Traffic on a route served for several methods, so its histogram would repeat
      await api('GET', '/v1/nope-not-here', undefined, { token: null });
      if (svc === 'registrar') await api('GET', '/v1/providers');
      if (svc === 'access') await api('GET', '/v1/products');
      const text = await scrape(svc);
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
      assert.equal(r.error, undefined, 'promtool runs (Debian package prometheus, tests/stack/deps.sh)');
      assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint problems either');
      const seen = new Map();
      for (const s of samples(text)) {
        assert.ok(!seen.has(s.series), `series rendered twice: ${s.series}`);
        seen.set(s.series, s.value);
      }
      assert.ok([...seen.keys()].some((k) => k.startsWith(`clearance_build_info{service="${svc}",version="`)));
      for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds',
        'process_start_time_seconds']) {
        assert.ok(seen.get(n) > 0, `${n} > 0`);
      }
      assert.ok(Math.abs(seen.get('process_start_time_seconds') - Date.now() / 1000) < 86400, 'start time is a Unix time');
    });
  }

  test('registrar and access render clearance_jobs{kind,state} for their own kinds only', async () => {
    const kinds = {};
    for (const svc of ['registrar', 'access']) {
      const s = samples(await scrape(svc)).filter((x) => x.name === 'clearance_jobs');
      assert.ok(s.length > 0, `${svc}: clearance_jobs present`);
      kinds[svc] = new Set(s.map((x) => x.labels.match(/kind="([^"]+)"/)[1]));
      for (const st of ['queued', 'running', 'done', 'failed']) {
        assert.ok(s.some((x) => x.labels.includes(`state="${st}"`)), `${svc}: state ${st}`);
      }
    }
    assert.ok(kinds.registrar.has('provision') && kinds.registrar.has('deregister'));
    assert.ok(kinds.access.has('request_settle'));
    for (const k of kinds.registrar) assert.ok(!kinds.access.has(k), `kind ${k} belongs to one service`);
  });

  test('the gateway counts each decision by outcome', async () => {
    const before = await scrape('introspect');
    for (const r of ['allow', 'invalid_token', 'revoked', 'unregistered', 'not_granted', 'insufficient_scope',
      'rate_limited', 'quota_exhausted', 'limits_unavailable']) {
      assert.notEqual(value(before, `clearance_auth_total{result="${r}"}`), undefined, `outcome ${r}`);
    }
    const n0 = value(before, 'clearance_auth_total{result="invalid_token"}');
    const a = await api('GET', '/api/hello.json', undefined, { token: 'not-a-jwt' });
    assert.equal(a.status, 401);
    const after = await scrape('introspect');
    assert.ok(value(after, 'clearance_auth_total{result="invalid_token"}') >= n0 + 1);
    assert.notEqual(value(after, 'clearance_jwks_fetches_total'), undefined);
  });
});

describe('logs', { skip: noStack }, () => {
  test('nginx\'s request id is the service\'s: access log, JSON log line and error body join', async () => {
    const r = await api('GET', `/v1/developers/not-a-uuid-${Date.now()}`, undefined, { token: null });
    assert.ok(r.status >= 400, r.text);
    const id = r.headers.get('x-request-id');
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(r.json.request_id, id, 'the error body names the request');
    const nginxLine = await waitFor(() => fs.readFileSync(path.join(LOGS, 'nginx-access.log'), 'utf8')
      .split('\n').find((l) => l.endsWith(` ${id}`)), { what: 'nginx access line' });
    assert.match(nginxLine, /"GET \/v1\/developers\//);
    const line = await waitFor(() => fs.readFileSync(path.join(LOGS, 'access.log'), 'utf8').split('\n')
      .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .find((o) => o.req === id && o.msg === 'access'), { what: 'service access line' });
    assert.equal(line.method, 'GET');
    assert.equal(line.status, r.status);
    assert.equal(typeof line.route, 'string');
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(line.client, '127.0.0.1');
  });

  test('a client\'s own X-Request-Id does not replace nginx\'s', async () => {
    const r = await api('GET', '/v1/nope', undefined, { token: null, headers: { 'x-request-id': 'deadbeefdeadbeef' } });
    assert.notEqual(r.headers.get('x-request-id'), 'deadbeefdeadbeef');
    assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  });
});
