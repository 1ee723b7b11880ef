package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// TestMapAndVarsReachFields: the identity is published before the fields
// are rendered, so a value Caddy's map computes from {http.token.tenant}
// and a value set by vars both reach the response.
func TestMapAndVarsReachFields(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		org := r.Header.Get("X-Org")
		serveJSON(200, auth0Body("svc-eu", org))(w, r)
	})
	base := startCaddy(t, `
	map {http.token.tenant} {tenant_api} {
		org_acme https://acme.api.example.com
		default  https://default.api.example.com
	}
	vars region eu-west
	token_enrich {
		set api-uri {tenant_api}
		set region {http.vars.region}
		set where {http.vars.region}/{http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
	for org, want := range map[string]map[string]string{
		"org_acme":  {"api-uri": "https://acme.api.example.com", "region": "eu-west", "where": "eu-west/org_acme"},
		"org_other": {"api-uri": "https://default.api.example.com", "region": "eu-west", "where": "eu-west/org_other"},
	} {
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Org", org)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v %s", org, resp.StatusCode, err, body)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %s", org, k, got[k], v)
			}
		}
	}
}

// TestPlaceholdersOnATokenPath: on a token path, {http.token.*} is known
// whatever the response: empty when it is not a token response (an error,
// a body too large), never left as the literal placeholder.
func TestPlaceholdersOnATokenPath(t *testing.T) {
	up := newUpstream(t, serveJSON(401, `{"error":"access_denied"}`))
	base := startCaddy(t, `
	header >X-Tenant "[{http.token.tenant}]"
	header >X-Claim "[{http.token.claims.org_id}]"
	header >X-Unknown "[{http.token.nope}]"
	token_enrich {
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
	resp, _ := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.StatusCode != 401 || resp.Header.Get("X-Tenant") != "[]" || resp.Header.Get("X-Claim") != "[]" {
		t.Fatalf("status %d, X-Tenant %q, X-Claim %q", resp.StatusCode, resp.Header.Get("X-Tenant"), resp.Header.Get("X-Claim"))
	}
	// a name the engine does not know stays unknown
	if got := resp.Header.Get("X-Unknown"); !strings.Contains(got, "{http.token.nope}") && got != "[]" {
		t.Fatalf("X-Unknown %q", got)
	}
}

// TestPlaceholdersWithholdControlCharacters: a claim holding control
// characters never reaches a header through a placeholder (Go's and Node's
// clients reject such a response whole); the JSON field still carries it,
// escaped.
func TestPlaceholdersWithholdControlCharacters(t *testing.T) {
	for _, tenant := range []string{"org\u0001evil", "org\x00nul", "org\x7fdel", "org\r\nX-Injected: 1"} {
		tok := testjwt.Claims(t, map[string]any{"azp": "svc-eu", "org_id": tenant})
		up := newUpstream(t, serveJSON(200, `{"access_token":"`+tok+`","token_type":"Bearer"}`))
		base := startCaddy(t, `
	header >X-Tenant "[{http.token.tenant}]"
	header >X-Client "[{http.token.client_id}]"
	token_enrich {
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		if resp.Header.Get("X-Tenant") != "[]" || resp.Header.Get("X-Client") != "[svc-eu]" || resp.Header.Get("X-Injected") != "" {
			t.Errorf("%q: X-Tenant %q, X-Client %q, X-Injected %q", tenant, resp.Header.Get("X-Tenant"), resp.Header.Get("X-Client"), resp.Header.Get("X-Injected"))
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || got["tenant_id"] != tenant {
			t.Errorf("%q: tenant_id %q (%v)", tenant, got["tenant_id"], err)
		}
	}
}
