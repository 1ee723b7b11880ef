// oidc-client-ts reading the members token_enrich adds. It is a browser
// library; in Node it runs with in-memory stores and Node's fetch and
// WebCrypto.
//
// Run by e2e/clients_test.go (TestClientLibraries). It signs in with the
// authorization_code flow at E2E_ISSUER as the client E2E_CLIENT_ID /
// E2E_CLIENT_SECRET (the provider approves without a login page, and the
// redirects are followed here, up to E2E_REDIRECT_URI), twice:
//   - with OidcClient, whose SigninResponse has every member of the token
//     response, then refreshes with OidcClient.useRefreshToken;
//   - with UserManager, whose User keeps only the members it knows, then
//     refreshes with UserManager.signinSilent.
// It prints one JSON line: for each, what the library's object exposes.

import { InMemoryWebStorage, OidcClient, UserManager, WebStorageStateStore } from 'oidc-client-ts';

const redirectUri = process.env.E2E_REDIRECT_URI;
const settings = {
  authority: process.env.E2E_ISSUER,
  client_id: process.env.E2E_CLIENT_ID,
  client_secret: process.env.E2E_CLIENT_SECRET,
  client_authentication: 'client_secret_basic',
  redirect_uri: redirectUri,
  scope: 'openid offline_access',
  automaticSilentRenew: false,
  stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
  userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
};

// authorize follows the provider's redirects from the authorization URL of
// a new sign-in request to the redirect URI, and returns that URL.
// request_type "si:r" marks the request as UserManager.signinRedirect's.
async function authorize(client, request_type) {
  let url = (await client.createSigninRequest({ request_type })).url;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(redirectUri)) return url;
    const res = await fetch(url, { redirect: 'manual' });
    const loc = res.headers.get('location');
    if (!loc) throw new Error(`authorization stopped at ${url}: HTTP ${res.status} ${await res.text()}`);
    url = new URL(loc, url).href;
  }
  throw new Error('authorization: too many redirects');
}

const view = (token) => ({
  access_token: token.access_token,
  refresh_token: token.refresh_token ?? null,
  'api-uri': token['api-uri'] ?? null,
  tenant_id: token.tenant_id ?? null,
  limits: token.limits ?? null,
  rps: token.limits?.rps ?? null,
  refreshed: token.refreshed ?? null,
});

// OidcClient: the SigninResponse carries every member of the token response.
const client = new OidcClient(settings);
const signin = await client.processSigninResponse(await authorize(client));
const refreshed = await client.useRefreshToken({
  state: {
    refresh_token: signin.refresh_token,
    id_token: signin.id_token,
    session_state: signin.session_state,
    scope: signin.scope,
    profile: signin.profile,
  },
});

// UserManager (what an app usually calls): its User drops the extra members.
// The sign-in request comes from an OidcClient on the same state store.
const manager = new UserManager(settings);
const user = await manager.signinCallback(await authorize(new OidcClient(settings), 'si:r'));
const renewed = await manager.signinSilent();

// The stored User keeps the access token expiry timers running, and with
// them the process: removing it stops them.
await manager.removeUser();

process.stdout.write(JSON.stringify({
  authorization_code: view(signin),
  refresh_token: view(refreshed),
  user_manager_authorization_code: view(user),
  user_manager_refresh_token: view(renewed),
}) + '\n');
