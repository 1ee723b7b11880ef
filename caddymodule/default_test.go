package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testupstream"
)

// A source's default entry stands for a tenant that has none, for a Redis
// source and an http source alike: a known tenant gets its own members, an
// unknown one the default's; the metrics count a miss for the tenant's key
// and a hit for the default.
func TestSourceDefaultEntry(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	ctx := context.Background()
	for key, plan := range map[string]string{"tenant:org_acme": "gold", "tenant:default": "free"} {
		if err := srv.Client.HSet(ctx, key, "plan", plan).Err(); err != nil {
			t.Fatal(err)
		}
	}
	origin := testupstream.Start(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/regions/org_acme":
			serveJSON(200, `{"region":"eu-west"}`)(w, r)
		case "/regions/default":
			serveJSON(200, `{"region":"us-east"}`)(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	// the upstream names the tenant the test asks for in X-Tenant
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(200, auth0Body("svc-eu", r.Header.Get("X-Tenant")))(w, r)
	})
	base := startCaddy(t, `
	token_enrich {
		source dflt_plans redis `+srv.URL(0)+` {
			key     tenant:{http.token.tenant}
			default tenant:default
			format  hash
		}
		source dflt_regions http http://`+origin.Addr+`/regions/{http.token.tenant} {
			default http://`+origin.Addr+`/regions/default
		}
	}
	reverse_proxy {UPSTREAM}
`, up)
	token := func(tenant string) map[string]any {
		t.Helper()
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Tenant", tenant)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return got
	}
	lookups := func(source, result string) float64 {
		return metric(t, fmt.Sprintf(`caddy_http_token_enrich_source_lookups_total{result=%q,source=%q} `, result, source))
	}
	if got := token("org_acme"); got["plan"] != "gold" || got["region"] != "eu-west" {
		t.Fatalf("a known tenant's token: %v", got)
	}
	for _, s := range []string{"dflt_plans", "dflt_regions"} {
		if miss, hit := lookups(s, "miss"), lookups(s, "hit"); miss != 0 || hit != 1 {
			t.Errorf("%s after a known tenant: %v misses, %v hits, want 0 and 1", s, miss, hit)
		}
	}
	if got := token("org_unknown"); got["plan"] != "free" || got["region"] != "us-east" {
		t.Fatalf("an unknown tenant's token lacks the default entries' members: %v", got)
	}
	for _, s := range []string{"dflt_plans", "dflt_regions"} {
		if miss, hit := lookups(s, "miss"), lookups(s, "hit"); miss != 1 || hit != 2 {
			t.Errorf("%s after an unknown tenant: %v misses, %v hits, want 1 and 2", s, miss, hit)
		}
	}
}

// A default with a placeholder, or one the source is never asked for (a
// redis key outside the key template's start, an http URL outside the
// source's), is refused at load, naming the value at fault (an http
// URL without its credentials).
func TestSourceDefaultRefused(t *testing.T) {
	for _, c := range []struct{ block, want string }{
		{`source t table /dev/null {
			key {http.token.tenant}
			default tenant:{http.token.client_id}
		}`, `sources[0].default: source t: default "tenant:{http.token.client_id}": the default key is looked up as written and may hold no placeholders`},
		{`source p redis redis://127.0.0.1:9/0 {
			key tenant:{http.token.tenant}
			default tenant-default
		}`, `sources[0].default: source p: default: redis source: key "tenant-default" must start with "tenant:"`},
		{`source r http http://127.0.0.1:9/regions/{http.token.tenant} {
			default http://elsewhere.example/regions/default
		}`, `sources[0].default: source r: default: http source: "http://elsewhere.example/regions/default" is not a URL of this source: it must start with "http://127.0.0.1:9/regions/"`},
		// the refused default's credentials are not echoed
		{`source r http http://127.0.0.1:9/regions/{http.token.tenant} {
			default https://svc:hunter2@elsewhere.example/regions/default?api_key=s3cret
		}`, `sources[0].default: source r: default: http source: "https://elsewhere.example/regions/default" is not a URL of this source`},
	} {
		cfg := fmt.Sprintf("{\n\tadmin localhost:%d\n}\n:%d {\n\ttoken_enrich {\n\t\t%s\n\t}\n\trespond ok\n}\n", testcaddy.AdminPort, testcaddy.FreePort(t), c.block)
		code, body := testcaddy.PostLoad(t, "text/caddyfile", cfg)
		if code != 400 || !strings.Contains(body, strings.ReplaceAll(c.want, `"`, `\"`)) {
			t.Errorf("status %d: %s\nwant 400 with %s", code, body, c.want)
		}
		if strings.Contains(body, "hunter2") || strings.Contains(body, "s3cret") {
			t.Errorf("the error echoes a credential of the default: %s", body)
		}
	}
}
