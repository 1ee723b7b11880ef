package caddymodule_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestNoRenderAfterClientLeft: a client that leaves while a source is
// looked up gets nothing rendered for it: the lookup is given up, and the
// response is neither rendered nor counted as enriched.
func TestNoRenderAfterClientLeft(t *testing.T) {
	inLookup := make(chan struct{}, 1)
	svc := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case inLookup <- struct{}{}:
		default:
		}
		<-r.Context().Done() // answers only once the lookup is given up
	})
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, `
	token_enrich {
		source cells http http://`+svc.addr+`/v1/tenants/{http.token.tenant} {
			timeout 10s
		}
		set api-uri https://eu.api.example.com
	}
	reverse_proxy {UPSTREAM}
`, up)
	const finished = "caddy_http_token_enrich_duration_seconds_count "
	enriched, done := counter(t, "enriched"), metric(t, finished)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	go func() {
		<-inLookup
		cancel() // the client leaves during the lookup
	}()
	if resp, err := testhttp.Client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered; the client was to leave first")
	}
	// the handler observes its duration when it is done with the response
	for deadline := time.Now().Add(10 * time.Second); metric(t, finished) == done; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the handler did not finish within 10 s of the client leaving")
		}
	}
	if n := counter(t, "enriched") - enriched; n != 0 {
		t.Fatalf("rendered and counted enriched %v times for a client that had left", n)
	}
}
