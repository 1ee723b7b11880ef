//go:build hydra

// The Hydra suite needs a running Ory Hydra behind the built ./caddy, which
// e2e/run.sh provides; it builds this file with -tags hydra, so a plain
// `go test ./...` neither compiles nor skips these tests.

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
)

// hydraEnv is the running setup e2e/run.sh hands to the TestHydra* tests:
// Ory Hydra v2.3.0 whose issuer is the built ./caddy in front of it.
type hydraEnv struct {
	issuer      string // the Caddy site, with the trailing slash Hydra keeps
	base        string // issuer without the trailing slash
	direct      string // Hydra's public port
	redirectURI string // ac-refresh's redirect URI (hook-server /callback)
	disco       *oidc.DiscoveryConfiguration
}

// hydra returns the setup, or skips: only e2e/run.sh starts Hydra and the
// built Caddy and sets E2E_HYDRA_ISSUER, and it fails the run when any
// TestHydra* test skips.
func hydra(t *testing.T) *hydraEnv {
	t.Helper()
	env := &hydraEnv{
		issuer:      os.Getenv("E2E_HYDRA_ISSUER"),
		direct:      strings.TrimSuffix(os.Getenv("E2E_HYDRA_PUBLIC_URL"), "/"),
		redirectURI: os.Getenv("E2E_HYDRA_REDIRECT_URI"),
	}
	if env.issuer == "" {
		t.Fatal("Hydra is not running: run these tests with e2e/run.sh")
	}
	if env.direct == "" || env.redirectURI == "" {
		t.Fatal("E2E_HYDRA_PUBLIC_URL and E2E_HYDRA_REDIRECT_URI must be set with E2E_HYDRA_ISSUER")
	}
	env.base = strings.TrimSuffix(env.issuer, "/")
	disco, err := client.Discover(t.Context(), env.issuer, http.DefaultClient)
	if err != nil {
		t.Fatalf("discovery through the proxy: %v", err)
	}
	if disco.Issuer != env.issuer || disco.TokenEndpoint != env.issuer+"oauth2/token" {
		t.Fatalf("discovery: issuer %s, token endpoint %s", disco.Issuer, disco.TokenEndpoint)
	}
	env.disco = disco
	return env
}

// verifyHydraJWT checks the access token's signature against the JWKS
// served through the proxy and returns its claims.
func verifyHydraJWT(t *testing.T, h *hydraEnv, token string) map[string]any {
	t.Helper()
	x := do(t, http.MethodGet, h.disco.JwksURI, nil, "", "")
	claims, err := testidp.VerifyJWT(x.body, token, jose.RS256, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestHydraDiscoveryPassesThrough: discovery through the built Caddy is
// byte-identical to Hydra's own; the JWKS holds the same keys (Hydra lists
// its two key sets in a different order on every request).
func TestHydraDiscoveryPassesThrough(t *testing.T) {
	h := hydra(t)
	path := "/.well-known/openid-configuration"
	direct := do(t, http.MethodGet, h.direct+path, nil, "", "")
	proxied := do(t, http.MethodGet, h.base+path, nil, "", "")
	if direct.status != 200 || len(direct.body) < 100 {
		t.Fatalf("%s direct: %d %s", path, direct.status, direct.body)
	}
	samePassThrough(t, path, direct, proxied)

	path = "/.well-known/jwks.json"
	direct = do(t, http.MethodGet, h.direct+path, nil, "", "")
	proxied = do(t, http.MethodGet, h.base+path, nil, "", "")
	if direct.status != 200 || proxied.status != 200 || len(direct.body) != len(proxied.body) ||
		direct.header.Get("Content-Type") != proxied.header.Get("Content-Type") {
		t.Fatalf("%s: direct %d %d bytes, proxied %d %d bytes", path, direct.status, len(direct.body), proxied.status, len(proxied.body))
	}
	if dk, pk := jwksKeys(t, direct.body), jwksKeys(t, proxied.body); strings.Join(dk, "\n") != strings.Join(pk, "\n") || len(dk) == 0 {
		t.Fatalf("%s: keys differ:\ndirect  %v\nproxied %v", path, dk, pk)
	}
}

// jwksKeys returns the raw JSON of each key of a JWKS, sorted.
func jwksKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

var hydraCC = []struct {
	client string
	style  oauth2.AuthStyle
	tenant string
	added  [][2]string
	opaque bool
}{
	{"cc-basic", oauth2.AuthStyleInHeader, "acme",
		[][2]string{{"api-uri", `"https://acme.api.example.com"`}, {"tenant_id", `"acme"`}, {"limits", `{"rps":100}`}}, false},
	{"cc-post", oauth2.AuthStyleInParams, "acme",
		[][2]string{{"api-uri", `"https://acme.api.example.com"`}, {"tenant_id", `"acme"`}, {"limits", `{"rps":100}`}}, false},
	{"cc-globex", oauth2.AuthStyleInHeader, "globex",
		[][2]string{{"api-uri", `"https://globex.api.example.com"`}, {"tenant_id", `"globex"`}}, false},
	{"cc-notenant", oauth2.AuthStyleInHeader, "",
		[][2]string{{"api-uri", `"https://api.example.com"`}}, false},
	// Hydra's opaque tokens (ory_at_...) carry no claims: the tenant is
	// unknown, the client rule applies
	{"cc-opaque", oauth2.AuthStyleInHeader, "",
		[][2]string{{"api-uri", `"https://opaque.api.example.com"`}}, true},
}

// TestHydraClientCredentials: x/oauth2 clientcredentials through the built
// Caddy, both client authentication methods, JWT and opaque tokens, a rule
// per tenant; raw, the response is Hydra's members followed by ours.
func TestHydraClientCredentials(t *testing.T) {
	h := hydra(t)
	for _, c := range hydraCC {
		t.Run(c.client, func(t *testing.T) {
			secret := c.client + "-secret"
			cc := clientcredentials.Config{ClientID: c.client, ClientSecret: secret, TokenURL: h.disco.TokenEndpoint,
				Scopes: []string{"api:read"}, EndpointParams: url.Values{"audience": {"https://api.example.test"}}, AuthStyle: c.style}
			tok, err := cc.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkExtras(t, tok, c.added)
			if tok.Extra("tenant_id") != nil && c.tenant == "" {
				t.Errorf("tenant_id = %v", tok.Extra("tenant_id"))
			}
			if c.opaque {
				if !strings.HasPrefix(tok.AccessToken, "ory_at_") {
					t.Errorf("not an opaque Hydra token: %s", tok.AccessToken)
				}
			} else {
				claims := verifyHydraJWT(t, h, tok.AccessToken)
				if claims["client_id"] != c.client || claims["iss"] != h.issuer || (c.tenant != "" && claims["tenant"] != c.tenant) {
					t.Errorf("claims %v", claims)
				}
			}

			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
			user, pass := c.client, secret
			if c.style == oauth2.AuthStyleInParams {
				form.Set("client_id", c.client)
				form.Set("client_secret", secret)
				user, pass = "", ""
			}
			direct := do(t, http.MethodPost, h.direct+"/oauth2/token", form, user, pass)
			proxied := do(t, http.MethodPost, h.base+"/oauth2/token", form, user, pass)
			if direct.status != 200 || proxied.status != 200 {
				t.Fatalf("direct %d %s, proxied %d %s", direct.status, direct.body, proxied.status, proxied.body)
			}
			upstream, _ := members(t, direct.body)
			checkAdded(t, proxied.body, upstream, c.added)
			if proxied.header.Get("Content-Length") != strconv.Itoa(len(proxied.body)) ||
				proxied.header.Get("Cache-Control") != direct.header.Get("Cache-Control") ||
				proxied.header.Get("Content-Type") != direct.header.Get("Content-Type") {
				t.Errorf("headers: direct %v proxied %v", direct.header, proxied.header)
			}
		})
	}
}

// TestHydraErrorsPassThrough: a bad secret with either auth method gives
// Hydra's own 401 byte for byte; x/oauth2 reads it as invalid_client.
func TestHydraErrorsPassThrough(t *testing.T) {
	h := hydra(t)
	basic := url.Values{"grant_type": {"client_credentials"}}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cc-post"}, "client_secret": {"wrong"}}
	for name, c := range map[string]struct {
		form       url.Values
		user, pass string
	}{"basic": {basic, "cc-basic", "wrong"}, "post": {post, "", ""}} {
		direct := do(t, http.MethodPost, h.direct+"/oauth2/token", c.form, c.user, c.pass)
		proxied := do(t, http.MethodPost, h.base+"/oauth2/token", c.form, c.user, c.pass)
		if direct.status != 401 || !strings.Contains(string(direct.body), `"error":"invalid_client"`) {
			t.Fatalf("%s direct: %d %s", name, direct.status, direct.body)
		}
		samePassThrough(t, "bad secret "+name, direct, proxied)
	}
	cc := clientcredentials.Config{ClientID: "cc-basic", ClientSecret: "wrong", TokenURL: h.disco.TokenEndpoint}
	_, err := cc.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("x/oauth2: %v", err)
	}
}

// TestHydraRefresh: authorization_code (login and consent accepted by the
// harness's hook server) and refresh_token with x/oauth2, through the proxy.
func TestHydraRefresh(t *testing.T) {
	h := hydra(t)
	ctx := t.Context()
	cfg := oauth2.Config{
		ClientID: "ac-refresh", ClientSecret: "ac-refresh-secret",
		Endpoint:    oauth2.Endpoint{AuthURL: h.disco.AuthorizationEndpoint, TokenURL: h.disco.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: h.redirectURI,
		Scopes:      []string{"openid", "offline_access", "api:read"},
	}
	verifier := oauth2.GenerateVerifier()
	code := hydraLogin(t, cfg.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", "nonce-12345678"), oauth2.SetAuthURLParam("audience", "https://api.example.test")), h.redirectURI)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil || tok.Extra("tenant_id") != "acme" || tok.Extra("refreshed") != nil {
		t.Fatalf("code exchange: %+v tenant_id=%v", tok, tok.Extra("tenant_id"))
	}
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.Extra("refreshed") != true || refreshed.Extra("tenant_id") != "acme" ||
		refreshed.Extra("api-uri") != "https://acme.api.example.com" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: refreshed=%v tenant_id=%v api-uri=%v", refreshed.Extra("refreshed"), refreshed.Extra("tenant_id"), refreshed.Extra("api-uri"))
	}
	if claims := verifyHydraJWT(t, h, refreshed.AccessToken); claims["sub"] != "alice" || claims["client_id"] != "ac-refresh" {
		t.Fatalf("refreshed token claims %v", claims)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v", err)
	}
}

// hydraLogin follows the authorization redirects (Hydra, the hook server's
// auto-accepting login and consent, Hydra again) with a cookie jar until the
// redirect URI, and returns the code.
func hydraLogin(t *testing.T, authURL, redirectURI string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 20 {
		if strings.HasPrefix(next, redirectURI) {
			u, _ := url.Parse(next)
			if e := u.Query().Get("error"); e != "" {
				t.Fatalf("authorization error %s: %s", e, u.Query().Get("error_description"))
			}
			return u.Query().Get("code")
		}
		resp, err := c.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: %s, no redirect", next, resp.Status)
		}
		next = loc.String()
	}
	t.Fatal("too many redirects")
	return ""
}

// TestHydraOpenIDClient: the same through openid-client 6.x (Node).
func TestHydraOpenIDClient(t *testing.T) {
	h := hydra(t)
	requireNode(t)
	for _, c := range hydraCC {
		auth := map[oauth2.AuthStyle]string{oauth2.AuthStyleInHeader: "basic", oauth2.AuthStyleInParams: "post"}[c.style]
		res, raw, code := nodeClient(t, "--issuer", h.issuer, "--client-id", c.client, "--client-secret", c.client+"-secret",
			"--auth", auth, "--scope", "api:read", "--audience", "https://api.example.test")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.client, code, raw)
		}
		checkNodeFields(t, c.client, res, c.added)
		if _, ok := res["tenant_id"]; ok != (c.tenant != "") {
			t.Errorf("%s: tenant_id present=%v: %s", c.client, ok, raw)
		}
	}
	res, raw, code := nodeClient(t, "--issuer", h.issuer, "--client-id", "cc-post", "--client-secret", "wrong", "--auth", "post")
	if code != 3 || res["error"] != "invalid_client" || res["http_status"] != float64(401) {
		t.Fatalf("bad secret: exit %d %s", code, raw)
	}
	res, raw, code = nodeClient(t, "--issuer", h.issuer, "--client-id", "ac-refresh", "--client-secret", "ac-refresh-secret",
		"--grant", "authorization_code", "--redirect-uri", h.redirectURI, "--scope", "openid offline_access api:read",
		"--audience", "https://api.example.test")
	rt, _ := res["refresh_token"].(string)
	if code != 0 || !strings.HasPrefix(rt, "ory_rt_") || res["tenant_id"] != "acme" || res["refreshed"] != nil {
		t.Fatalf("authorization_code: exit %d %s", code, raw)
	}
	res, raw, code = nodeClient(t, "--issuer", h.issuer, "--client-id", "ac-refresh", "--client-secret", "ac-refresh-secret",
		"--grant", "refresh_token", "--refresh-token="+rt)
	if code != 0 || res["refreshed"] != true || res["tenant_id"] != "acme" {
		t.Fatalf("refresh_token: exit %d %s", code, raw)
	}
}
