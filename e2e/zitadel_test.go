package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
)

// zitadelBlock is the site served in front of the provider: default fields,
// one rule per tenant, one on the opaque client and one on refresh.
const zitadelBlock = `
	token_enrich {
		preset auto
		set api-uri https://api.example.com
		set tenant_id {http.token.tenant}
		rule acme {
			tenant acme
			set api-uri https://acme.api.example.com
			set_json limits ` + "`" + `{"rps": 100}` + "`" + `
		}
		rule globex {
			tenant globex
			set api-uri https://globex.api.example.com
		}
		rule opaque-client {
			client svc-opaque
			grant_type client_credentials
			set api-uri https://initech.api.example.com
		}
		rule refreshed {
			grant_type refresh_token
			set_json refreshed true
		}
	}
	reverse_proxy %s
`

// zitadel is a provider whose issuer is the Caddy site in front of it.
type zitadel struct {
	p      *testidp.Provider
	direct string // the provider's own listener
	base   string // the Caddy site == the issuer
	disco  *oidc.DiscoveryConfiguration
}

func startZitadel(t *testing.T) *zitadel {
	t.Helper()
	return startZitadelWith(t, func(*testidp.Provider) string { return zitadelBlock })
}

// startZitadelWith is startZitadel with the site block that block returns
// for the started provider (a %s for the provider's address in it).
func startZitadelWith(t *testing.T, block func(*testidp.Provider) string) *zitadel {
	t.Helper()
	port := testcaddy.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p := testidp.Start(t, testidp.WithIssuer(base))
	testcaddy.LoadSite(t, port, fmt.Sprintf(block(p), strings.TrimPrefix(p.URL, "http://")))
	// discovery through the proxy with zitadel's own relying-party client
	disco, err := client.Discover(t.Context(), base, http.DefaultClient)
	if err != nil {
		t.Fatalf("discovery through the proxy: %v", err)
	}
	if disco.Issuer != base || disco.TokenEndpoint != base+"/oauth/token" {
		t.Fatalf("discovery: issuer %s token endpoint %s", disco.Issuer, disco.TokenEndpoint)
	}
	return &zitadel{p: p, direct: p.URL, base: base, disco: disco}
}

// TestZitadelDiscoveryPassesThrough: discovery and JWKS reach the client
// byte for byte as the provider serves them.
func TestZitadelDiscoveryPassesThrough(t *testing.T) {
	z := startZitadel(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/keys"} {
		direct := do(t, http.MethodGet, z.direct+path, nil, "", "")
		proxied := do(t, http.MethodGet, z.base+path, nil, "", "")
		if direct.status != 200 || len(direct.body) < 100 {
			t.Fatalf("%s direct: %d %s", path, direct.status, direct.body)
		}
		samePassThrough(t, path, direct, proxied)
	}
}

type ccCase struct {
	client, secret string
	style          oauth2.AuthStyle
	added          [][2]string // expected added members, in order
	opaque         bool
}

var zitadelCC = []ccCase{
	{testidp.AcmeClientID, testidp.AcmeClientSecret, oauth2.AuthStyleInHeader,
		[][2]string{{"api-uri", `"https://acme.api.example.com"`}, {"tenant_id", `"acme"`}, {"limits", `{"rps":100}`}}, false},
	{testidp.GlobexClientID, testidp.GlobexClientSecret, oauth2.AuthStyleInParams,
		[][2]string{{"api-uri", `"https://globex.api.example.com"`}, {"tenant_id", `"globex"`}}, false},
	// opaque: no claims, so no tenant; the client rule still applies
	{testidp.OpaqueClientID, testidp.OpaqueClientSecret, oauth2.AuthStyleInHeader,
		[][2]string{{"api-uri", `"https://initech.api.example.com"`}}, true},
}

// TestZitadelClientCredentials: x/oauth2's clientcredentials reads the added
// fields from token.Extra; the token itself is the provider's, still valid;
// on the wire the response is the provider's members, then ours.
func TestZitadelClientCredentials(t *testing.T) {
	z := startZitadel(t)
	for _, c := range zitadelCC {
		t.Run(c.client, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: c.client, ClientSecret: c.secret, TokenURL: z.disco.TokenEndpoint,
				Scopes: []string{"api:read"}, AuthStyle: c.style}
			tok, err := cc.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkExtras(t, tok, c.added)
			if c.opaque {
				if strings.Contains(tok.AccessToken, ".") || tok.Extra("tenant_id") != nil {
					t.Errorf("opaque token %q, tenant_id %v", tok.AccessToken, tok.Extra("tenant_id"))
				}
			} else if claims, err := z.p.VerifyAccessToken(tok.AccessToken); err != nil || claims["client_id"] != c.client {
				t.Errorf("access token: %v %v", err, claims)
			}

			// the same request raw, direct and through the proxy
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
			direct := do(t, http.MethodPost, z.direct+"/oauth/token", form, c.client, c.secret)
			proxied := do(t, http.MethodPost, z.base+"/oauth/token", form, c.client, c.secret)
			upstream, _ := members(t, direct.body)
			if proxied.status != 200 || proxied.header.Get("Content-Length") != strconv.Itoa(len(proxied.body)) ||
				proxied.header.Get("Cache-Control") != direct.header.Get("Cache-Control") {
				t.Errorf("proxied: %d %v", proxied.status, proxied.header)
			}
			checkAdded(t, proxied.body, upstream, c.added)
		})
	}
}

// TestZitadelRefresh: authorization_code then refresh_token, both through
// the proxy; the refresh response also gets the grant_type rule's field.
func TestZitadelRefresh(t *testing.T) {
	z := startZitadel(t)
	ctx := t.Context()
	cfg := oauth2.Config{
		ClientID: testidp.AcmeClientID, ClientSecret: testidp.AcmeClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: z.disco.AuthorizationEndpoint, TokenURL: z.disco.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: testidp.RedirectURI,
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess},
	}
	verifier := oauth2.GenerateVerifier()
	code, err := z.p.AuthorizationCode(ctx, nil, cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil || tok.Extra("tenant_id") != "acme" ||
		tok.Extra("api-uri") != "https://acme.api.example.com" || tok.Extra("refreshed") != nil {
		t.Fatalf("code exchange: %+v tenant_id=%v api-uri=%v refreshed=%v", tok, tok.Extra("tenant_id"), tok.Extra("api-uri"), tok.Extra("refreshed"))
	}
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.RefreshToken == tok.RefreshToken || refreshed.Extra("refreshed") != true || refreshed.Extra("tenant_id") != "acme" {
		t.Fatalf("refresh: %+v refreshed=%v tenant_id=%v", refreshed, refreshed.Extra("refreshed"), refreshed.Extra("tenant_id"))
	}
	if claims, err := z.p.VerifyAccessToken(refreshed.AccessToken); err != nil || claims["sub"] != testidp.TestUser {
		t.Fatalf("refreshed access token: %v %v", err, claims)
	}
	// a reused refresh token: the provider's invalid_grant, untouched
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v", err)
	}
}

// TestZitadelErrorsPassThrough: a bad secret (Basic and post) and a bad
// grant give the provider's own error response, byte for byte.
func TestZitadelErrorsPassThrough(t *testing.T) {
	z := startZitadel(t)
	cases := []struct {
		name        string
		form        url.Values
		user, pass  string
		wantStatus  int
		wantErrCode string
	}{
		{"bad secret basic", url.Values{"grant_type": {"client_credentials"}}, testidp.AcmeClientID, "wrong", 401, "invalid_client"},
		{"bad secret post", url.Values{"grant_type": {"client_credentials"}, "client_id": {testidp.GlobexClientID}, "client_secret": {"wrong"}}, "", "", 401, "invalid_client"},
		{"bad refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, testidp.AcmeClientID, testidp.AcmeClientSecret, 400, "invalid_grant"},
	}
	for _, c := range cases {
		direct := do(t, http.MethodPost, z.direct+"/oauth/token", c.form, c.user, c.pass)
		proxied := do(t, http.MethodPost, z.base+"/oauth/token", c.form, c.user, c.pass)
		if direct.status != c.wantStatus || !strings.Contains(string(direct.body), `"error":"`+c.wantErrCode+`"`) {
			t.Fatalf("%s: direct %d %s", c.name, direct.status, direct.body)
		}
		samePassThrough(t, c.name, direct, proxied)
	}
	cc := clientcredentials.Config{ClientID: testidp.AcmeClientID, ClientSecret: "wrong", TokenURL: z.disco.TokenEndpoint}
	_, err := cc.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("x/oauth2 bad secret: %v", err)
	}
}

// TestZitadelOpenIDClient reads the same responses with openid-client 6.x
// (Node): discovery, client_credentials with both auth methods, an opaque
// token, a bad secret, authorization_code and refresh_token.
func TestZitadelOpenIDClient(t *testing.T) {
	requireNode(t)
	z := startZitadel(t)
	for _, c := range zitadelCC {
		auth := map[oauth2.AuthStyle]string{oauth2.AuthStyleInHeader: "basic", oauth2.AuthStyleInParams: "post"}[c.style]
		res, raw, code := nodeClient(t, "--issuer", z.base, "--client-id", c.client, "--client-secret", c.secret,
			"--auth", auth, "--scope", "api:read")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.client, code, raw)
		}
		checkNodeFields(t, c.client, res, c.added)
		if _, ok := res["tenant_id"]; c.opaque == ok {
			t.Errorf("%s: tenant_id present=%v", c.client, ok)
		}
	}
	res, raw, code := nodeClient(t, "--issuer", z.base, "--client-id", testidp.AcmeClientID, "--client-secret", "wrong", "--auth", "post")
	if code != 3 || res["error"] != "invalid_client" || res["http_status"] != float64(401) {
		t.Fatalf("bad secret: exit %d %s", code, raw)
	}
	res, raw, code = nodeClient(t, "--issuer", z.base, "--client-id", testidp.AcmeClientID, "--client-secret", testidp.AcmeClientSecret,
		"--grant", "authorization_code", "--redirect-uri", testidp.RedirectURI, "--scope", "openid offline_access")
	rt, _ := res["refresh_token"].(string)
	if code != 0 || rt == "" || res["id_token"] == nil || res["tenant_id"] != "acme" || res["refreshed"] != nil {
		t.Fatalf("authorization_code: exit %d %s", code, raw)
	}
	res, raw, code = nodeClient(t, "--issuer", z.base, "--client-id", testidp.AcmeClientID, "--client-secret", testidp.AcmeClientSecret,
		"--grant", "refresh_token", "--refresh-token="+rt)
	if code != 0 || res["refreshed"] != true || res["tenant_id"] != "acme" || res["api-uri"] != "https://acme.api.example.com" {
		t.Fatalf("refresh_token: exit %d %s", code, raw)
	}
}

// checkExtras compares golang.org/x/oauth2's view of added members
// (Token.Extra) with the expected JSON values.
func checkExtras(t *testing.T, tok *oauth2.Token, added [][2]string) {
	t.Helper()
	for _, a := range added {
		if got, _ := json.Marshal(tok.Extra(a[0])); string(got) != a[1] {
			t.Errorf("Extra(%s) = %s, want %s", a[0], got, a[1])
		}
	}
}

// checkNodeFields compares openid-client's view of added members with the
// expected JSON values.
func checkNodeFields(t *testing.T, who string, res map[string]any, added [][2]string) {
	t.Helper()
	for _, a := range added {
		got, err := json.Marshal(res[a[0]])
		if err != nil || string(got) != a[1] {
			t.Errorf("%s: %s = %s, want %s", who, a[0], got, a[1])
		}
	}
}
