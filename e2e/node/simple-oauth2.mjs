// simple-oauth2 reading the members token_enrich adds.
//
// Run by e2e/clients_test.go (TestClientLibraries). It runs client_credentials
// and then refresh_token at E2E_TOKEN_URL with the client E2E_CLIENT_ID /
// E2E_CLIENT_SECRET and the refresh token E2E_REFRESH_TOKEN, and prints one
// JSON line: for each grant, what the library's token exposes.

import { AuthorizationCode, ClientCredentials } from 'simple-oauth2';

const url = new URL(process.env.E2E_TOKEN_URL);
const config = {
  client: { id: process.env.E2E_CLIENT_ID, secret: process.env.E2E_CLIENT_SECRET },
  auth: { tokenHost: url.origin, tokenPath: url.pathname },
};

// AccessToken.token is the response body, every member of it.
const view = ({ token }) => ({
  access_token: token.access_token,
  refresh_token: token.refresh_token ?? null,
  'api-uri': token['api-uri'],
  tenant_id: token.tenant_id,
  limits: token.limits,
  rps: token.limits.rps,
  refreshed: token.refreshed ?? null,
});

const cc = await new ClientCredentials(config).getToken({ scope: 'api:read' });

const stored = new AuthorizationCode(config).createToken({ refresh_token: process.env.E2E_REFRESH_TOKEN });
const refreshed = await stored.refresh();

process.stdout.write(JSON.stringify({ client_credentials: view(cc), refresh_token: view(refreshed) }) + '\n');
