package caddymodule_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// TestHugeObjectsRefusedThroughCaddy: a table entry or a lifted claim of
// 40,000 members is refused, counted (source_lookups_total error,
// lifted_refused_total) and warned of; the token is answered with the
// rest of its fields.
func TestHugeObjectsRefusedThroughCaddy(t *testing.T) {
	var members strings.Builder
	for i := range 40000 {
		if i > 0 {
			members.WriteByte(',')
		}
		fmt.Fprintf(&members, `"m%d":%d`, i, i)
	}
	huge := "{" + members.String() + "}"
	dir := t.TempDir()
	table := writeFile(t, dir, "tenants.json", `{"org_acme":`+huge+`}`)
	tok := testjwt.Payload(`{"azp":"svc-eu","org_id":"org_acme","meta":` + huge + `}`)
	up := newUpstream(t, serveJSON(200, `{"access_token":"`+tok+`","token_type":"Bearer"}`))
	base := startCaddy(t, `
	token_enrich {
		lift_claim meta
		set api-uri https://eu.api.example.com
		source tenants table `+table+` {
			key {http.token.tenant}
		}
	}
	reverse_proxy {UPSTREAM}
`, up)
	sourceErrors := metric(t, `caddy_http_token_enrich_source_lookups_total{result="error",source="tenants"} `)
	liftRefused := metric(t, `caddy_http_token_enrich_lifted_refused_total{claim="meta"} `)
	resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"api-uri":"https://eu.api.example.com"`) || strings.Contains(string(body), `"m0"`) {
		t.Fatalf("%d %.200s", resp.StatusCode, body)
	}
	if d := metric(t, `caddy_http_token_enrich_source_lookups_total{result="error",source="tenants"} `) - sourceErrors; d != 1 {
		t.Errorf("source errors counted %v, want 1", d)
	}
	if d := metric(t, `caddy_http_token_enrich_lifted_refused_total{claim="meta"} `) - liftRefused; d != 1 {
		t.Errorf("lifted claims refused counted %v, want 1", d)
	}
}
