// Seeds the demo through the admin API (the same calls an operator makes)
// and writes the journey a developer follows, as copy-paste curl commands.
// Idempotent: objects are found by name first, so a second `make run` on
// the kept database reuses them (and refreshes the provider, whose local
// IdP forgot everything when it stopped).
//
// Environment (set by deploy/run/run.sh):
//   CLEARANCE_BASE_URL        nginx in front of the services
//   CLEARANCE_ADMIN_TOKEN_FILE  the admin token (never printed)
//   DEMO_IDP_URL, DEMO_IDP_IAT_FILE, DEMO_AUDIENCE
//   DEMO_SMTP_URL, DEMO_MAIL_DIR  the mail catcher, for the text
//   DEMO_STATE_FILE           ids of what was seeded (JSON)
//   DEMO_JOURNEY_FILE         the journey text (also printed by run.sh)
//   DEMO_ROOT                 the checkout, for relative paths in the text
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.CLEARANCE_BASE_URL;
const tokenFile = process.env.CLEARANCE_ADMIN_TOKEN_FILE;
const idpUrl = process.env.DEMO_IDP_URL;
const iatFile = process.env.DEMO_IDP_IAT_FILE;
const audience = process.env.DEMO_AUDIENCE || 'https://api.clearance.test';
const stateFile = process.env.DEMO_STATE_FILE;
const journeyFile = process.env.DEMO_JOURNEY_FILE;
const root = process.env.DEMO_ROOT || process.cwd();
for (const [k, v] of Object.entries({
  CLEARANCE_BASE_URL: base, CLEARANCE_ADMIN_TOKEN_FILE: tokenFile, DEMO_IDP_URL: idpUrl,
  DEMO_IDP_IAT_FILE: iatFile, DEMO_STATE_FILE: stateFile, DEMO_JOURNEY_FILE: journeyFile,
})) {
  if (!v) { console.error(`seed: ${k} is required`); process.exit(2); }
}
const adminToken = fs.readFileSync(tokenFile, 'utf8').trim();
const iat = fs.readFileSync(iatFile, 'utf8').trim();

const NAMES = {
  provider: 'demo-idp',
  clientType: 'Machine to machine',
  plan: 'Demo plan',
  product: 'Demo API',
};
const SCOPE = 'api:read';
const warnings = [];

async function call(method, p, body) {
  const headers = { authorization: `Bearer ${adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(new URL(p, base), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20000),
  });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, json, text };
}

// Lists are {"<things>": [...]}; accept a bare array too.
function rows(json) {
  if (Array.isArray(json)) return json;
  if (json && typeof json === 'object') {
    for (const v of Object.values(json)) if (Array.isArray(v)) return v;
  }
  return [];
}

function why(r) {
  const e = r.json && (r.json.error_description || r.json.error);
  return `${r.status}${e ? ` ${e}` : ''}`;
}

// Finds by `field` == name in GET listPath, else POSTs createPath.
async function ensure(what, listPath, createPath, field, name, body) {
  const l = await call('GET', listPath);
  if (l.status === 200) {
    const hit = rows(l.json).find((o) => o && o[field] === name);
    if (hit) return { id: hit.id, created: false };
  } else if (l.status === 404 || l.status === 405) {
    warnings.push(`${what}: ${listPath} is not served yet (${why(l)}); not seeded`);
    return undefined;
  }
  const c = await call('POST', createPath, body);
  if (c.status === 201 || c.status === 200) return { id: c.json && c.json.id, created: true };
  warnings.push(`${what}: POST ${createPath} answered ${why(c)}; not seeded`);
  return undefined;
}

const state = {};

// 1. The provider: the local IdP, plain RFC 7591 ("other"), over http on
//    loopback (allow_insecure_http exists for exactly this).
const provider = await ensure('provider', '/v1/providers', '/v1/providers', 'name', NAMES.provider, {
  name: NAMES.provider,
  kind: 'other',
  well_known_url: `${idpUrl}/.well-known/openid-configuration`,
  initial_access_token: iat,
  allow_insecure_http: true,
  audience,
});
if (provider) {
  state.provider_id = provider.id;
  if (!provider.created) {
    // Same URL and token as last time, but the IdP is a new process with
    // new keys: refresh what discovery says.
    const d = await call('POST', `/v1/providers/${provider.id}/discover`);
    if (d.status !== 200) warnings.push(`provider: discover answered ${why(d)}`);
  }
}

// 2. A client type: machine-to-machine clients (client credentials).
if (provider && provider.id) {
  const ct = await ensure('client type', `/v1/providers/${provider.id}/client-types`,
    `/v1/providers/${provider.id}/client-types`, 'display_name', NAMES.clientType, {
      display_name: NAMES.clientType,
      description: 'A backend service calling the API with client credentials',
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  if (ct) state.client_type_id = ct.id;
}

// 3. A plan and 4. a product offering it (access service).
const plan = await ensure('plan', '/v1/plans', '/v1/plans', 'name', NAMES.plan, {
  name: NAMES.plan,
  description: '60 requests a minute, read only',
  scopes: SCOPE,
  rate_limit_requests: 60,
  rate_limit_window_seconds: 60,
});
if (plan) state.plan_id = plan.id;
if (state.client_type_id && state.plan_id) {
  const product = await ensure('product', '/v1/products', '/v1/products', 'name', NAMES.product, {
    name: NAMES.product,
    description: 'The demo API at /api/ (static JSON behind the gateway)',
    path_prefixes: ['/api/'],
    dcr_enabled: true,
    scopes: SCOPE,
    client_type_ids: [state.client_type_id],
    plan_ids: [state.plan_id],
    auto_approve: false,
  });
  if (product) state.product_id = product.id;
} else {
  warnings.push('product: needs the client type and the plan; not seeded');
}

fs.writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);

// Relative to the checkout when inside it, else absolute.
const rel = (p) => { const r = path.relative(root, p) || '.'; return r.startsWith('..') ? p : r; };
const id = (k) => state[k] || `<${k} missing: see the warnings above>`;
const journey = `
Clearance demo is up.
  API gateway + Clearance API  ${base}
  OpenID Provider (demo)       ${idpUrl}   (initial access token in ${rel(iatFile)})
  Mail catcher                 ${process.env.DEMO_SMTP_URL || ''} (caught mail in ${rel(process.env.DEMO_MAIL_DIR || '.')})
  Admin token                  ${rel(tokenFile)}
  Seeded                       provider ${id('provider_id')}, client type ${id('client_type_id')},
                               plan ${id('plan_id')}, product ${id('product_id')}

The journey (bash; every step is one curl):

  B=${base}
  ADMIN=$(cat ${tokenFile})
  j() { local p= k; for k in "$@"; do case $k in *[!0-9]*) p+=".$k" ;; *) p+="[$k]" ;; esac; done; jq -r "\${p:-.} // empty"; }

  # 1. a developer signs up and logs in
  curl -sS -X POST $B/v1/developers -H 'content-type: application/json' \\
    -d '{"email":"dev@example.com","password":"correct horse battery staple","name":"Dev"}'
  # ... confirms the address with the token mailed to the catcher (access requests need it)
  VT=$(grep -ho 'clr_vfy_[A-Za-z0-9_-]*' ${rel(process.env.DEMO_MAIL_DIR || '.')}/*.eml | tail -n 1)
  curl -sS -X POST $B/v1/email-verifications -H 'content-type: application/json' -d '{"token":"'$VT'"}'
  DEV=$(curl -sS -X POST $B/v1/sessions -H 'content-type: application/json' \\
    -d '{"email":"dev@example.com","password":"correct horse battery staple"}' | j token)

  # 2. the developer looks at the catalogue and creates an app
  curl -sS $B/v1/catalogue -H "Authorization: Bearer $DEV"
  APP=$(curl -sS -X POST $B/v1/apps -H "Authorization: Bearer $DEV" -H 'content-type: application/json' \\
    -d '{"name":"my-app","description":"demo app","redirect_uris":[]}' | j id)

  # 3. ... and requests access to the product on the plan
  REQ=$(curl -sS -X POST $B/v1/access-requests -H "Authorization: Bearer $DEV" -H 'content-type: application/json' \\
    -d '{"product_id":"${id('product_id')}","plan_id":"${id('plan_id')}","client_type_id":"${id('client_type_id')}","app_id":"'$APP'"}' | j id)

  # 4. an admin approves it (Clearance registers a client at the IdP, RFC 7591)
  curl -sS -X POST $B/v1/access-requests/$REQ/approve -H "Authorization: Bearer $ADMIN"
  # the registration runs as a job: wait until the request is active
  for i in $(seq 30); do S=$(curl -sS $B/v1/access-requests/$REQ -H "Authorization: Bearer $DEV" | j status)
    echo "status: $S"; [ "$S" = active ] || [ "$S" = failed ] && break; sleep 1; done

  # 5. the developer reads the credentials
  curl -sS $B/v1/apps/$APP/credentials -H "Authorization: Bearer $DEV" > /tmp/clearance-creds.json
  CID=$(j credentials 0 client_id < /tmp/clearance-creds.json)
  CSECRET=$(j credentials 0 client_secret < /tmp/clearance-creds.json)

  # 6. gets an access token at the IdP (client credentials)
  AT=$(curl -sS -u "$CID:$CSECRET" -d grant_type=client_credentials -d scope=${SCOPE} ${idpUrl}/token | j access_token)

  # 7. and calls the API through the gateway (nginx auth_request -> clearance-introspect)
  curl -sS -i $B/api/hello.json -H "Authorization: Bearer $AT"
  curl -sS -i $B/api/hello.json                                           # 401 without a token

Stop it: ${process.env.DEMO_DOWN_CMD || 'make down'} (or Ctrl-C under make run).  Data is kept in ${rel(path.dirname(process.env.DEMO_STATE_FILE || path.join(root, 'var', 'x')))}/ between runs.
`;
const warnText = warnings.length
  ? `\nWARNING, the demo is only partly seeded:\n${warnings.map((w) => `  - ${w}`).join('\n')}\n`
  : '';
fs.writeFileSync(journeyFile, journey + warnText);
for (const w of warnings) console.error(`seed: ${w}`);
process.exit(0);
