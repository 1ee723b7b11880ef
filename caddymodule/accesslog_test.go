package caddymodule_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestAccessLogCarriesTheIdentity: with log_append, every access-log line of
// a token request carries the client and the tenant, and no token or
// secret.
func TestAccessLogCarriesTheIdentity(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, body))
	logFile := filepath.Join(t.TempDir(), "access.log")
	base := startSites(t, "\tgrace_period 1ns", strings.ReplaceAll(fmt.Sprintf(`
	log {
		output file %s
		format json
	}
	log_append client {http.token.client_id}
	log_append tenant {http.token.tenant}
	token_enrich {
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, logFile), "{UPSTREAM}", up.addr))[0]
	const secret = "s3cr3t-in-the-request"
	resp, _ := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded",
		"grant_type=client_credentials&client_id=svc-eu&client_secret="+secret, "Authorization", "Basic c3ZjLWV1OnMzY3IzdA==")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var line string
	for _, l := range ldLogLines(t, logFile) {
		if strings.Contains(l, `"msg":"handled request"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"client":"svc-eu"`) || !strings.Contains(line, `"tenant":"org_acme"`) {
		t.Fatalf("access log line lacks the identity: %s", line)
	}
	tok := body[len(`{"access_token":"`):strings.Index(body, `","scope"`)]
	for _, leak := range []string{tok, strings.Split(tok, ".")[1], secret, "c3ZjLWV1OnMzY3IzdA=="} {
		if strings.Contains(line, leak) {
			t.Errorf("access log line holds a secret (%.20s...): %s", leak, line)
		}
	}
}
