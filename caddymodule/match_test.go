package caddymodule

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// matchPaths are request paths for TestMatchesAgreesWithCaddy: plain ones
// the fast path answers, and ones it must leave to Caddy's matcher.
var matchPaths = []string{
	"/oauth/token", "/OAuth/Token", "/OAUTH/TOKEN", "/oauth/token/", "/oauth//token", "//oauth/token",
	"/oauth/./token", "/oauth/../oauth/token", "/x/../oauth/token", "/oauth/token.", "/oauth/token..",
	"/oauth/tokens", "/oauth/toke", "", "oauth/token", "/", "//", "/oauth/to\u212aen", "/oauth/to%6Ben",
	"/oauth\\token", "/oauth/token ", "/oauth/token%20", "/realms/Acme/protocol/openid-connect/token",
	"/a-b_c~d", "/s", "/S", "/\u017f", "/connect/token", "/oauth2/v1/token", "/oauth/token/.",
}

// matchPatterns are token_enrich path configurations.
var matchPatterns = [][]string{
	{"/oauth/token"}, {"/OAuth/Token"}, {"/oauth/token", "/connect/token"}, {"/oauth/*"}, {"*"},
	{"/oauth/to\u212aen"}, {"/\u017f"}, {"/s", "/oauth/token"}, {"/realms/acme/protocol/openid-connect/token"},
	{"/x//y"}, {"/oauth/token/"}, {"/"}, {"/oauth/token", "/oauth2/*"}, {"/oauth/to%6Ben"}, {"/oauth/token."},
	{"/oauth/{http.request.host}"}, {"/oauth/tok?n"}, {"/oauth/tok[e]n"}, {"/a-b_c~d"}, {"/oauth\\token"},
}

func TestMatchesAgreesWithCaddy(t *testing.T) {
	for _, pats := range matchPatterns {
		h := newMatchHandler(t, pats)
		for _, p := range matchPaths {
			checkMatches(t, h, p)
		}
	}
}

// TestMatchesAgreesWithCaddyRandom compares the fast path with Caddy's
// matcher on random paths and literal patterns over an alphabet of the
// characters that matter to lowercasing and cleaning.
func TestMatchesAgreesWithCaddyRandom(t *testing.T) {
	alpha := []string{"/", "/", "/", "a", "A", "k", "K", "s", ".", "-", "_", "~", "%", "\\", " ", "\u017f", "\u212a", "é"}
	r := rand.New(rand.NewPCG(7, 11))
	word := func() string {
		var b strings.Builder
		b.WriteString("/")
		for n := r.IntN(6); n > 0; n-- {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 200 {
		pats := []string{word()}
		if r.IntN(3) == 0 {
			pats = append(pats, word())
		}
		h := newMatchHandler(t, pats)
		for range 100 {
			checkMatches(t, h, word())
		}
		for _, p := range pats {
			checkMatches(t, h, p)
			checkMatches(t, h, strings.ToUpper(p))
		}
	}
}

func newMatchHandler(t testing.TB, paths []string) *Handler {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{"paths": paths})
	if err != nil {
		t.Fatal(err)
	}
	return newBenchHandler(t, string(cfg))
}

func checkMatches(t testing.TB, h *Handler, path string) {
	t.Helper()
	repl := caddy.NewReplacer()
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: path}, Host: "auth.example.com", Header: http.Header{}}
	r = r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl))
	want, err := h.paths.MatchWithError(r)
	want = want && err == nil
	if got := h.matches(r); got != want {
		t.Fatalf("paths %q, request path %q: matches = %v, Caddy's matcher says %v (literal %v)", h.paths, path, got, want, h.literal)
	}
}

// FuzzMatches compares the fast path with Caddy's matcher on any request
// path, for a few literal configurations.
func FuzzMatches(f *testing.F) {
	for _, p := range matchPaths {
		f.Add(p)
	}
	var hs []*Handler
	for _, pats := range [][]string{{"/oauth/token"}, {"/OAuth/Token", "/connect/token"}, {"/\u017f", "/k"}, {"/a-b_c~d/"}} {
		hs = append(hs, newMatchHandler(f, pats))
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, h := range hs {
			checkMatches(t, h, path)
		}
	})
}
