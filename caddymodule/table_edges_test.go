package caddymodule_test

import (
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestTableReplacedByFIFOThroughCaddy: with the table file replaced by a
// FIFO that no one writes, a config reload answers at once and the new
// config's tokens carry the last good table's members.
func TestTableReplacedByFIFOThroughCaddy(t *testing.T) {
	file := t.TempDir() + "/tenants.json"
	if err := os.WriteFile(file, []byte(`{"org_acme":{"region":"eu"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	port := testcaddy.FreePort(t)
	block := func(version string) string {
		return `
	token_enrich {
		source tenants table ` + file + ` {
			key {http.token.tenant}
		}
		set config ` + version + `
	}
	reverse_proxy ` + up.addr + `
`
	}
	base := testcaddy.LoadSite(t, port, block("v1"))
	token := func() map[string]any {
		t.Helper()
		_, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %s", err, body)
		}
		return got
	}
	if got := token(); got["region"] != "eu" || got["config"] != "v1" {
		t.Fatalf("first token: %v", got)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a poll or more on the FIFO
	start := time.Now()
	testcaddy.LoadSite(t, port, block("v2"))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the reload took %v with the table file a FIFO", d)
	}
	if got := token(); got["region"] != "eu" || got["config"] != "v2" {
		t.Errorf("a token of the new config: %v; want the last good table's region and config v2", got)
	}
}
