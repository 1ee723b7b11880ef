// Package testcaddy loads configurations into the in-process Caddy that
// caddytest starts, for this module's tests. Each test process picks its own
// admin port, so test packages (and developers) running at the same time do
// not load configs into each other's Caddy (caddytest's default is a fixed
// 2999).
package testcaddy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// AdminPort is this process's in-process Caddy admin port, picked once.
var AdminPort = func() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}()

// FreePort finds an unused loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Load loads a Caddyfile (whose admin address must be AdminPort) into the
// in-process Caddy, starting it if needed, and stops the test on failure.
func Load(t *testing.T, caddyfile string) {
	t.Helper()
	caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: AdminPort}).InitServer(caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
}

// PostLoad posts a config of Content-Type ctype to the admin API's /load
// and returns the status and the body of the answer, which may be a refusal.
// Each call takes a fresh connection: a load restarts the admin server, and
// a kept-alive connection to the old one would fail with EOF. A load that
// Caddy refuses restarts it too, once it has answered, so the next post
// can still meet the old server closing: a post that gets no answer at all
// is sent again, a few times (a load is idempotent).
func PostLoad(t testing.TB, ctype, cfg string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://localhost:%d/load", AdminPort), strings.NewReader(cfg))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			if attempt < 5 {
				time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
				continue
			}
			t.Fatalf("posting a config, %d attempts: %v", attempt, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
}

// LoadSite loads a config with one site, http://127.0.0.1:port, holding the
// Caddyfile block, with debug logging, and returns the site's base URL.
func LoadSite(t *testing.T, port int, block string) string {
	t.Helper()
	Load(t, fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	grace_period 1ns
	skip_install_trust
	log {
		level DEBUG
	}
}
http://127.0.0.1:%d {
%s
}
`, AdminPort, port, port, block))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// EnrichBlock is the site block of the integration tests of this module and
// of the e2e module: token_enrich in front of the upstream at {UPSTREAM} (the
// caller replaces it), adding two fields for every client and a JSON member
// for organisation org_acme, the one testupstream.Auth0Body names.
const EnrichBlock = `
	token_enrich {
		set api-uri https://eu.api.example.com
		set tenant_id {http.token.tenant}
		rule acme {
			tenant org_acme
			set_json limits ` + "`" + `{"rps": 100, "burst": 20}` + "`" + `
		}
	}
	reverse_proxy {UPSTREAM}
`
