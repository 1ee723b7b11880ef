//go:build fleet

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testupstream"
)

// TestTableFIFO: the ./caddy binary with a table source whose file is
// replaced by a FIFO that no one writes. POST /load and GET /config/ answer
// within 5 s, the new config's tokens carry the last good table's members,
// and SIGTERM stops Caddy within 5 s.
func TestTableFIFO(t *testing.T) {
	bin := os.Getenv("E2E_CADDY_BIN")
	if bin == "" {
		t.Fatal("E2E_CADDY_BIN is not set: run e2e/fleet.sh, which builds ./caddy and runs this test")
	}
	dir := t.TempDir()
	table := filepath.Join(dir, "tenants.json")
	if err := os.WriteFile(table, []byte(`{"org_acme":{"region":"eu"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	up := testupstream.Start(t, testupstream.ServeJSON(200, testupstream.Auth0Body("svc-eu", "org_acme")))
	port := testcaddy.FreePort(t)
	caddyfile := func(version string) []byte {
		return []byte(fmt.Sprintf(`{
	admin 127.0.0.1:{$FLEET_ADMIN_PORT}
	grace_period 1s
	skip_install_trust
	log {
		output file {$FLEET_STATE_DIR}/caddy.log
		format json
	}
}
http://127.0.0.1:%d {
	token_enrich {
		source tenants table %s {
			key {http.token.tenant}
		}
		set config %s
	}
	reverse_proxy %s
}
`, port, table, version, up.Addr))
	}
	configPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(configPath, caddyfile("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startCaddy(t, bin, configPath, "fifo", filepath.Join(dir, "state"), port)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	token := func() map[string]any {
		t.Helper()
		resp, err := client.Post(p.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := token(); got["region"] != "eu" || got["config"] != "v1" {
		t.Fatalf("first token: %v", got)
	}

	if err := os.Remove(table); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(table, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a poll or more on the FIFO

	start := time.Now()
	resp, err := client.Post(p.admin+"/load", "text/caddyfile", strings.NewReader(string(caddyfile("v2"))))
	if err != nil {
		t.Fatalf("POST /load with the table a FIFO: %v (after %v)", err, time.Since(start))
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /load: status %d: %s", resp.StatusCode, b)
	}
	t.Logf("POST /load answered in %v", time.Since(start))
	resp, err = client.Get(p.admin + "/config/")
	if err != nil {
		t.Fatalf("GET /config/: %v", err)
	}
	resp.Body.Close()
	if got := token(); got["region"] != "eu" || got["config"] != "v2" {
		t.Errorf("a token of the new config: %v; want the last good table's region and config v2", got)
	}

	start = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		t.Logf("SIGTERM stopped Caddy in %v", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Errorf("Caddy still running 5s after SIGTERM with the table a FIFO")
	}
}
