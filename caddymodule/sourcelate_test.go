package caddymodule_test

import (
	"encoding/json"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestSourceAnswerAfterItsTimeoutIsDropped: a source that answers after its
// timeout (it ignores its context) has its answer dropped even when the
// handler, waiting for a slower source, only looks at it later: no work
// is done on it, and its fields are left out, every time. An answer in
// time is kept, however late the handler looks at it.
func TestSourceAnswerAfterItsTimeoutIsDropped(t *testing.T) {
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, `
	token_enrich {
		source slow mem {
			key {http.token.tenant}
			timeout 1s
			delay 250ms
			entry org_acme `+"`"+`{"cell":"c7"}`+"`"+`
		}
		source late mem {
			key {http.token.tenant}
			timeout 50ms
			delay 100ms
			entry org_acme `+"`"+`{"region":"late"}`+"`"+`
		}
		source prompt mem {
			key {http.token.tenant}
			timeout 50ms
			entry org_acme `+"`"+`{"tier":"gold"}`+"`"+`
		}
	}
	reverse_proxy {UPSTREAM}
`, up)
	before := metric(t, `caddy_http_token_enrich_source_lookups_total{result="timeout",source="late"} `)
	// the late answer and the end of its wait are both ready when the
	// handler gets to it; without the check a select picks either
	const n = 8
	for range n {
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got["cell"] != "c7" || got["tier"] != "gold" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got["region"] != nil {
			t.Fatalf("the late source's answer was used: %s", body)
		}
	}
	if got := metric(t, `caddy_http_token_enrich_source_lookups_total{result="timeout",source="late"} `) - before; got != n {
		t.Fatalf("late source counted timeout %v times, want %d", got, n)
	}
}
