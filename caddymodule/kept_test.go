package caddymodule

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// TestKeptOutlivesTheExchange serves token requests one after another, so
// that each reuses the exchange of the one before, and reads each
// request's {http.token.*} placeholders and request body only after the
// next one has been served: as an access log reads the placeholders, and
// as reverse_proxy's transport may still send the body, after ServeHTTP
// returns. Each must still read its own request, never the one that reused
// its exchange.
func TestKeptOutlivesTheExchange(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	type served struct {
		repl        *caddy.Replacer
		body        io.Reader // the request body as the upstream got it, unread
		tenant, req string
	}
	serve := func(i int) served {
		tenant := "org_" + strings.Repeat(string(rune('a'+i%26)), 8+i%5)
		form := "grant_type=client_credentials&client_id=c" + strings.Repeat("x", i%7) +
			"&audience=" + url.QueryEscape("https://api.example.com/")
		tok := testjwt.Signed([]byte(`{"alg":"RS256","typ":"JWT"}`),
			[]byte(`{"iss":"https://acme.eu.auth0.com/","sub":"c@clients","azp":"c","org_id":"`+tenant+`"}`), []byte("sig"))
		up := tokenUpstream([]byte(`{"access_token":"`+tok+`","token_type":"Bearer","expires_in":60}`), "")
		var upBody io.Reader
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			upBody = r.Body // read only once the next request is served
			r.Body = nil
			return up.ServeHTTP(w, r)
		})
		repl := caddy.NewReplacer()
		ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl)
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://auth.example.com/oauth/token", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := &benchWriter{h: http.Header{}}
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(w.first, []byte(`"plan":"gold"`)) && !bytes.Contains(w.first, []byte(`"api-uri"`)) {
			t.Fatalf("request %d not enriched: %s", i, w.first)
		}
		return served{repl: repl, body: upBody, tenant: tenant, req: form}
	}
	prev := serve(0)
	for i := 1; i < 200; i++ {
		cur := serve(i)
		if got, _ := prev.repl.GetString("http.token.tenant"); got != prev.tenant {
			t.Fatalf("request %d: {http.token.tenant} read after the next request is %q, want %q", i-1, got, prev.tenant)
		}
		if got, _ := prev.repl.GetString("http.token.client_id"); got != "c" {
			t.Fatalf("request %d: {http.token.client_id} read after the next request is %q, want c", i-1, got)
		}
		got, err := io.ReadAll(prev.body)
		if err != nil || string(got) != prev.req {
			t.Fatalf("request %d: body sent after the next request is %q (%v), want %q", i-1, got, err, prev.req)
		}
		prev = cur
	}
}
