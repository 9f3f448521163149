// PostgreSQL restarts under running services (the issue: "reconnect after
// PostgreSQL restarts").  `pg_ctl restart -m fast` ends every session, so
// each service thread and the registrar's job worker hold a dead connection
// afterwards; they must reconnect on their own, re-prepare their statements
// and the job worker must LISTEN again.
//
// Named zz_ so that node --test (given the files sorted by glob in
// tests/stack/lib.sh) runs it last: the shared cluster is restarted, not
// replaced, so later passes find it (and its data) as before.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { api, haveStack, waitFor, STACK_DIR, DATABASE_URL } from './lib/api.mjs';

const dataDir = STACK_DIR ? path.join(STACK_DIR, 'pg', 'data') : '';
let skip = false;
if (!haveStack()) skip = 'CLEARANCE_BASE_URL not set: run via make integration';
else if (!DATABASE_URL) skip = 'CLEARANCE_DATABASE_URL not set';
else if (!dataDir || !fs.existsSync(path.join(dataDir, 'postmaster.pid'))) {
  skip = `no running stack cluster under ${dataDir || '(CLEARANCE_STACK_DIR unset)'}`;
}

// The same search as _stack_pg_bindir in tests/stack/lib.sh.
function pgBinDir() {
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (fs.existsSync(path.join(d, 'pg_ctl'))) return d;
  } catch { /* no pg_config: look in Debian's place */ }
  const root = '/usr/lib/postgresql';
  const vers = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of vers) {
    const d = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(d, 'pg_ctl'))) return d;
  }
  return '';
}

function run(cmd, args, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`${cmd} exited ${code}: ${out}`));
    });
  });
}

// As lib.sh's _stack_as_pg: the cluster belongs to postgres when we are root.
function asPostgres(cmd, args) {
  if (process.getuid && process.getuid() === 0) return run('runuser', ['-u', 'postgres', '--', cmd, ...args]);
  return run(cmd, args);
}

function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', DATABASE_URL];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return new Promise((resolve, reject) => {
    const p = spawn('psql', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`psql exited ${code}: ${err}`));
    });
    p.stdin.end(sql);
  });
}

async function backendPids() {
  const out = await psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();");
  return new Set(out.split(/\s+/).filter(Boolean));
}

describe('services survive a PostgreSQL restart', { skip }, () => {
  test('readyz, admin API, gateway and the job worker recover', async () => {
    // Every service has been used, so each holds sessions that the restart kills.
    for (const svc of ['registrar', 'introspect', 'access']) {
      const r = await api('GET', `/${svc}/readyz`, undefined, { token: null });
      assert.equal(r.status, 200, `${svc} readyz before the restart: ${r.text}`);
    }
    const before = await api('GET', '/v1/providers');
    assert.equal(before.status, 200, before.text);
    const oldPids = await backendPids();
    assert.ok(oldPids.size > 0, 'the services hold sessions before the restart');

    const bin = pgBinDir();
    assert.ok(bin, 'pg_ctl not found');
    // pg_ctl restart reuses the options in postmaster.opts (socket dir, fsync=off...).
    await asPostgres(path.join(bin, 'pg_ctl'), ['restart', '-D', dataDir, '-m', 'fast', '-w', '-t', '60',
      '-l', path.join(STACK_DIR, 'pg', 'postgres.log')]);
    const now = await backendPids();
    for (const p of oldPids) assert.ok(!now.has(p), `session ${p} survived the restart`);

    // The first request on each dead session is where the reconnect happens.
    const t0 = Date.now();
    for (const svc of ['registrar', 'introspect', 'access']) {
      await waitFor(async () => {
        const r = await api('GET', `/${svc}/readyz`, undefined, { token: null });
        return r.status === 200;
      }, { timeoutMs: 10000, intervalMs: 200, what: `${svc} readyz after the restart` });
    }
    assert.ok(Date.now() - t0 < 10000, 'readyz came back within seconds');

    // Enough requests to reach every worker thread: each one must reconnect
    // and re-prepare, and none may answer 503 once the first succeeded.
    for (let i = 0; i < 24; i++) {
      const r = await api('GET', '/v1/providers');
      assert.equal(r.status, 200, `admin GET /v1/providers #${i} after the restart: ${r.text}`);
    }
    // The gateway's checker is up: no token and a bad token are 401s, not 5xx.
    const anon = await api('GET', '/api/hello.json', undefined, { token: null });
    assert.equal(anon.status, 401, anon.text);
    const bad = await api('GET', '/api/hello.json', undefined, { token: 'not-a-jwt' });
    assert.equal(bad.status, 401, bad.text);

    // A job enqueued after the restart is claimed by the registrar's worker,
    // whose LISTEN session was killed too.  A deregister of an unknown
    // registration is final on its first attempt, so the run is visible.
    const regId = crypto.randomUUID();
    const jobId = (await psql(`INSERT INTO jobs (kind, payload)
      VALUES ('deregister', jsonb_build_object('registration_id', :'id')) RETURNING id;
      NOTIFY clearance_jobs;`, { id: regId })).trim();
    assert.match(jobId, /^[0-9a-f-]{36}$/);
    const job = await waitFor(async () => {
      const j = await api('GET', `/v1/jobs/${jobId}`);
      return ['done', 'failed'].includes(j.json?.state) ? j.json : null;
    }, { timeoutMs: 20000, intervalMs: 200, what: 'job run after the restart' });
    assert.equal(job.state, 'failed', JSON.stringify(job));
    assert.equal(Number(job.attempts), 1, JSON.stringify(job));
    assert.doesNotMatch(String(job.last_error), /database|connection|unavailable/i, JSON.stringify(job));
  });
});
