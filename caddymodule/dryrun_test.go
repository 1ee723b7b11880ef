package caddymodule_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestDryRun: with dry_run the response reaches the client byte for byte
// as the upstream sent it, while the fields it would have got are logged
// at info level, names and values and never the token, and counted.
func TestDryRun(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, body))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	global := fmt.Sprintf("\tgrace_period 1ns\n\tlog {\n\t\toutput file %s\n\t\tformat json\n\t\tlevel INFO\n\t}", logFile)
	base := startSites(t, global, strings.ReplaceAll(`
	token_enrich {
		dry_run
		set tenant_id {http.token.tenant}
		rule acme {
			tenant org_acme
			set_json limits `+"`"+`{"rps": 100}`+"`"+`
		}
	}
	reverse_proxy {UPSTREAM}
`, "{UPSTREAM}", up.addr))[0]
	before := counter(t, "dry_run")
	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("dry_run changed the response: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Length"), got)
	}
	if after := counter(t, "dry_run"); after != before+1 {
		t.Fatalf("dry_run counted %v -> %v", before, after)
	}
	var line string
	for _, l := range ldLogLines(t, logFile) {
		if strings.Contains(l, "would be enriched (dry_run)") {
			line = l
		}
	}
	tok := body[len(`{"access_token":"`):strings.Index(body, `","scope"`)]
	for _, want := range []string{`"level":"info"`, `"added":["tenant_id","limits"]`, `"field.tenant_id":"org_acme"`,
		`"field.limits":{"rps":100}`, `"client_id":"svc-eu"`} {
		if !strings.Contains(line, want) {
			t.Errorf("dry_run log line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, tok) || strings.Contains(line, strings.Split(tok, ".")[1]) {
		t.Errorf("dry_run logged the token: %s", line)
	}
}
