// @azure/msal-node reading the members token_enrich adds: its
// AuthenticationResult has only the members MSAL knows, so the extras are
// read from the token response where it passes through the network client.
//
// Run by e2e/clients_test.go (TestClientLibraries). It runs
// client_credentials at E2E_ISSUER with the client E2E_CLIENT_ID /
// E2E_CLIENT_SECRET, then refresh_token with E2E_REFRESH_TOKEN, and prints
// one JSON line: for each grant, what the AuthenticationResult exposes, and
// what the network client saw.
//
// MSAL accepts only an https:// authority. The test's issuer is a loopback
// http:// address, so the script names the authority with https:// and
// hands MSAL the issuer's discovery document (authorityMetadata), whose
// endpoints are the http:// ones; the authority itself is never contacted.

import { ConfidentialClientApplication } from '@azure/msal-node';

const issuer = new URL(process.env.E2E_ISSUER);
const metadata = await (await fetch(new URL('/.well-known/openid-configuration', issuer))).text();
const tokenEndpoint = JSON.parse(metadata).token_endpoint;

// The workaround: a network client that keeps the token endpoint's
// response body. MSAL's own client is fetch-based too.
let tokenResponse;
async function send(url, options, method) {
  const res = await fetch(url, { method, headers: options?.headers, body: options?.body });
  const body = await res.json();
  if (method === 'POST' && url.split('?')[0] === tokenEndpoint) tokenResponse = body;
  return { headers: Object.fromEntries(res.headers), body, status: res.status };
}

const app = new ConfidentialClientApplication({
  auth: {
    clientId: process.env.E2E_CLIENT_ID,
    clientSecret: process.env.E2E_CLIENT_SECRET,
    authority: `https://${issuer.host}`,
    knownAuthorities: [issuer.host],
    authorityMetadata: metadata,
  },
  system: {
    protocolMode: 'OIDC',
    networkClient: {
      sendGetRequestAsync: (url, options) => send(url, options, 'GET'),
      sendPostRequestAsync: (url, options) => send(url, options, 'POST'),
    },
  },
});

const view = (token) => ({
  access_token: token.access_token ?? token.accessToken,
  refresh_token: token.refresh_token ?? null,
  'api-uri': token['api-uri'] ?? null,
  tenant_id: token.tenant_id ?? null,
  limits: token.limits ?? null,
  rps: token.limits?.rps ?? null,
  refreshed: token.refreshed ?? null,
});

// MSAL refuses the http:// authority itself, before any request.
try {
  await new ConfidentialClientApplication({
    auth: { clientId: process.env.E2E_CLIENT_ID, clientSecret: process.env.E2E_CLIENT_SECRET,
      authority: issuer.origin, knownAuthorities: [issuer.host] },
    system: { protocolMode: 'OIDC' },
  }).acquireTokenByClientCredential({ scopes: ['api:read'] });
  throw new Error(`the http:// authority ${issuer.origin} was accepted`);
} catch (err) {
  if (err.errorCode !== 'authority_uri_insecure') throw err;
}

const out = {};
const result = await app.acquireTokenByClientCredential({ scopes: ['api:read'] });
out.client_credentials_result = view(result);
out.client_credentials = view(tokenResponse);

const renewed = await app.acquireTokenByRefreshToken({ refreshToken: process.env.E2E_REFRESH_TOKEN, scopes: ['openid'] });
out.refresh_token_result = view(renewed);
out.refresh_token = view(tokenResponse);

process.stdout.write(JSON.stringify(out) + '\n');
