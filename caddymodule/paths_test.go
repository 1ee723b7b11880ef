package caddymodule

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// matchPath asks Caddy's path matcher whether pattern matches a request
// for reqPath.
func matchPath(t *testing.T, pattern, reqPath string) bool {
	t.Helper()
	m := caddyhttp.MatchPath{pattern}
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	r := (&http.Request{Method: http.MethodPost, URL: &url.URL{Path: reqPath}}).WithContext(ctx)
	ok, err := m.MatchWithError(r)
	return ok && err == nil
}

// A path exactPaths keeps is one Caddy's path matcher matches when the
// request's path is that path, byte for byte: the handler's shortcut
// never accepts a request the matcher would refuse.
func TestExactPathsMatchWhatMatchPathMatches(t *testing.T) {
	kept := []string{"/oauth/token", "/oauth2/v1/token", "/realms/acme/protocol/openid-connect/token",
		"/.well-known/x", "/a_b-c.d/e", "/"}
	refused := []string{"/OAuth/token", "/oauth/token/", "/oauth//token", "/oauth/*", "/oauth/tok?n", "/oauth/[t]oken",
		"/oauth/%74oken", "/{env.X}/token", "oauth/token", "/a/./b", "/a/../b", "/a./b", "/a.", `/a\b`, "/tøken", ""}
	if got := exactPaths(append(append([]string{}, kept...), refused...)); len(got) != len(kept) {
		t.Fatalf("exactPaths kept %q, want %q", got, kept)
	}
	for _, p := range kept {
		if !matchPath(t, p, p) {
			t.Errorf("MatchPath %q does not match its own path", p)
		}
	}
	// and any path of the kept alphabet that exactPaths keeps
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab/._-0"
	for range 20000 {
		b := []byte{'/'}
		for n := rng.IntN(8); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		if p := string(b); plainPath(p) && !matchPath(t, p, p) {
			t.Fatalf("plainPath(%q), yet MatchPath does not match it", p)
		}
	}
}
