package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
)

// clientLib is one client library of docs/clients.md: a script in
// e2e/node or e2e/python that reads the added members through the
// library's own token object (see TestClientLibraries).
type clientLib struct {
	name   string
	script string   // path from e2e/
	python []string // the Python modules it imports; nil for a Node script
	// views are the members of the script's output, one per object it
	// read a grant's response from; views named in drops are of an object
	// that does not keep unknown members.
	views, drops []string
}

var ccAndRefresh = []string{"client_credentials", "refresh_token"}

var clientLibs = []clientLib{
	{name: "simple-oauth2", script: "node/simple-oauth2.mjs", views: ccAndRefresh},
	{name: "oauth4webapi", script: "node/oauth4webapi.mjs", views: ccAndRefresh},
	{name: "oidc-client-ts", script: "node/oidc-client-ts.mjs",
		views: []string{"authorization_code", "refresh_token", "user_manager_authorization_code", "user_manager_refresh_token"},
		drops: []string{"user_manager_authorization_code", "user_manager_refresh_token"}},
	{name: "msal-node", script: "node/msal-node.mjs",
		views: []string{"client_credentials_result", "client_credentials", "refresh_token_result", "refresh_token"},
		drops: []string{"client_credentials_result", "refresh_token_result"}},
	{name: "requests-oauthlib", script: "python/requests_oauthlib_client.py", python: []string{"requests_oauthlib"}, views: ccAndRefresh},
	{name: "Authlib", script: "python/authlib_client.py", python: []string{"authlib"}, views: ccAndRefresh},
}

// libView is what a client script prints for one grant: the members as the
// library's object exposes them (null when it has none), and rps read from
// the nested limits object.
type libView struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken *string         `json:"refresh_token"`
	APIURI       json.RawMessage `json:"api-uri"`
	TenantID     json.RawMessage `json:"tenant_id"`
	Limits       json.RawMessage `json:"limits"`
	RPS          json.RawMessage `json:"rps"`
	Refreshed    json.RawMessage `json:"refreshed"`
}

// TestClientLibraries backs the rows of docs/clients.md: each library gets
// tokens through Caddy in front of the provider (client_credentials, or
// authorization_code for a browser library) and refreshes one, and reads the
// added string members and the nested limits object from its own token
// object. Only the refresh response carries the refresh_token rule's
// member, so a library that kept the first response's extras would fail.
func TestClientLibraries(t *testing.T) {
	z := startZitadel(t)
	for _, lib := range clientLibs {
		t.Run(lib.name, func(t *testing.T) {
			// A script that hangs fails the test instead of holding the
			// whole e2e run.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := lib.command(ctx, t)
			rt := z.refreshToken(t)
			cmd.Env = append(os.Environ(),
				"E2E_ISSUER="+z.base,
				"E2E_TOKEN_URL="+z.disco.TokenEndpoint,
				"E2E_CLIENT_ID="+testidp.AcmeClientID,
				"E2E_CLIENT_SECRET="+testidp.AcmeClientSecret,
				"E2E_REFRESH_TOKEN="+rt,
				"E2E_REDIRECT_URI="+testidp.RedirectURI,
			)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", lib.script, err, out, stderr.Bytes())
			}
			var res map[string]libView
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%s printed %q: %v", lib.script, out, err)
			}
			if len(res) != len(lib.views) {
				t.Errorf("%s printed %d views, want %v: %s", lib.script, len(res), lib.views, out)
			}
			for _, name := range lib.views {
				v, ok := res[name]
				if !ok {
					t.Errorf("%s: no %s in %s", lib.script, name, out)
					continue
				}
				refresh := strings.HasSuffix(name, "refresh_token")
				z.checkView(t, name, v, refresh, slices.Contains(lib.drops, name))
				if refresh && (v.RefreshToken == nil || *v.RefreshToken == "" || *v.RefreshToken == rt) {
					t.Errorf("%s: the rotated refresh token is %v, the one refreshed %q", name, v.RefreshToken, rt)
				}
			}
		})
	}
}

// checkView asserts one view: the provider's access token, and the members
// of the acme rule plus, on a refresh, the refresh_token rule's refreshed;
// or, when the object drops unknown members, none of them.
func (z *zitadel) checkView(t *testing.T, name string, v libView, refresh, drops bool) {
	t.Helper()
	if claims, err := z.p.VerifyAccessToken(v.AccessToken); err != nil || claims["tenant"] != "acme" {
		t.Errorf("%s: access token %q: %v %v", name, v.AccessToken, err, claims)
	}
	want := [5]string{`"https://acme.api.example.com"`, `"acme"`, `{"rps":100}`, "100", "null"}
	if refresh {
		want[4] = "true"
	}
	if drops {
		want = [5]string{"null", "null", "null", "null", "null"}
	}
	var got [5]string
	for i, raw := range []json.RawMessage{v.APIURI, v.TenantID, v.Limits, v.RPS, v.Refreshed} {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatalf("%s: %q: %v", name, raw, err)
		}
		got[i] = b.String()
	}
	if got != want {
		t.Errorf("%s: api-uri, tenant_id, limits, limits.rps, refreshed = %v, want %v", name, got, want)
	}
}

// refreshToken runs the authorization_code flow for the acme client through
// the proxy with x/oauth2 and returns the refresh token it got. It asks for
// the profile scope too: msal-node refreshes with "openid profile
// offline_access" whatever the request's scopes, and the provider refuses a
// refresh for scopes beyond the grant's.
func (z *zitadel) refreshToken(t *testing.T) string {
	t.Helper()
	cfg := oauth2.Config{
		ClientID: testidp.AcmeClientID, ClientSecret: testidp.AcmeClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: z.disco.AuthorizationEndpoint, TokenURL: z.disco.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: testidp.RedirectURI,
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess},
	}
	verifier := oauth2.GenerateVerifier()
	code, err := z.p.AuthorizationCode(t.Context(), nil, cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %v %+v", err, tok)
	}
	return tok.RefreshToken
}

// command is the command that runs the library's script.
func (lib clientLib) command(ctx context.Context, t *testing.T) *exec.Cmd {
	t.Helper()
	script := filepath.Join(repoRoot(), "e2e", lib.script)
	if lib.python != nil {
		return exec.CommandContext(ctx, requirePython(t, lib.python...), script)
	}
	node, _ := requireNode(t)
	return exec.CommandContext(ctx, node, script)
}

// requirePython finds a Python 3 that imports modules: $E2E_PYTHON, else
// python3 on the PATH, else /usr/bin/python3 (where Debian's
// python3-requests-oauthlib and python3-authlib install). Without one the
// test is skipped, unless E2E_REQUIRE_PYTHON=1 (set by test.sh) makes that a
// failure.
func requirePython(t *testing.T, modules ...string) string {
	t.Helper()
	candidates := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("E2E_PYTHON"); p != "" {
		candidates = []string{p}
	}
	var tried []string
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		out, err := exec.Command(path, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", path, err, bytes.TrimSpace(out)))
	}
	msg := fmt.Sprintf("no Python 3 imports %s (apt-get install python3-requests-oauthlib python3-authlib, or set E2E_PYTHON):\n%s",
		strings.Join(modules, ", "), strings.Join(tried, "\n"))
	if os.Getenv("E2E_REQUIRE_PYTHON") == "1" {
		t.Fatalf("E2E_REQUIRE_PYTHON=1: %s", msg)
	}
	t.Skip(msg)
	return ""
}

// TestXOAuth2ExtrasAreNotSaved: golang.org/x/oauth2 keeps the response's
// members in an unexported field that Token.Extra reads, so a token saved
// as JSON and read back has none of them; WithExtra puts them back.
func TestXOAuth2ExtrasAreNotSaved(t *testing.T) {
	z := startZitadel(t)
	cc := clientcredentials.Config{ClientID: testidp.AcmeClientID, ClientSecret: testidp.AcmeClientSecret, TokenURL: z.disco.TokenEndpoint}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	limits, _ := tok.Extra("limits").(map[string]any)
	if tok.Extra("api-uri") != "https://acme.api.example.com" || limits["rps"] != float64(100) {
		t.Fatalf("Extra: api-uri %v, limits %v", tok.Extra("api-uri"), tok.Extra("limits"))
	}
	saved, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var loaded oauth2.Token
	if err := json.Unmarshal(saved, &loaded); err != nil {
		t.Fatal(err)
	}
	if loaded.AccessToken != tok.AccessToken || loaded.Extra("api-uri") != nil || loaded.Extra("limits") != nil {
		t.Fatalf("token read back from %s: access token kept %v, api-uri %v, limits %v",
			saved, loaded.AccessToken == tok.AccessToken, loaded.Extra("api-uri"), loaded.Extra("limits"))
	}
	restored := loaded.WithExtra(map[string]any{"api-uri": tok.Extra("api-uri"), "limits": tok.Extra("limits")})
	if restored.Extra("api-uri") != "https://acme.api.example.com" || restored.Extra("limits") == nil {
		t.Fatalf("WithExtra: api-uri %v, limits %v", restored.Extra("api-uri"), restored.Extra("limits"))
	}
}
