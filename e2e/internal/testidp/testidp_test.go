package testidp_test

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// discover fetches the discovery document of issuer (which must match).
func discover(t *testing.T, issuer string) *oidc.DiscoveryConfiguration {
	t.Helper()
	disco, err := client.Discover(t.Context(), issuer, http.DefaultClient)
	if err != nil {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	return disco
}

// verifyWithJWKS verifies token (RS256, as the test IdP signs) against the
// JWKS served at jwksURI and returns its claims.
func verifyWithJWKS(t *testing.T, jwksURI, token string) map[string]any {
	t.Helper()
	_, jwks := testhttp.Get(t, jwksURI)
	claims, err := testidp.VerifyJWT(jwks, token, jose.RS256)
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

func checkClaims(t *testing.T, claims map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got := claims[k]
		if arr, ok := got.([]any); ok && len(arr) == 1 { // aud may be an array
			got = arr[0]
		}
		if got != v {
			t.Errorf("claim %s = %v, want %v (all claims: %v)", k, claims[k], v, claims)
		}
	}
}

func TestClientCredentials(t *testing.T) {
	p := testidp.Start(t)
	disco := discover(t, p.Issuer())
	if disco.TokenEndpoint != p.URL+"/oauth/token" || disco.TokenEndpoint != p.TokenURL() {
		t.Fatalf("token_endpoint = %s", disco.TokenEndpoint)
	}

	for _, tc := range []struct {
		id, secret, tenant string
		style              oauth2.AuthStyle
	}{
		{testidp.AcmeClientID, testidp.AcmeClientSecret, "acme", oauth2.AuthStyleInHeader},
		{testidp.GlobexClientID, testidp.GlobexClientSecret, "globex", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.id, func(t *testing.T) {
			cc := clientcredentials.Config{
				ClientID: tc.id, ClientSecret: tc.secret, TokenURL: disco.TokenEndpoint,
				Scopes: []string{"api"}, AuthStyle: tc.style,
			}
			tok, err := cc.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken != "" {
				t.Errorf("unexpected refresh token for client_credentials")
			}
			claims := verifyWithJWKS(t, disco.JwksURI, tok.AccessToken)
			checkClaims(t, claims, map[string]any{
				"iss": p.Issuer(), "sub": tc.id, "aud": tc.id, "client_id": tc.id,
				testidp.TenantClaim: tc.tenant,
			})
			if scope := tok.Extra("scope"); scope != "api" {
				t.Errorf("token response scope = %v, want api", scope)
			}
			if _, err := p.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("VerifyAccessToken: %v", err)
			}
			b, _ := json.Marshal(claims)
			t.Logf("access token claims: %s", b)
		})
	}
}

func TestBadSecret(t *testing.T) {
	p := testidp.Start(t)

	cc := clientcredentials.Config{ClientID: testidp.AcmeClientID, ClientSecret: "wrong", TokenURL: p.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cc.Token(t.Context())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %v, want invalid_client with 401", err)
	}

	// client_secret_post, checked by hand.
	resp, err := http.PostForm(p.TokenURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testidp.GlobexClientID}, "client_secret": {"wrong"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || body.Error != "invalid_client" {
		t.Fatalf("got %d %q, want 401 invalid_client", resp.StatusCode, body.Error)
	}
}

func TestOpaqueToken(t *testing.T) {
	p := testidp.Start(t)
	cc := clientcredentials.Config{ClientID: testidp.OpaqueClientID, ClientSecret: testidp.OpaqueClientSecret, TokenURL: p.TokenURL()}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.AccessToken, ".") {
		t.Fatalf("opaque token looks like a JWT/JWE: %s", tok.AccessToken)
	}
	if _, err := p.VerifyAccessToken(tok.AccessToken); err == nil {
		t.Fatal("VerifyAccessToken accepted an opaque token")
	}

	// The token is real: introspection knows it.
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/oauth/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testidp.AcmeClientID, testidp.AcmeClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var intro map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&intro); err != nil {
		t.Fatal(err)
	}
	checkClaims(t, intro, map[string]any{"active": true, "client_id": testidp.OpaqueClientID, testidp.TenantClaim: "initech"})
}

// authCodeFlow runs authorization_code (+PKCE, offline_access) and a refresh
// for the acme client against the given issuer.
func authCodeFlow(t *testing.T, p *testidp.Provider, issuer string) {
	t.Helper()
	ctx := t.Context()
	disco := discover(t, issuer)
	cfg := oauth2.Config{
		ClientID: testidp.AcmeClientID, ClientSecret: testidp.AcmeClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: disco.AuthorizationEndpoint, TokenURL: disco.TokenEndpoint},
		RedirectURL: testidp.RedirectURI,
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess},
	}
	verifier := oauth2.GenerateVerifier()
	code, err := p.AuthorizationCode(ctx, nil, cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("want refresh_token and id_token, got %+v", tok)
	}
	claims := verifyWithJWKS(t, disco.JwksURI, tok.AccessToken)
	checkClaims(t, claims, map[string]any{"iss": issuer, "sub": testidp.TestUser, "client_id": testidp.AcmeClientID, testidp.TenantClaim: "acme"})
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("code redeemed twice")
	}

	// Refresh (rotating the refresh token).
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not issue new tokens: %+v", refreshed)
	}
	claims = verifyWithJWKS(t, disco.JwksURI, refreshed.AccessToken)
	checkClaims(t, claims, map[string]any{"sub": testidp.TestUser, testidp.TenantClaim: "acme"})

	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: got %v, want invalid_grant", err)
	}
}

func TestAuthCodeAndRefresh(t *testing.T) {
	p := testidp.Start(t)
	authCodeFlow(t, p, p.Issuer())
}

// proxyTo returns a reverse proxy to target that keeps the incoming Host
// header or rewrites it to the target's.
func proxyTo(target string, keepHost bool) http.Handler {
	u, _ := url.Parse(target)
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		if keepHost {
			r.Out.Host = r.In.Host
		}
		r.SetXForwarded()
	}}
}

func TestBehindReverseProxy(t *testing.T) {
	for _, keepHost := range []bool{true, false} {
		name := map[bool]string{true: "KeepHost", false: "RewriteHost"}[keepHost]
		t.Run(name+"/WithIssuer", func(t *testing.T) {
			// The proxy's address is known before the provider starts.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			issuer := "http://" + ln.Addr().String()
			p := testidp.Start(t, testidp.WithIssuer(issuer))
			proxy := httptest.NewUnstartedServer(proxyTo(p.URL, keepHost))
			proxy.Listener.Close()
			proxy.Listener = ln
			proxy.Start()
			t.Cleanup(proxy.Close)
			checkThroughProxy(t, p, issuer)
		})
		t.Run(name+"/SetIssuer", func(t *testing.T) {
			p := testidp.Start(t)
			proxy := httptest.NewServer(proxyTo(p.URL, keepHost))
			t.Cleanup(proxy.Close)
			p.SetIssuer(proxy.URL)
			checkThroughProxy(t, p, proxy.URL)
		})
	}
}

func checkThroughProxy(t *testing.T, p *testidp.Provider, issuer string) {
	t.Helper()
	if p.Issuer() != issuer || p.URL == issuer {
		t.Fatalf("issuer %s, URL %s", p.Issuer(), p.URL)
	}
	disco := discover(t, issuer)
	for _, ep := range []string{disco.TokenEndpoint, disco.JwksURI, disco.AuthorizationEndpoint} {
		if !strings.HasPrefix(ep, issuer+"/") {
			t.Errorf("endpoint %s not behind issuer %s", ep, issuer)
		}
	}
	cc := clientcredentials.Config{ClientID: testidp.GlobexClientID, ClientSecret: testidp.GlobexClientSecret, TokenURL: disco.TokenEndpoint}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	claims := verifyWithJWKS(t, disco.JwksURI, tok.AccessToken)
	checkClaims(t, claims, map[string]any{"iss": issuer, testidp.TenantClaim: "globex"})
	if _, err := p.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Error(err)
	}
	authCodeFlow(t, p, issuer)
}

func TestJWKSMatchesKeysEndpoint(t *testing.T) {
	p := testidp.Start(t)
	resp, err := http.Get(p.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var served jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&served); err != nil {
		t.Fatal(err)
	}
	local := p.JWKS()
	if len(served.Keys) != 1 || len(local.Keys) != 1 || served.Keys[0].KeyID != local.Keys[0].KeyID ||
		!served.Keys[0].Key.(*rsa.PublicKey).Equal(local.Keys[0].Key) {
		t.Fatalf("/keys = %+v, JWKS() = %+v", served, local)
	}
}
