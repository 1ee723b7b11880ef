#!/usr/bin/env node
// Tiny helper server for the Hydra e2e harness (Node >= 20, no dependencies).
//
// It serves three roles on one loopback port:
//
//   POST /token-hook   Hydra's `oauth2.token_hook` target. Hydra calls it for
//                      every token request (all grant types, including
//                      client_credentials and refresh_token). We look up the
//                      OAuth2 client through Hydra's admin API and, when its
//                      `metadata.tenant` is set, add `tenant` to the access
//                      token's extra claims (and to the ID token's extra claims).
//   GET  /login        Hydra's `urls.login`: accepts every login challenge via
//                      the admin API (subject from LOGIN_SUBJECT, default
//                      "alice") and redirects back to Hydra.
//   GET  /consent      Hydra's `urls.consent`: grants all requested scopes and
//                      audiences via the admin API and redirects back to Hydra.
//   GET  /callback     a harmless redirect_uri target (prints the query).
//   GET  /health       liveness probe.
//
// Configuration (env):
//   HYDRA_ADMIN_URL    e.g. http://127.0.0.1:4445 (required)
//   HOOK_PORT          port to listen on; 0 (default) picks a free one
//   HOOK_PORT_FILE     if set, the actual port is written there once listening
//   LOGIN_SUBJECT      subject used when accepting logins (default "alice")
//   HOOK_LOG_BODIES    "1" logs every token-hook request/response body (stderr)
//
// Hydra v2.3.0 token hook contract (oauth2/token_hook.go):
//   request  {"session": <oauth2.Session JSON>, "request": {"client_id", "requested_scopes",
//             "granted_scopes", "granted_audience", "grant_types", "payload"}}
//   response 200 {"session": {"access_token": {...}, "id_token": {...}}}  -> REPLACES the
//            session's extra claims (access token) and ID token extra claims,
//            204 -> keep session unchanged, 403 -> access_denied, else -> server_error.

import http from 'node:http';
import fs from 'node:fs';

const ADMIN = (process.env.HYDRA_ADMIN_URL || '').replace(/\/+$/, '');
if (!ADMIN) {
  console.error('hook-server: HYDRA_ADMIN_URL is required');
  process.exit(2);
}
const PORT = Number(process.env.HOOK_PORT || 0);
const SUBJECT = process.env.LOGIN_SUBJECT || 'alice';
const LOG_BODIES = process.env.HOOK_LOG_BODIES === '1';

const log = (...a) => console.error(new Date().toISOString(), 'hook-server:', ...a);

async function admin(method, path, body) {
  const res = await fetch(ADMIN + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} ${path} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

// Client metadata rarely changes during a test run, but clients may be
// re-created with the same id, so cache only briefly.
const clientCache = new Map();
async function tenantOf(clientId) {
  const hit = clientCache.get(clientId);
  if (hit && hit.exp > Date.now()) return hit.tenant;
  const c = await admin('GET', `/admin/clients/${encodeURIComponent(clientId)}`);
  const tenant = c && c.metadata && typeof c.metadata.tenant === 'string' ? c.metadata.tenant : undefined;
  clientCache.set(clientId, { tenant, exp: Date.now() + 2_000 });
  return tenant;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 5 << 20) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, obj, headers = {}) {
  const body = obj === undefined ? '' : typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(status, {
    ...(typeof obj === 'string' ? { 'content-type': 'text/plain; charset=utf-8' } : { 'content-type': 'application/json' }),
    ...headers,
  });
  res.end(body);
}

async function tokenHook(req, res) {
  const raw = await readBody(req);
  const body = JSON.parse(raw);
  if (LOG_BODIES) log('token-hook request', raw);
  const session = body.session || {};
  const request = body.request || {};
  const accessExtra = { ...(session.extra || {}) };
  const idExtra = { ...((session.id_token && session.id_token.id_token_claims && session.id_token.id_token_claims.ext) || {}) };
  const tenant = request.client_id ? await tenantOf(request.client_id) : undefined;
  if (tenant === undefined) {
    // Nothing to add: keep Hydra's session as it is.
    if (LOG_BODIES) log('token-hook response 204');
    return send(res, 204);
  }
  // Claims set at consent time win over the client's default tenant.
  if (accessExtra.tenant === undefined) accessExtra.tenant = tenant;
  if (idExtra.tenant === undefined) idExtra.tenant = tenant;
  const out = { session: { access_token: accessExtra, id_token: idExtra } };
  if (LOG_BODIES) log('token-hook response 200', JSON.stringify(out));
  return send(res, 200, out);
}

async function login(url, res) {
  const challenge = url.searchParams.get('login_challenge');
  if (!challenge) return send(res, 400, 'missing login_challenge');
  const q = `login_challenge=${encodeURIComponent(challenge)}`;
  const lr = await admin('GET', `/admin/oauth2/auth/requests/login?${q}`);
  const accepted = await admin('PUT', `/admin/oauth2/auth/requests/login/accept?${q}`, {
    subject: lr.skip ? lr.subject : SUBJECT,
    remember: false,
  });
  return send(res, 302, '', { location: accepted.redirect_to });
}

async function consent(url, res) {
  const challenge = url.searchParams.get('consent_challenge');
  if (!challenge) return send(res, 400, 'missing consent_challenge');
  const q = `consent_challenge=${encodeURIComponent(challenge)}`;
  const cr = await admin('GET', `/admin/oauth2/auth/requests/consent?${q}`);
  const tenant = cr.client && cr.client.metadata && cr.client.metadata.tenant;
  const claims = tenant ? { tenant } : {};
  const accepted = await admin('PUT', `/admin/oauth2/auth/requests/consent/accept?${q}`, {
    grant_scope: cr.requested_scope || [],
    grant_access_token_audience: cr.requested_access_token_audience || [],
    remember: false,
    session: { access_token: claims, id_token: claims },
  });
  return send(res, 302, '', { location: accepted.redirect_to });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  try {
    if (req.method === 'POST' && url.pathname === '/token-hook') return await tokenHook(req, res);
    if (req.method === 'GET' && url.pathname === '/login') return await login(url, res);
    if (req.method === 'GET' && url.pathname === '/consent') return await consent(url, res);
    if (req.method === 'GET' && url.pathname === '/callback') return send(res, 200, Object.fromEntries(url.searchParams));
    if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { status: 'ok' });
    return send(res, 404, { error: 'not_found' });
  } catch (err) {
    log(req.method, url.pathname, 'failed:', err && err.stack ? err.stack : err);
    if (!res.headersSent) send(res, 500, { error: 'hook_server_error', error_description: String(err && err.message) });
  }
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  if (process.env.HOOK_PORT_FILE) fs.writeFileSync(process.env.HOOK_PORT_FILE, `${port}\n`);
  log(`listening on http://127.0.0.1:${port} (admin ${ADMIN})`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
