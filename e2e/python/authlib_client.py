"""Authlib reading the members token_enrich adds.

Run by e2e/clients_test.go (TestClientLibraries). It runs client_credentials
and then refresh_token at E2E_TOKEN_URL with the client E2E_CLIENT_ID /
E2E_CLIENT_SECRET and the refresh token E2E_REFRESH_TOKEN, and prints one
JSON line: for each grant, what the library's token exposes.
"""

import json
import os

from authlib.integrations.requests_client import OAuth2Session

# Authlib refuses http:// token URLs without this; the test's issuer is a
# loopback http:// address.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

token_url = os.environ["E2E_TOKEN_URL"]
client_id = os.environ["E2E_CLIENT_ID"]
client_secret = os.environ["E2E_CLIENT_SECRET"]


def view(token):
    # OAuth2Token is a dict of every member of the response.
    return {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
        "api-uri": token["api-uri"],
        "tenant_id": token["tenant_id"],
        "limits": token["limits"],
        "rps": token["limits"]["rps"],
        "refreshed": token.get("refreshed"),
    }


session = OAuth2Session(client_id, client_secret, scope="api:read")
cc = session.fetch_token(token_url, grant_type="client_credentials")

refreshed = OAuth2Session(client_id, client_secret).refresh_token(
    token_url, refresh_token=os.environ["E2E_REFRESH_TOKEN"]
)

print(json.dumps({"client_credentials": view(cc), "refresh_token": view(refreshed)}))
