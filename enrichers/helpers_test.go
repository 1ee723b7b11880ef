package enrichers

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// makeJWT builds a JWS compact token with the given claims. The signature is
// a placeholder: this package never verifies signatures (the e2e suite uses
// real signed tokens).
func makeJWT(t testing.TB, claims any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`))
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + ".c2lnbmF0dXJl"
}

// tokenResponse builds an Auth0-shaped client-credentials response.
func tokenResponse(t testing.TB, token string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"access_token": token})
	if err != nil {
		t.Fatal(err)
	}
	// keep a realistic member order that json.Marshal would sort away
	return append(append([]byte(`{"access_token":`), b[len(`{"access_token":`):len(b)-1]...),
		[]byte(`,"scope":"read:orders write:orders","expires_in":86400,"token_type":"Bearer"}`)...)
}

func mustNew(t testing.TB, cfg Config) *Enricher {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// decodeObject parses b with encoding/json (the strict judge) into a map.
func decodeObject(t testing.TB, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return m
}
