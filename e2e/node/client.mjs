#!/usr/bin/env node
// Strict OAuth2/OIDC client for the e2e tests, built on openid-client 6.x.
//
// Discovers the issuer (/.well-known/openid-configuration), runs one grant and
// prints the complete token endpoint response JSON (every member, including
// unknown extra ones such as "api-uri" or "tenant_id") as one line on stdout.
// openid-client validates the response (e.g. access_token/token_type must be
// strings, expires_in a number) and rejects it otherwise, so a successful run
// means a spec-conformant token response.
//
// Usage:
//   node client.mjs --issuer URL --client-id ID --client-secret S [--auth basic|post]
//                   [--grant client_credentials|refresh_token|authorization_code]
//                   [--scope "a b"] [--audience "aud1 aud2"] [--resource URI]
//                   [--refresh-token RT] [--redirect-uri URI] [--param k=v ...]
// Every option can also come from the environment: OIDC_ISSUER, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_AUTH, OIDC_GRANT, OIDC_SCOPE, OIDC_AUDIENCE,
// OIDC_RESOURCE, OIDC_REFRESH_TOKEN, OIDC_REDIRECT_URI.
//
// authorization_code: builds the authorization URL (PKCE S256 + state, + nonce
// when "openid" is in scope) and follows the redirects itself (with a cookie
// jar) until it reaches --redirect-uri; the login/consent app configured in the
// provider must accept without user interaction (e2e/hydra/hook-server.mjs
// does). Then it exchanges the code with openid-client.
//
// Exit codes: 0 ok; 1 unexpected error; 2 usage; 3 OAuth error response from
// the token endpoint (its JSON body, plus "http_status", is printed on stdout).

import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string', default: process.env.OIDC_ISSUER },
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET },
    auth: { type: 'string', default: process.env.OIDC_AUTH || 'basic' },
    grant: { type: 'string', default: process.env.OIDC_GRANT || 'client_credentials' },
    scope: { type: 'string', default: process.env.OIDC_SCOPE },
    audience: { type: 'string', default: process.env.OIDC_AUDIENCE },
    resource: { type: 'string', default: process.env.OIDC_RESOURCE },
    'refresh-token': { type: 'string', default: process.env.OIDC_REFRESH_TOKEN },
    'redirect-uri': { type: 'string', default: process.env.OIDC_REDIRECT_URI },
    param: { type: 'string', multiple: true, default: [] },
    timeout: { type: 'string', default: process.env.OIDC_TIMEOUT || '15' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function usage(msg) {
  if (msg) console.error(`client.mjs: ${msg}`);
  console.error('usage: node client.mjs --issuer URL --client-id ID --client-secret S [--auth basic|post] ' +
    '[--grant client_credentials|refresh_token|authorization_code] [--scope S] [--audience A] [--resource R] ' +
    '[--refresh-token RT] [--redirect-uri URI] [--param k=v ...]');
  process.exit(2);
}

if (args.help) usage();
for (const k of ['issuer', 'client-id', 'client-secret']) if (!args[k]) usage(`--${k} is required`);

let clientAuth;
switch (args.auth) {
  case 'basic': clientAuth = client.ClientSecretBasic(args['client-secret']); break;
  case 'post': clientAuth = client.ClientSecretPost(args['client-secret']); break;
  default: usage(`--auth must be basic or post, got ${args.auth}`);
}

const timeoutMs = Number(args.timeout) * 1000;
const issuer = new URL(args.issuer);
const insecure = issuer.protocol === 'http:';

// Extra token endpoint parameters.
const extra = new URLSearchParams();
if (args.scope) extra.set('scope', args.scope);
if (args.audience) extra.set('audience', args.audience);
if (args.resource) extra.set('resource', args.resource);
for (const p of args.param) {
  const i = p.indexOf('=');
  if (i < 1) usage(`--param must be k=v, got ${p}`);
  extra.append(p.slice(0, i), p.slice(i + 1));
}

function printJSON(obj) {
  // Spread copies the own enumerable members, i.e. exactly the JSON body
  // members; openid-client's helper methods (claims(), expiresIn()) are not.
  process.stdout.write(JSON.stringify({ ...obj }) + '\n');
}

// Minimal cookie jar for driving the authorization redirects (all on loopback;
// cookies are not port specific, so one jar per host name is enough).
const jar = new Map();
function storeCookies(res) {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a));
    if (expired || value === '') jar.delete(name); else jar.set(name, value);
  }
}
const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function followToRedirectUri(start, redirectUri) {
  let url = start;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(redirectUri)) return new URL(url);
    const res = await fetch(url, {
      redirect: 'manual',
      headers: jar.size ? { cookie: cookieHeader() } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    storeCookies(res);
    const loc = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !loc) {
      const body = await res.text();
      throw new Error(`authorization flow stopped at ${url}: HTTP ${res.status} ${body.slice(0, 500)}`);
    }
    url = new URL(loc, url).href;
  }
  throw new Error('authorization flow: too many redirects');
}

async function main() {
  const config = await client.discovery(issuer, args['client-id'], undefined, clientAuth, {
    execute: insecure ? [client.allowInsecureRequests] : [],
    timeout: Number(args.timeout),
  });
  config.timeout = Number(args.timeout);

  let tokens;
  switch (args.grant) {
    case 'client_credentials':
      tokens = await client.clientCredentialsGrant(config, extra);
      break;
    case 'refresh_token':
      if (!args['refresh-token']) usage('--refresh-token is required for the refresh_token grant');
      tokens = await client.refreshTokenGrant(config, args['refresh-token'], extra);
      break;
    case 'authorization_code': {
      const redirectUri = args['redirect-uri'];
      if (!redirectUri) usage('--redirect-uri is required for the authorization_code grant');
      const scope = args.scope || 'openid offline_access';
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = scope.split(' ').includes('openid') ? client.randomNonce() : undefined;
      const params = {
        redirect_uri: redirectUri,
        scope,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      };
      if (nonce) params.nonce = nonce;
      if (args.audience) params.audience = args.audience;
      const authUrl = client.buildAuthorizationUrl(config, params);
      const callback = await followToRedirectUri(authUrl.href, redirectUri);
      // The code exchange must not repeat scope/audience.
      const tokenParams = new URLSearchParams([...extra].filter(([k]) => k !== 'scope' && k !== 'audience'));
      tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: Boolean(nonce),
      }, tokenParams);
      break;
    }
    default:
      usage(`unsupported --grant ${args.grant}`);
  }
  printJSON(tokens);
}

main().catch((err) => {
  if (err instanceof client.ResponseBodyError) {
    // OAuth error response (e.g. invalid_client): print its body on stdout.
    printJSON({ ...err.cause, http_status: err.status });
    console.error(`client.mjs: token endpoint error ${err.status}: ${err.error}: ${err.error_description ?? ''}`);
    process.exit(3);
  }
  console.error(`client.mjs: ${err && err.stack ? err.stack : err}`);
  if (err && err.cause) console.error('cause:', err.cause);
  process.exit(1);
});
