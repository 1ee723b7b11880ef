package enrichers

import (
	"encoding/json"
	"testing"
)

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
