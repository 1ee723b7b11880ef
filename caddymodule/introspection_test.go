package caddymodule_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

const (
	activeIntrospection = `{"active":true,"client_id":"svc-eu","scope":"read","sub":"svc-eu","aud":["https://api.example.com/"],` +
		`"iss":"https://idp.example.com/","exp":1900000000,"org_id":"org_acme"}`
	inactiveIntrospection = `{"active":false}`
)

// introspectionUpstream answers an introspection request for token "good"
// with an active response, anything else with an inactive one, and a token
// request with activeIntrospection too: the same body must be read by the
// path it answers.
func introspectionUpstream(t *testing.T) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body := inactiveIntrospection
		if r.FormValue("token") == "good" || r.URL.Path == "/oauth/token" {
			body = activeIntrospection
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
}

const introspectionBlock = `
	token_enrich {
		introspection_paths /oauth/introspect
		set tenant_id {http.token.tenant}
		set sub forged
		rule eu {
			client svc-eu
			audience https://api.example.com/
			set api-uri https://eu.api.example.com
		}
	}
	reverse_proxy {UPSTREAM}
`

// An active introspection response gets the fields of the rules its
// members match (the token's client, not the resource server that asked),
// never an RFC 7662 member (sub); the request reaches the upstream as sent;
// an inactive one, and the same active body on the token path, where it is no
// token response, are passed on byte for byte.
func TestIntrospectionPaths(t *testing.T) {
	up := introspectionUpstream(t)
	base := startCaddy(t, introspectionBlock, up)
	post := func(path, token string) (*http.Response, string) {
		resp, b := testhttp.Post(t, base+path, "application/x-www-form-urlencoded",
			url.Values{"token": {token}, "client_id": {"resource-server"}}.Encode())
		return resp, string(b)
	}

	resp, got := post("/oauth/introspect", "good")
	want := activeIntrospection[:len(activeIntrospection)-1] + `,"tenant_id":"org_acme","api-uri":"https://eu.api.example.com"}`
	if resp.StatusCode != 200 || got != want || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Fatalf("active: %d %v\ngot  %s\nwant %s", resp.StatusCode, resp.Header, got, want)
	}
	if string(up.last(t).body) != "client_id=resource-server&token=good" {
		t.Errorf("upstream saw %q", up.last(t).body)
	}

	for _, c := range []struct{ path, token, want string }{
		{"/oauth/introspect", "revoked", inactiveIntrospection},
		{"/oauth/token", "good", activeIntrospection},
	} {
		resp, got := post(c.path, c.token)
		if resp.StatusCode != 200 || got != c.want || resp.Header.Get("Content-Length") != strconv.Itoa(len(c.want)) {
			t.Errorf("%s %s: %d %v\ngot  %s\nwant %s", c.path, c.token, resp.StatusCode, resp.Header, got, c.want)
		}
	}
}

// The JSON config takes introspection_paths as Caddy path patterns; a
// path in both lists is read as introspection.
func TestIntrospectionPathsJSON(t *testing.T) {
	startCaddy(t, "respond ok", nil) // make sure the in-process Caddy runs
	port := testcaddy.FreePort(t)
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d"},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:%d"],
		"routes":[{"handle":[{"handler":"token_enrich","paths":["/t/*"],"introspection_paths":["/i/*","/t/both"],
			"fields":[{"name":"tenant_id","value":"{http.token.tenant}"}]},
		{"handler":"static_response","headers":{"Content-Type":["application/json"]},"body":%q}]}]}}}}}`,
		testcaddy.AdminPort, port, activeIntrospection)
	if code, body := testcaddy.PostLoad(t, "application/json", cfg); code != 200 {
		t.Fatalf("config refused: %d %s", code, body)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	enriched := activeIntrospection[:len(activeIntrospection)-1] + `,"tenant_id":"org_acme"}`
	for path, want := range map[string]string{"/i/x": enriched, "/t/both": enriched, "/t/x": activeIntrospection} {
		resp, got := testhttp.Post(t, base+path, "application/x-www-form-urlencoded", "token=x")
		if resp.StatusCode != 200 || string(got) != want {
			t.Errorf("%s: %d\ngot  %s\nwant %s", path, resp.StatusCode, got, want)
		}
	}
}
