// A real second OpenID Provider for the tests: Glewlwyd 2.7 (Debian package
// `glewlwyd`, installed by `tests/stack/deps.sh test`), started unprivileged on
// 127.0.0.1 with its own config and SQLite database in a temporary
// directory, and set up through its admin API:
//   - scopes: the registration scope and the scopes the caller names
//   - the OpenID Connect plugin "oidc" with a fresh RS256 key pair, client
//     credentials enabled, dynamic registration (RFC 7591) allowed only with
//     an initial access token carrying the registration scope, and RFC 7592
//     management of registered clients
//   - a confidential client (client_secret_basic, client_credentials) whose
//     tokens carry the registration scope: Clearance's registrar uses those
//     as initial access tokens
//
//   const g = await startGlewlwyd({ scopes: ['api:read'] });
//   g.issuer, g.discoveryUrl, g.tokenEndpoint, g.registrationEndpoint
//   await g.initialAccessToken()      -> a fresh token for one registration
//   await g.stop()
//
// Facts this relies on: ../shared/reference/test-stack-notes.md (Glewlwyd).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './api.mjs';

const SYSTEM_CONF = '/etc/glewlwyd/glewlwyd.conf';
const SCHEMA = '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3';
const ADMIN = { username: 'admin', password: 'password' }; // the schema's own
export const REGISTRATION_SCOPE = 'clearance-register';
const PLUGIN = 'oidc';

export function haveGlewlwyd() {
  return fs.existsSync(SYSTEM_CONF) && fs.existsSync(SCHEMA)
    && spawnSync('glewlwyd', ['--help'], { timeout: 5000 }).error === undefined;
}

// The system config with our port, address, URL, log and database.
function writeConfig(dir, port) {
  // No trailing slash: Glewlwyd joins it and "/api" itself.
  const url = `http://127.0.0.1:${port}`;
  let conf = fs.readFileSync(SYSTEM_CONF, 'utf8');
  const set = (key, value) => {
    const re = new RegExp(`^#?\\s*${key}\\s*=.*$`, 'm');
    const line = `${key}=${value}`;
    conf = re.test(conf) ? conf.replace(re, line) : `${line}\n${conf}`;
  };
  set('port', String(port));
  set('bind_address', '"127.0.0.1"');
  set('external_url', `"${url}"`);
  set('log_mode', '"file"');
  set('log_level', '"WARNING"');
  set('log_file', `"${path.join(dir, 'glewlwyd.log')}"`);
  // api_key too: reconciling lists clients with an admin API key (GET /api/client/).
  set('admin_session_authentication', '"cookie,api_key"');
  const db = `database =\n{\n  type = "sqlite3"\n  path = "${path.join(dir, 'glewlwyd.db')}"\n};\n`;
  if (!/^@include\s+"[^"]*glewlwyd-db\.conf"\s*$/m.test(conf)) throw new Error(`no database @include in ${SYSTEM_CONF}`);
  conf = conf.replace(/^@include\s+"[^"]*glewlwyd-db\.conf"\s*$/m, db);
  const file = path.join(dir, 'glewlwyd.conf');
  fs.writeFileSync(file, conf);
  return { file, url };
}

function createDatabase(dir) {
  const r = spawnSync('sqlite3', [path.join(dir, 'glewlwyd.db')], {
    input: fs.readFileSync(SCHEMA), timeout: 30000, encoding: 'utf8',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 ${SCHEMA}: ${r.stderr}`);
}

async function waitUp(url, proc, logFile, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(`${url}/api/scope/`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 401 || r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((res) => { setTimeout(res, 100); });
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
  throw new Error(`glewlwyd did not start (exit ${proc.exitCode}): ${log}`);
}

export async function startGlewlwyd({ scopes = ['api:read'], port } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clearance-glewlwyd-'));
  let proc = null;
  try {
    const p = port || await freePort();
    const { file, url } = writeConfig(dir, p);
    createDatabase(dir);
    proc = spawn('glewlwyd', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    // However this process ends, the server goes with it.
    const child = proc;
    process.once('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    await waitUp(url, proc, path.join(dir, 'glewlwyd.log')).catch((e) => {
      throw new Error(`${e.message}\n${stderr}`);
    });

    // Admin session (cookie) for the admin API.
    const login = await fetch(`${url}/api/auth/`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN),
    });
    if (login.status !== 200) throw new Error(`admin login: ${login.status} ${await login.text()}`);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const admin = async (method, p2, body) => {
      const r = await fetch(`${url}/api/${p2}`, {
        method, headers: { cookie, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`glewlwyd ${method} /api/${p2}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };

    for (const name of [REGISTRATION_SCOPE, ...scopes]) {
      await admin('POST', 'scope/', {
        name, display_name: name, description: `test scope ${name}`, password_required: false, scheme: {},
      });
    }

    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const issuer = `${url}/api/${PLUGIN}`;
    await admin('POST', 'mod/plugin/', {
      module: 'oidc',
      name: PLUGIN,
      display_name: 'OpenID Connect (tests)',
      enabled: true,
      parameters: {
        iss: issuer,
        'jwt-type': 'rsa',
        'jwt-key-size': '256',
        key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        cert: publicKey.export({ type: 'spki', format: 'pem' }),
        'access-token-duration': 3600,
        'refresh-token-duration': 1209600,
        'code-duration': 600,
        'refresh-token-rolling': true,
        'allow-non-oidc': true,
        'auth-type-code-enabled': true,
        'auth-type-implicit-enabled': false,
        'auth-type-password-enabled': false,
        'auth-type-client-enabled': true,
        'auth-type-device-enabled': false,
        'auth-type-refresh-enabled': true,
        scope: [],
        'additional-parameters': [],
        'pkce-allowed': false,
        'introspection-revocation-allowed': false,
        'jwks-show': true,
        'register-client-allowed': true,
        'register-client-auth-scope': [REGISTRATION_SCOPE],
        'register-client-credentials-scope': scopes,
        'register-client-token-one-use': true,
        'register-client-management-allowed': true,
        'subject-type': 'public',
      },
    });

    const registrar = { id: 'clearance-registrar', secret: crypto.randomBytes(24).toString('base64url') };
    await admin('POST', 'client/', {
      client_id: registrar.id,
      name: 'Clearance registrar (initial access tokens)',
      description: 'obtains initial access tokens for RFC 7591 registrations',
      enabled: true,
      confidential: true,
      client_secret: registrar.secret,
      token_endpoint_auth_method: ['client_secret_basic'],
      authorization_type: ['client_credentials'],
      scope: [REGISTRATION_SCOPE],
      redirect_uri: [],
    });

    const discoveryUrl = `${issuer}/.well-known/openid-configuration`;
    const d = await fetch(discoveryUrl);
    if (d.status !== 200) throw new Error(`discovery: ${d.status}`);
    const discovery = await d.json();

    const g = {
      url, issuer, discoveryUrl, discovery, registrar, dir,
      tokenEndpoint: discovery.token_endpoint,
      registrationEndpoint: discovery.registration_endpoint,
      registrationScope: REGISTRATION_SCOPE,
      admin,
      // A new admin API key ("Authorization: token <key>"), for the client listing.
      async apiKey() { return (await admin('POST', 'key/', {})).key; },
      // A client-credentials token of the registrar client, carrying the
      // registration scope: one RFC 7591 registration's initial access token.
      async initialAccessToken() {
        const r = await fetch(discovery.token_endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${registrar.id}:${registrar.secret}`).toString('base64')}`,
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope: REGISTRATION_SCOPE }),
        });
        const text = await r.text();
        if (r.status !== 200) throw new Error(`initial access token: ${r.status} ${text}`);
        return JSON.parse(text).access_token;
      },
      async stop() {
        if (proc && proc.exitCode === null) {
          proc.kill('SIGTERM');
          await Promise.race([
            new Promise((res) => { proc.once('exit', res); }),
            new Promise((res) => { setTimeout(res, 5000); }),
          ]);
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return g;
  } catch (e) {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
