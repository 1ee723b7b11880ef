package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
)

// TestRedisSourceThroughCaddy: a token request through Caddy carries the
// members of the tenant's hash in Redis, and an HSET from another client
// changes the next tokens within a second, with cache_ttl at ten minutes.
func TestRedisSourceThroughCaddy(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	ctx := context.Background()
	if err := srv.Client.HSet(ctx, "tenant:org_acme", "plan", "gold", "cell", "c7").Err(); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, `
	token_enrich {
		source tenants redis `+srv.URL(0)+` {
			key       tenant:{http.token.tenant}
			format    hash
			timeout   200ms
			cache_ttl 10m
			max_stale 24h
		}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
	token := func() map[string]any {
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got["tenant_id"] != "org_acme" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return got
	}
	if got := token(); got["plan"] != "gold" || got["cell"] != "c7" {
		t.Fatalf("first token: %v", got)
	}
	if err := srv.Client.HSet(ctx, "tenant:org_acme", "plan", "platinum").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		got := token()
		if got["plan"] == "platinum" && got["cell"] == "c7" {
			t.Logf("the HSET reached the token after %v", time.Since(start))
			break
		}
		if got["plan"] != "gold" {
			t.Fatalf("token during the change: %v", got)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("the HSET did not reach the token within 1s: %v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The source's own counters are in Caddy's registry, labelled with its name.
	invalidations := false
	for _, line := range scrape(t) {
		if strings.HasPrefix(line, `caddy_http_token_enrich_source_redis_invalidations_total{source="tenants"} `) &&
			!strings.HasSuffix(line, " 0") {
			invalidations = true
		}
	}
	if !invalidations {
		t.Error("/metrics does not count the invalidation of the tenants source")
	}
}

// TestRedisSourceReloadsCloseTheirConnections: each config reload replaces
// the redis source's connections instead of adding to them, and a config
// without the source leaves none open.
func TestRedisSourceReloadsCloseTheirConnections(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	if err := srv.Client.Set(context.Background(), "tenant:org_acme", `{"plan":"gold"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	baseClients := srv.ClientCount(t)
	port := testcaddy.FreePort(t)
	for i := 1; i <= 4; i++ {
		base := testcaddy.LoadSite(t, port, strings.ReplaceAll(fmt.Sprintf(`
	token_enrich {
		source tenants redis %s {
			key       tenant:{http.token.tenant}
			cache_ttl %dm
		}
	}
	reverse_proxy {UPSTREAM}
`, srv.URL(0), i), "{UPSTREAM}", up.addr))
		if body := tokenBody(t, base); !strings.Contains(body, `"plan":"gold"`) {
			t.Fatalf("load %d: %s", i, body)
		}
		// One source: its subscriber and one or two command connections.
		var n int
		deadline := time.Now().Add(5 * time.Second)
		for n = srv.ClientCount(t); n > baseClients+3; n = srv.ClientCount(t) {
			if time.Now().After(deadline) {
				t.Fatalf("load %d: %d client connections, want at most %d: a replaced config left its connections open", i, n, baseClients+3)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	testcaddy.LoadSite(t, port, strings.ReplaceAll(testcaddy.EnrichBlock, "{UPSTREAM}", up.addr))
	deadline := time.Now().Add(5 * time.Second)
	for n := srv.ClientCount(t); n != baseClients; n = srv.ClientCount(t) {
		if time.Now().After(deadline) {
			t.Fatalf("%d client connections with no redis source configured, want %d", n, baseClients)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reload that keeps the source's configuration keeps its cache and its
// connections: after it, while Redis is down, tokens still get the cached
// metadata, and with Redis up no new connection is opened.
func TestRedisSourceCacheOutlivesAReload(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	if err := srv.Client.Set(context.Background(), "tenant:org_acme", `{"plan":"gold"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	port := testcaddy.FreePort(t)
	site := func(gen int) string {
		return strings.ReplaceAll(fmt.Sprintf(`
	token_enrich {
		set gen %d
		source tenants redis %s {
			key       tenant:{http.token.tenant}
			cache_ttl 10m
			max_stale 1h
		}
	}
	reverse_proxy {UPSTREAM}
`, gen, srv.URL(0)), "{UPSTREAM}", up.addr)
	}
	base := testcaddy.LoadSite(t, port, site(1))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"1","plan":"gold"`) {
		t.Fatalf("first config: %s", body)
	}
	// the source connects its subscription in the background: count once
	// the connections have settled
	clients := settledClientCount(t, srv)
	base = testcaddy.LoadSite(t, port, site(2))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"2","plan":"gold"`) {
		t.Fatalf("reloaded with Redis up: %s", body)
	}
	if n := settledClientCount(t, srv); n != clients {
		t.Fatalf("%d client connections after the reload, %d before: the reload did not keep the source's", n, clients)
	}

	srv.Stop()
	base = testcaddy.LoadSite(t, port, site(3))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"3","plan":"gold"`) {
		t.Fatalf("reloaded with Redis down: %s, want the cached metadata", body)
	}
}

// settledClientCount is srv's count of client connections once it has not
// changed for 300ms (at most 5 s).
func settledClientCount(t *testing.T, srv *testredis.Server) int {
	t.Helper()
	n, since := srv.ClientCount(t), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Since(since) < 300*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if m := srv.ClientCount(t); m != n {
			n, since = m, time.Now()
		}
	}
	return n
}
