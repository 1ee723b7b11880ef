package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
)

// introspectionPath is the path of the provider's RFC 7662 endpoint, as
// its own discovery document names it (read directly: the issuer is the
// Caddy site, which does not run yet).
func introspectionPath(t *testing.T, p *testidp.Provider) string {
	t.Helper()
	d := do(t, http.MethodGet, p.URL+"/.well-known/openid-configuration", nil, "", "")
	var disco struct {
		Endpoint string `json:"introspection_endpoint"`
	}
	if err := json.Unmarshal(d.body, &disco); err != nil || disco.Endpoint == "" {
		t.Fatalf("discovery: %v %s", err, d.body)
	}
	u, err := url.Parse(disco.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// TestZitadelIntrospection: the zitadel/oidc OP's introspection endpoint
// behind Caddy with introspection_paths set to it. An active response for
// each client's token gains the fields of the same rules as its token
// response, chosen by the response's own members (client_id, tenant,
// grant inferred from sub == client_id), not by the resource server that
// asks; the opaque client's token, which carries no claims, gets its
// tenant from introspection. zitadel's own resource-server client reads
// the added members. An inactive response is the provider's, byte for
// byte.
func TestZitadelIntrospection(t *testing.T) {
	var path string
	z := startZitadelWith(t, func(p *testidp.Provider) string {
		path = introspectionPath(t, p)
		return strings.Replace(zitadelBlock, "preset auto", "preset auto\n\t\tintrospection_paths "+path, 1)
	})
	if z.disco.IntrospectionEndpoint != z.base+path {
		t.Fatalf("introspection endpoint %s, path %s", z.disco.IntrospectionEndpoint, path)
	}
	// the resource server asking is globex, for every token
	res, err := rs.NewResourceServerClientCredentials(t.Context(), z.base, testidp.GlobexClientID, testidp.GlobexClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		client, secret string
		added          [][2]string
	}{
		{testidp.AcmeClientID, testidp.AcmeClientSecret,
			[][2]string{{"api-uri", `"https://acme.api.example.com"`}, {"tenant_id", `"acme"`}, {"limits", `{"rps":100}`}}},
		{testidp.GlobexClientID, testidp.GlobexClientSecret,
			[][2]string{{"api-uri", `"https://globex.api.example.com"`}, {"tenant_id", `"globex"`}}},
		{testidp.OpaqueClientID, testidp.OpaqueClientSecret,
			[][2]string{{"api-uri", `"https://initech.api.example.com"`}, {"tenant_id", `"initech"`}}},
	}
	for _, c := range cases {
		t.Run(c.client, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: c.client, ClientSecret: c.secret, TokenURL: z.disco.TokenEndpoint,
				Scopes: []string{"api:read"}, AuthStyle: oauth2.AuthStyleInHeader}
			tok, err := cc.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"token": {tok.AccessToken}}
			direct := do(t, http.MethodPost, z.direct+path, form, testidp.GlobexClientID, testidp.GlobexClientSecret)
			proxied := do(t, http.MethodPost, z.base+path, form, testidp.GlobexClientID, testidp.GlobexClientSecret)
			upstream, m := members(t, direct.body)
			if direct.status != 200 || string(m["active"]) != "true" || string(m["client_id"]) != `"`+c.client+`"` {
				t.Fatalf("direct introspection: %d %s", direct.status, direct.body)
			}
			if proxied.status != 200 || !bytes.HasPrefix(proxied.body, bytes.TrimRight(direct.body, "} \n")) {
				t.Fatalf("proxied introspection is not the provider's members first:\ndirect  %s\nproxied %d %s", direct.body, proxied.status, proxied.body)
			}
			checkAdded(t, proxied.body, upstream, c.added)

			// a real resource-server client reads the added members as
			// extra claims, the standard ones as the provider sent them
			got, err := rs.Introspect[*oidc.IntrospectionResponse](t.Context(), res, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Active || got.ClientID != c.client {
				t.Errorf("rs.Introspect: active %v client %s", got.Active, got.ClientID)
			}
			for _, a := range c.added {
				if b, _ := json.Marshal(got.Claims[a[0]]); string(b) != a[1] {
					t.Errorf("rs.Introspect: %s = %s, want %s", a[0], b, a[1])
				}
			}
		})
	}

	// an unknown token: {"active":false}, untouched
	form := url.Values{"token": {"not-a-token"}}
	direct := do(t, http.MethodPost, z.direct+path, form, testidp.GlobexClientID, testidp.GlobexClientSecret)
	proxied := do(t, http.MethodPost, z.base+path, form, testidp.GlobexClientID, testidp.GlobexClientSecret)
	if _, m := members(t, direct.body); direct.status != 200 || string(m["active"]) != "false" {
		t.Fatalf("direct introspection of an unknown token: %d %s", direct.status, direct.body)
	}
	samePassThrough(t, "inactive introspection", direct, proxied)
}
