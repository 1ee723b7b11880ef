package caddymodule_test

import (
	"net/http"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestConflictingClientIDs: a token request that names two different
// clients (two client_id values, in a form or in JSON, or a Basic user
// other than the client_id) is ambiguous: an identity provider may have
// authenticated either, so the response is passed on byte-identical and
// counted as ambiguous. Identical repeats are no conflict.
func TestConflictingClientIDs(t *testing.T) {
	upstreamBody := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, upstreamBody))
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	const form, json = "application/x-www-form-urlencoded", "application/json"
	for _, c := range []struct {
		name, ctype, body string
		hdr               []string
		ambiguous         bool
	}{
		{"two form client_ids", form, "grant_type=client_credentials&client_id=svc-eu&client_id=svc-other", nil, true},
		{"two JSON client_ids", json, `{"grant_type":"client_credentials","client_id":"svc-eu","client_id":"svc-other"}`, nil, true},
		{"Basic user and another client_id", form, "grant_type=client_credentials&client_id=svc-other", []string{"Authorization", basic("svc-eu")}, true},
		{"an empty client_id and another", form, "grant_type=client_credentials&client_id=&client_id=svc-eu", nil, true},
		{"identical form client_ids", form, "grant_type=client_credentials&client_id=svc-eu&client_id=svc-eu", nil, false},
		{"Basic user and the same client_id", form, "grant_type=client_credentials&client_id=svc%2Deu", []string{"Authorization", basic("svc%2Deu")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := counter(t, "ambiguous")
			resp, got := testhttp.Post(t, base+"/oauth/token", c.ctype, c.body, c.hdr...)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if identical := string(got) == upstreamBody; identical != c.ambiguous {
				t.Fatalf("body unchanged = %v, want %v:\n%s", identical, c.ambiguous, got)
			}
			want := 0.0
			if c.ambiguous {
				want = 1
			}
			if n := counter(t, "ambiguous") - before; n != want {
				t.Fatalf("ambiguous counted %v times, want %v", n, want)
			}
		})
	}
}

// basic is an Authorization header value of HTTP Basic authentication of
// user, already form-encoded, with the password "secret".
func basic(user string) string {
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	req.SetBasicAuth(user, "secret")
	return req.Header.Get("Authorization")
}
