// oauth4webapi reading the members token_enrich adds.
//
// Run by e2e/clients_test.go (TestClientLibraries). It discovers E2E_ISSUER,
// runs client_credentials and then refresh_token with the client
// E2E_CLIENT_ID / E2E_CLIENT_SECRET and the refresh token E2E_REFRESH_TOKEN,
// and prints one JSON line: for each grant, what the library's result exposes.

import * as oauth from 'oauth4webapi';

const issuer = new URL(process.env.E2E_ISSUER);
// The test's issuer is a loopback http:// address.
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
const client = { client_id: process.env.E2E_CLIENT_ID };
const clientAuth = oauth.ClientSecretBasic(process.env.E2E_CLIENT_SECRET);

// The processed response is the response body, every member of it.
const view = (token) => ({
  access_token: token.access_token,
  refresh_token: token.refresh_token ?? null,
  'api-uri': token['api-uri'],
  tenant_id: token.tenant_id,
  limits: token.limits,
  rps: token.limits.rps,
  refreshed: token.refreshed ?? null,
});

const cc = await oauth.processClientCredentialsResponse(as, client,
  await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams({ scope: 'api:read' }), options));

const refreshed = await oauth.processRefreshTokenResponse(as, client,
  await oauth.refreshTokenGrantRequest(as, client, clientAuth, process.env.E2E_REFRESH_TOKEN, options));

process.stdout.write(JSON.stringify({ client_credentials: view(cc), refresh_token: view(refreshed) }) + '\n');
