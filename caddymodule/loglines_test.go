package caddymodule_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// maxLogLine bounds a log line of the handler and its sources, whatever
// the token holds: every value from a token, a key, a URL or a source's
// answer is cut at 256 bytes.
const maxLogLine = 4 << 10

// TestHugeTenantLogLinesBounded: a token whose tenant is 4 MB, looked up
// in an http source that fails, yields log lines of a bounded size, at
// debug level too.
func TestHugeTenantLogLinesBounded(t *testing.T) {
	tenant := "org_" + strings.Repeat("x", 4<<20)
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(service.Close)
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", tenant)))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := testcaddy.FreePort(t)
	testcaddy.Load(t, fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	grace_period 1ns
	skip_install_trust
	log {
		output file %s
		format json
		level DEBUG
	}
}
http://127.0.0.1:%d {
	token_enrich {
		max_body 16MiB
		source cells http %s/v1/tenants/{http.token.tenant} {
			max_stale 1m
		}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy %s
}
`, testcaddy.AdminPort, port, logFile, port, service.URL, up.addr))
	resp, body := testhttp.Post(t, fmt.Sprintf("http://127.0.0.1:%d/oauth/token", port), "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"tenant_id":"org_xxx`) {
		t.Fatalf("status %d: %.200s", resp.StatusCode, body)
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	lines, sourceLines := 0, 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		if strings.Contains(line, "source") {
			sourceLines++
		}
		if len(line) > maxLogLine {
			t.Errorf("a log line of %d bytes: %.300s", len(line), line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if sourceLines == 0 {
		t.Errorf("no log line of the failed source among %d", lines)
	}
}
