// Checks of everything under deploy/ that cannot run here (no container
// engine, no cluster), and of the API description against the code.
//
// Static part (run by tests/stack/deploy-check.sh, its own step of
// `make test`, and by `node --test tests/integration/deploy.test.mjs`):
//   - docker-compose config (Debian's docker-compose) accepts the compose file
//   - kubectl kustomize renders the base and the example overlay, and every
//     object validates against the Kubernetes schemas (kubernetes-models);
//     CRDs (CloudNativePG Cluster) get their required fields checked;
//     references between objects resolve
//   - the OpenAPI document lints (@redocly/cli) and its paths are exactly the
//     route tables in services/*/*.c, both ways
//   - the nginx, lighttpd and Keycloak files parse and agree with each other
// Live part (inside the integration run, where nginx and the services are
// up): real responses validate against the OpenAPI schemas, and the probe
// script used by the container health checks answers for real.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import { api, haveStack, STACK_DIR, freePort, waitFor } from './lib/api.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const D = (...p) => path.join(ROOT, 'deploy', ...p);
const read = (p) => fs.readFileSync(p, 'utf8');
// In the integration run the static checks already ran in their own step.
const staticSkip = haveStack() ? 'static deploy checks run in their own step (tests/stack/deploy-check.sh)' : false;
const liveSkip = haveStack() ? false : 'CLEARANCE_BASE_URL not set: run via make integration';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

// ------------------------------------------------------------ route tables

// {"METHOD", "/path", ...} entries of every route table in services/*/*.c;
// "{}" segments become OpenAPI templates in order.
function codeRoutes() {
  const out = new Map();
  const re = /\{\s*"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*"(\/[^"]*)"/g;
  for (const svc of fs.readdirSync(path.join(ROOT, 'services'))) {
    const dir = path.join(ROOT, 'services', svc);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.c'))) {
      for (const m of read(path.join(dir, f)).matchAll(re)) {
        out.set(`${m[1]} ${m[2]}`, `${svc}/${f}`);
      }
    }
  }
  return out;
}

function openapiRoutes(doc) {
  const out = new Set();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
      if (item[m]) out.add(`${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`);
    }
  }
  return out;
}

// Served by http_in itself in every service; nginx publishes them as /<svc>/...
const HEALTH = /^GET \/(registrar|introspect|access)\/(healthz|readyz|metrics)$/;

const openapi = () => YAML.parse(read(D('openapi.yaml')));

describe('OpenAPI description', { skip: staticSkip }, () => {
  test('every route in the code is in openapi.yaml, and every path there is in the code', () => {
    const code = codeRoutes();
    assert.ok(code.size >= 20, `found only ${code.size} routes in services/*/*.c: is the regex stale?`);
    for (const svc of ['registrar', 'introspect', 'access']) {
      assert.ok([...code.values()].some((f) => f.startsWith(`${svc}/`)), `no route table found for ${svc}`);
    }
    const doc = openapi();
    const spec = openapiRoutes(doc);
    const missing = [...code.keys()].filter((r) => !spec.has(r));
    const extra = [...spec].filter((r) => !code.has(r) && !HEALTH.test(r));
    assert.deepEqual(missing, [], `in the code but not in deploy/openapi.yaml: ${missing.join(', ')}`);
    assert.deepEqual(extra, [], `in deploy/openapi.yaml but not in any route table: ${extra.join(', ')}`);
    for (const svc of ['registrar', 'introspect', 'access']) {
      for (const h of ['healthz', 'readyz', 'metrics']) {
        assert.ok(spec.has(`GET /${svc}/${h}`), `GET /${svc}/${h} is described`);
      }
    }
  });

  test('every operation has responses with schemas and an error schema for 4xx', () => {
    const doc = openapi();
    assert.match(doc.openapi, /^3\.1\./);
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
        const o = item[m];
        if (!o) continue;
        assert.ok(o.operationId, `${m} ${p}: operationId`);
        const codes = Object.keys(o.responses);
        assert.ok(codes.some((c) => /^2/.test(c)), `${m} ${p}: a success response`);
        for (const c of codes.filter((x) => /^[45]/.test(x))) {
          const r = o.responses[c];
          if (p === '/auth') continue; // auth_request answers carry no body
          assert.ok(r.$ref === undefined ? r.content : /#\/components\/responses\//.test(r.$ref), `${m} ${p} ${c}`);
        }
        if (['post', 'put', 'patch'].includes(m) && o.requestBody) {
          assert.ok(Object.values(o.requestBody.content)[0].schema, `${m} ${p}: request schema`);
        }
      }
    }
  });

  test('prometheus.yml scrapes each service\'s /metrics as nginx publishes it', () => {
    const prom = YAML.parse(read(D('prometheus.yml')));
    const paths = prom.scrape_configs.map((j) => j.metrics_path).sort();
    assert.deepEqual(paths, ['/access/metrics', '/introspect/metrics', '/registrar/metrics']);
    for (const p of paths) assert.ok(openapi().paths[p]?.get, `${p} is a described route`);
  });

  test('redocly lints it', () => {
    const bin = path.join(ROOT, 'tests/node_modules/.bin/redocly');
    assert.ok(fs.existsSync(bin), '@redocly/cli is installed (tests/package.json devDependencies)');
    const r = run(bin, ['lint', '--format=stylish', D('openapi.yaml')], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' },
      timeout: 90000,
    });
    assert.equal(r.status, 0, `redocly lint:\n${r.stdout}\n${r.stderr}`);
  });
});

// ------------------------------------------------------------ compose

describe('docker-compose', { skip: staticSkip }, () => {
  test('docker-compose config accepts the compose file', () => {
    const v = run('docker-compose', ['version', '--short']);
    assert.equal(v.status, 0, 'docker-compose is installed (tests/stack/deps.sh)');
    const r = run('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), 'config'], {
      cwd: ROOT, env: { ...process.env, COMPOSE_PROJECT_NAME: 'clearance' },
    });
    assert.equal(r.status, 0, r.stderr);
    const cfg = YAML.parse(r.stdout);
    for (const s of ['postgres', 'keycloak', 'mailpit', 'nginx', 'migrate', 'bootstrap', 'registrar', 'introspect', 'access']) {
      assert.ok(cfg.services[s], `service ${s}`);
    }
    for (const s of ['registrar', 'introspect', 'access']) {
      const svc = cfg.services[s];
      assert.deepEqual(svc.command, [`clearance-${s}`]);
      assert.equal(svc.depends_on.migrate.condition, 'service_completed_successfully');
      assert.deepEqual(svc.healthcheck.test, ['CMD', 'clearance-probe', '/readyz']);
      assert.equal(svc.environment.CLEARANCE_SEAL_KEYS_FILE, '/run/secrets/seal_keys');
      assert.equal(svc.environment.CLEARANCE_TOKEN_PEPPER_FILE, '/run/secrets/token_pepper');
      assert.equal(svc.read_only, true);
    }
    for (const s of ['postgres', 'keycloak', 'mailpit', 'nginx']) {
      assert.ok(cfg.services[s].healthcheck, `${s} has a health check`);
    }
    assert.match(cfg.services.keycloak.command.join(' '), /--import-realm/);
    // The first admin, from a secret file, idempotent on every start.
    const boot = cfg.services.bootstrap;
    assert.ok(boot, 'a bootstrap service');
    assert.deepEqual(boot.command.slice(0, 2), ['clearance-ctl', 'create-admin']);
    assert.ok(boot.command.includes('--if-absent') && boot.command.includes('/run/secrets/admin_password'));
    assert.equal(boot.depends_on.migrate.condition, 'service_completed_successfully');
    assert.ok(cfg.secrets.admin_password, 'the admin password is a compose secret');
    assert.deepEqual(cfg.services.migrate.command, ['clearance-ctl', 'migrate', '--wait', '60']);
  });

  test('the Dockerfile is multi-stage on bookworm, runs as non-root, copies files that exist', () => {
    const df = read(D('docker', 'Dockerfile'));
    const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.equal(froms.length, 2);
    assert.match(df, /^ARG DEBIAN=bookworm$/m);
    assert.ok(froms.every((f) => f.startsWith('debian:${DEBIAN}')));
    const user = df.match(/^USER\s+(\S+)/m);
    assert.ok(user && !/^(0|root)(:|$)/.test(user[1]), 'USER is set and not root');
    for (const m of df.matchAll(/^COPY\s+(?!--from)(\S+)\s/gm)) {
      assert.ok(fs.existsSync(path.join(ROOT, m[1])), `COPY source ${m[1]} exists`);
    }
    // `make all` in the build stage builds all four programs.
    assert.match(read(path.join(ROOT, 'Makefile')), /^SERVICES := registrar introspect access ctl$/m);
    assert.match(df, /make -j"\$\(nproc\)" all/);
  });

  test('the compose nginx routes exactly like deploy/nginx and the test nginx', () => {
    const locs = (f) => read(f).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('location ')).sort();
    const prod = locs(D('nginx', 'clearance.conf'));
    assert.ok(prod.length >= 8);
    assert.deepEqual(locs(D('docker', 'nginx.conf')), prod);
    assert.deepEqual(locs(path.join(ROOT, 'tests/stack/nginx-test.conf.template')), prod);
  });

  test('nginx -t accepts the compose nginx config (upstream hosts mapped to loopback)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clearance-nginx-'));
    try {
      const inner = read(D('docker', 'nginx.conf'))
        .replace(/server (registrar|introspect|access):9000;/g, 'server 127.0.0.1:9000;')
        .replace('listen 80;', 'listen 127.0.0.1:1;')
        .replace('listen 9102;', 'listen 127.0.0.1:2;')
        .replace('access_log /dev/stdout clearance;', `access_log ${dir}/access.log clearance;`);
      const conf = `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n`
        + `client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};\n`
        + `uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n${inner}\n}\n`;
      fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
      const r = run('nginx', ['-t', '-q', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', `${dir}/error.log`]);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the Keycloak realm enables registration with initial access tokens and has product and plan scopes', () => {
    const realm = JSON.parse(read(D('keycloak', 'realm.json')));
    assert.equal(realm.realm, 'clearance');
    assert.equal(realm.enabled, true);
    const pol = realm.components['org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy'];
    const authd = pol.filter((p) => p.subType === 'authenticated');
    const allowed = authd.find((p) => p.providerId === 'allowed-client-templates');
    assert.ok(allowed, 'an allowed-client-scopes policy for registrations with an initial access token');
    const names = realm.clientScopes.map((s) => s.name);
    assert.ok(names.some((n) => n.startsWith('api:')), 'product scopes');
    assert.ok(names.some((n) => n.startsWith('plan:')), 'plan scopes');
    assert.deepEqual([...allowed.config['allowed-client-scopes']].sort(), [...names].sort());
    const anon = pol.find((p) => p.subType === 'anonymous' && p.providerId === 'max-clients');
    assert.deepEqual(anon.config['max-clients'], ['0'], 'anonymous registration is off');
  });
});

// ------------------------------------------------------------ lighttpd

describe('lighttpd configuration', { skip: staticSkip }, () => {
  test('lighttpd -tt accepts deploy/lighttpd/clearance.conf, routed like the test template', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clearance-lighttpd-'));
    try {
      fs.mkdirSync(path.join(dir, 'empty'));
      const prod = read(D('lighttpd', 'clearance.conf')).replace('/var/log/lighttpd/', `${dir}/`);
      fs.writeFileSync(path.join(dir, 'clearance.conf'), prod);
      fs.writeFileSync(path.join(dir, 'base.conf'),
        `server.document-root = "${dir}/empty"\nserver.port = 1\nserver.bind = "127.0.0.1"\n`
        + `server.modules = ()\ninclude "${dir}/clearance.conf"\n`);
      const r = run('lighttpd', ['-tt', '-f', path.join(dir, 'base.conf')]);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.doesNotMatch(`${r.stdout}${r.stderr}`, /WARNING/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const conds = (t) => [...t.matchAll(/\$HTTP\["url"\]\s*(=~|==)\s*"([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(conds(read(D('lighttpd', 'clearance.conf'))),
      conds(read(path.join(ROOT, 'tests/stack/lighttpd-test.conf.template'))));
  });
});

// ------------------------------------------------------------ Kubernetes

const SCHEMA_MODULES = {
  'v1/ConfigMap': 'v1/ConfigMap', 'v1/Secret': 'v1/Secret', 'v1/Service': 'v1/Service',
  'v1/Namespace': 'v1/Namespace', 'apps/v1/Deployment': 'apps/v1/Deployment',
  'batch/v1/Job': 'batch/v1/Job', 'policy/v1/PodDisruptionBudget': 'policy/v1/PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'autoscaling/v2/HorizontalPodAutoscaler',
  'networking.k8s.io/v1/Ingress': 'networking.k8s.io/v1/Ingress',
};

function kustomize(dir) {
  const r = run('kubectl', ['kustomize', dir], { timeout: 60000 });
  assert.equal(r.status, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
}

// The CloudNativePG CRD is not in kubernetes-models: its required fields.
function checkCnpgCluster(o) {
  assert.equal(o.apiVersion, 'postgresql.cnpg.io/v1');
  assert.match(o.metadata?.name || '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  assert.ok(Number.isInteger(o.spec?.instances) && o.spec.instances >= 1, 'spec.instances');
  assert.match(String(o.spec?.storage?.size || ''), /^[0-9]+(Mi|Gi|Ti)$/, 'spec.storage.size');
  assert.equal(typeof o.spec?.bootstrap?.initdb?.database, 'string');
  assert.equal(typeof o.spec?.bootstrap?.initdb?.owner, 'string');
}

// The Prometheus Operator's ServiceMonitor is a CRD too: the fields we use.
function checkServiceMonitor(o) {
  assert.equal(o.apiVersion, 'monitoring.coreos.com/v1');
  assert.match(o.metadata?.name || '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  assert.equal(typeof o.spec?.selector?.matchLabels, 'object', 'spec.selector.matchLabels');
  assert.ok(Array.isArray(o.spec?.endpoints) && o.spec.endpoints.length >= 1, 'spec.endpoints');
  for (const e of o.spec.endpoints) {
    assert.equal(typeof e.port, 'string', 'endpoint port by name');
    assert.match(e.interval || '30s', /^[0-9]+(s|m)$/);
  }
}

async function validateAll(objs) {
  const seen = [];
  for (const o of objs) {
    const key = `${o.apiVersion}/${o.kind}`;
    if (key === 'postgresql.cnpg.io/v1/Cluster') { checkCnpgCluster(o); seen.push(key); continue; }
    if (key === 'monitoring.coreos.com/v1/ServiceMonitor') { checkServiceMonitor(o); seen.push(key); continue; }
    const mod = SCHEMA_MODULES[key];
    assert.ok(mod, `no schema for ${key} (${o.metadata?.name}): add it to SCHEMA_MODULES`);
    const m = await import(`kubernetes-models/${mod}`);
    const Cls = m[o.kind];
    assert.doesNotThrow(() => new Cls(o).validate(), (e) => `${key} ${o.metadata?.name}: ${e.message}`);
    seen.push(key);
  }
  return seen;
}

function checkWorkloads(objs, { expectSecretsFromOutside = [] } = {}) {
  const by = (kind) => objs.filter((o) => o.kind === kind);
  const names = (kind) => new Set(by(kind).map((o) => o.metadata.name));
  const deps = by('Deployment');
  assert.deepEqual(deps.map((d) => d.metadata.name).sort(),
    ['clearance-access', 'clearance-introspect', 'clearance-registrar']);
  const secrets = new Set([...names('Secret'), ...expectSecretsFromOutside]);
  const cms = names('ConfigMap');
  const pods = [...deps.map((d) => d.spec.template.spec), ...by('Job').map((j) => j.spec.template.spec)];
  for (const spec of pods) {
    assert.equal(spec.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
    for (const c of [...(spec.initContainers || []), ...spec.containers]) {
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root`);
      assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${c.name}: resource requests`);
      for (const e of c.env || []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s) assert.ok(secrets.has(s.name), `${c.name}: Secret ${s.name} exists`);
      }
      for (const e of c.envFrom || []) {
        if (e.configMapRef) assert.ok(cms.has(e.configMapRef.name), `ConfigMap ${e.configMapRef.name}`);
      }
    }
    for (const v of spec.volumes || []) {
      if (v.secret) assert.ok(secrets.has(v.secret.secretName), `Secret ${v.secret.secretName} exists`);
      if (v.configMap) assert.ok(cms.has(v.configMap.name), `ConfigMap ${v.configMap.name} exists`);
    }
  }
  for (const d of deps) {
    const svc = d.metadata.name.replace('clearance-', '');
    const c = d.spec.template.spec.containers[0];
    assert.deepEqual(c.command, [d.metadata.name]);
    assert.ok(c.ports.some((p) => p.containerPort === 9000 && p.protocol === 'TCP'), `${svc}: FastCGI on TCP 9000`);
    assert.deepEqual(c.readinessProbe.exec.command, ['clearance-probe', '/readyz']);
    assert.deepEqual(c.livenessProbe.exec.command, ['clearance-probe', '/healthz']);
    assert.ok((c.env || []).some((e) => e.name === 'CLEARANCE_DATABASE_URL' && e.valueFrom?.secretKeyRef));
    assert.ok((c.env || []).some((e) => e.name === 'CLEARANCE_SEAL_KEYS_FILE'));
    assert.ok((c.env || []).some((e) => e.name === 'CLEARANCE_TOKEN_PEPPER_FILE'), `${svc}: token pepper`);
    const labels = d.spec.template.metadata.labels;
    const matches = (sel) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(by('Service').some((s) => matches(s.spec.selector)), `${svc}: a Service selects it`);
    assert.ok(by('PodDisruptionBudget').some((p) => matches(p.spec.selector.matchLabels)), `${svc}: a PDB`);
    assert.ok(by('HorizontalPodAutoscaler').some((h) => h.spec.scaleTargetRef.name === d.metadata.name), `${svc}: an HPA`);
    // Migrations run on every rollout (init container, advisory lock), not
    // from an immutable Job.
    const init = d.spec.template.spec.initContainers?.[0];
    assert.deepEqual(init?.command, ['clearance-ctl', 'migrate', '--wait', '120'], `${svc}: migrate init container`);
    assert.ok((init.env || []).some((e) => e.name === 'CLEARANCE_DATABASE_URL' && e.valueFrom?.secretKeyRef));
    // Metrics over HTTP on :9102 from a sidecar, announced for scrapers.
    const ann = d.spec.template.metadata.annotations || {};
    assert.equal(ann['prometheus.io/scrape'], 'true', `${svc}: scrape annotation`);
    assert.equal(ann['prometheus.io/port'], '9102');
    assert.equal(ann['prometheus.io/path'], '/metrics');
    assert.ok(d.spec.template.spec.containers.some((c) => (c.ports || []).some((p) => p.name === 'metrics' && p.containerPort === 9102)),
      `${svc}: a container serves metrics on 9102`);
    const service = by('Service').find((x) => matches(x.spec.selector));
    assert.ok(service.spec.ports.some((p) => p.name === 'metrics' && p.port === 9102), `${svc}: Service exposes metrics`);
  }
  assert.ok(names('ConfigMap').has('clearance-ops-bridge'), 'the ops bridge configuration');
  assert.equal(by('Job').length, 0, 'no migration Job (immutable: an upgrade could not re-run it)');
  const ings = by('Ingress');
  const fcgi = ings.filter((i) => i.metadata.annotations?.['nginx.ingress.kubernetes.io/backend-protocol'] === 'FCGI');
  assert.equal(fcgi.length, 3, 'one FCGI Ingress per service');
  for (const i of fcgi) {
    const cm = i.metadata.annotations['nginx.ingress.kubernetes.io/fastcgi-params-configmap'];
    assert.ok(cms.has(cm), `FastCGI params ConfigMap ${cm}`);
    for (const r of i.spec.rules) {
      for (const p of r.http.paths) assert.ok(names('Service').has(p.backend.service.name), p.backend.service.name);
    }
  }
  const gw = ings.find((i) => i.metadata.annotations?.['nginx.ingress.kubernetes.io/auth-url']);
  assert.ok(gw, 'a gateway Ingress with auth-url');
  assert.match(gw.metadata.annotations['nginx.ingress.kubernetes.io/auth-url'],
    /^http:\/\/clearance-introspect\.[a-z0-9-]+\.svc\.cluster\.local:8080\/auth$/);
}

describe('Kubernetes manifests', { skip: staticSkip }, () => {
  test('the base renders and every object validates against the Kubernetes schemas', async () => {
    const objs = kustomize(D('k8s', 'base'));
    const kinds = await validateAll(objs);
    for (const k of ['apps/v1/Deployment', 'v1/Service', 'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget', 'networking.k8s.io/v1/Ingress', 'v1/Secret']) {
      assert.ok(kinds.includes(k), `base has a ${k}`);
    }
    checkWorkloads(objs);
  });

  test('the example overlay renders, validates, and wires CloudNativePG and the namespace', async () => {
    const objs = kustomize(D('k8s', 'overlays', 'example'));
    const kinds = await validateAll(objs);
    assert.ok(kinds.includes('postgresql.cnpg.io/v1/Cluster'));
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) {
      assert.equal(o.metadata.namespace, 'clearance', `${o.kind} ${o.metadata.name} in the namespace`);
    }
    // CNPG makes "<cluster>-app"; the TLS Secret is the operator's to create.
    const cluster = objs.find((o) => o.kind === 'Cluster');
    checkWorkloads(objs, { expectSecretsFromOutside: [`${cluster.metadata.name}-app`] });
    const dep = objs.find((o) => o.kind === 'Deployment');
    const db = dep.spec.template.spec.containers[0].env.find((e) => e.name === 'CLEARANCE_DATABASE_URL');
    assert.deepEqual(db.valueFrom.secretKeyRef, { name: `${cluster.metadata.name}-app`, key: 'uri' });
    assert.ok(!objs.some((o) => o.kind === 'Secret' && o.metadata.name === 'clearance-database'));
    assert.ok(objs.every((o) => o.kind !== 'Ingress' || o.spec.tls?.length === 1), 'TLS on every Ingress');
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      assert.deepEqual(d.spec.template.spec.initContainers[0].env[0].valueFrom.secretKeyRef,
        { name: `${cluster.metadata.name}-app`, key: 'uri' }, 'the migration uses the CNPG Secret too');
    }
    const sm = objs.filter((o) => o.kind === 'ServiceMonitor');
    assert.equal(sm.length, 1, 'the monitoring component adds a ServiceMonitor');
    const sel = Object.entries(sm[0].spec.selector.matchLabels);
    const scraped = objs.filter((o) => o.kind === 'Service'
      && sel.every(([k, v]) => o.metadata.labels?.[k] === v)
      && o.spec.ports.some((p) => p.name === sm[0].spec.endpoints[0].port));
    assert.deepEqual(scraped.map((o) => o.metadata.name).sort(),
      ['clearance-access', 'clearance-introspect', 'clearance-registrar'], 'it scrapes the three services');
  });

  test('the validator does catch a bad object (the check above can fail)', async () => {
    const objs = kustomize(D('k8s', 'base'));
    const dep = structuredClone(objs.find((o) => o.kind === 'Deployment'));
    dep.spec.template.spec.containers[0].ports[0].containerPort = 'nine thousand';
    await assert.rejects(validateAll([dep]));
    const cluster = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'x' }, spec: {} };
    assert.throws(() => checkCnpgCluster(cluster));
  });
});

// ------------------------------------------------------------ live

describe('against the running stack', { skip: liveSkip }, () => {
  const doc = openapi();
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'openapi', components: doc.components });
  const check = (schemaName, body, what) => {
    const v = ajv.getSchema(`openapi#/components/schemas/${schemaName}`);
    assert.ok(v, `schema ${schemaName}`);
    assert.ok(v(body), `${what} does not match ${schemaName}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  };
  const responseSchema = (method, p, status) => {
    const item = doc.paths[p];
    assert.ok(item?.[method], `${method} ${p} in openapi.yaml`);
    let r = item[method].responses[String(status)];
    assert.ok(r, `${method.toUpperCase()} ${p}: status ${status} is described`);
    if (r.$ref) r = doc.components.responses[r.$ref.split('/').pop()];
    const s = r.content?.['application/json']?.schema;
    return s?.$ref ? s.$ref.split('/').pop() : undefined;
  };
  const real = async (method, p, template, body, opts) => {
    const r = await api(method, p, body, opts);
    const name = responseSchema(method.toLowerCase(), template, r.status);
    if (name) check(name, r.json, `${method} ${p} -> ${r.status}`);
    return r;
  };

  test('admin and error responses of the registrar match their schemas', async () => {
    const l = await real('GET', '/v1/providers', '/v1/providers');
    assert.equal(l.status, 200, l.text);
    await real('GET', '/v1/jobs', '/v1/jobs');
    const anon = await real('GET', '/v1/providers', '/v1/providers', undefined, { token: null });
    assert.equal(anon.status, 401);
    const nf = await real('GET', '/v1/providers/00000000-0000-0000-0000-000000000000', '/v1/providers/{id}');
    assert.equal(nf.status, 404);
    const bad = await real('POST', '/v1/providers', '/v1/providers', { name: 'x', kind: 'nope', well_known_url: 'x' });
    assert.equal(bad.status, 400);
    // And the checker can fail: a provider row is not an error body.
    assert.throws(() => check('Error', { providers: [] }, 'a list'));
  });

  test('a developer journey start matches the access schemas', async () => {
    const email = `deploy-${crypto.randomBytes(4).toString('hex')}@example.test`;
    const password = `openapi ${crypto.randomBytes(8).toString('hex')} check`;
    const s = await real('POST', '/v1/developers', '/v1/developers', { email, password, name: 'OpenAPI' }, { token: null });
    assert.equal(s.status, 201, s.text);
    const l = await real('POST', '/v1/sessions', '/v1/sessions', { email, password }, { token: null });
    assert.equal(l.status, 201, l.text);
    const tok = { token: l.json.token };
    assert.equal((await real('GET', '/v1/me', '/v1/me', undefined, tok)).status, 200);
    assert.equal((await real('GET', '/v1/catalogue', '/v1/catalogue', undefined, tok)).status, 200);
    assert.equal((await real('GET', '/v1/products', '/v1/products', undefined, tok)).status, 200);
    assert.equal((await real('GET', '/v1/plans', '/v1/plans', undefined, tok)).status, 200);
    const app = await real('POST', '/v1/apps', '/v1/apps', { name: 'openapi-app', redirect_uris: [] }, tok);
    assert.equal(app.status, 201, app.text);
    assert.equal((await real('GET', `/v1/apps/${app.json.id}`, '/v1/apps/{id}', undefined, tok)).status, 200);
    const cr = await real('GET', `/v1/apps/${app.json.id}/credentials`, '/v1/apps/{id}/credentials', undefined, tok);
    assert.equal(cr.status, 200, cr.text);
    assert.equal((await real('GET', '/v1/access-requests', '/v1/access-requests', undefined, tok)).status, 200);
    const forbidden = await real('GET', '/v1/developers', '/v1/developers', undefined, tok);
    assert.equal(forbidden.status, 403);
  });

  test('clearance-probe (the container health check) answers over FastCGI', () => {
    const probe = D('docker', 'clearance-probe');
    const run1 = (args) => run('sh', [probe, ...args], { timeout: 15000 });
    for (const svc of ['registrar', 'introspect', 'access']) {
      const sock = path.join(STACK_DIR, 'run', `${svc}.sock`);
      assert.equal(run1(['/healthz', sock]).status, 0, `${svc} /healthz`);
      assert.equal(run1(['/readyz', sock]).status, 0, `${svc} /readyz`);
    }
    assert.equal(run1(['/metrics', path.join(STACK_DIR, 'run', 'access.sock')]).status, 2, 'only health paths');
    assert.notEqual(run1(['/healthz', path.join(STACK_DIR, 'run', 'no-such.sock')]).status, 0, 'nothing there');
  });

  test('the Kubernetes ops bridge serves a pod\'s /metrics, /healthz, /readyz over HTTP (real nginx)', async () => {
    const cm = YAML.parseAllDocuments(read(D('k8s', 'base', 'config.yaml'))).map((d) => d.toJS())
      .find((o) => o?.metadata?.name === 'clearance-ops-bridge');
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clr-ops-'));
    const sock = path.join(STACK_DIR, 'run', 'registrar.sock');
    const conf = cm.data['ops.conf'].replace('listen 9102;', `listen 127.0.0.1:${port};`)
      .replace('fastcgi_pass 127.0.0.1:9000;', `fastcgi_pass unix:${sock};`);
    assert.notEqual(conf, cm.data['ops.conf']);
    fs.writeFileSync(path.join(dir, 'ops.conf'), conf);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root;\n' : ''}`
      + `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n`
      + `events { worker_connections 64; }\nhttp {\n  client_body_temp_path ${dir}/cb;\n  proxy_temp_path ${dir}/px;\n`
      + `  fastcgi_temp_path ${dir}/fc;\n  uwsgi_temp_path ${dir}/uw;\n  scgi_temp_path ${dir}/sc;\n`
      + `  include ${dir}/ops.conf;\n}\n`);
    const ngx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/bridge-healthz`)).ok, { timeoutMs: 10000, what: 'ops bridge nginx' });
      const m = await fetch(`${base}/metrics`);
      assert.equal(m.status, 200);
      assert.match(await m.text(), /^# (HELP|TYPE) clearance_/m, 'Prometheus text from the service');
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal((await fetch(`${base}/v1/providers`)).status, 404, 'nothing but the three paths');
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 403, 'GET only');
    } finally {
      ngx.kill('SIGTERM');
      await new Promise((r) => { ngx.once('exit', r); setTimeout(r, 3000); });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
