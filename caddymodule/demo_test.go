package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestDemoCaddyfile runs the README's demo (the top-level Caddyfile) on free
// ports and makes the README's curl request, so the demo cannot rot.
func TestDemoCaddyfile(t *testing.T) {
	src, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	proxy, idp := testcaddy.FreePort(t), testcaddy.FreePort(t)
	cfg := strings.NewReplacer(
		"http_port 8080", fmt.Sprintf("http_port %d", proxy),
		"admin localhost:2019", fmt.Sprintf("admin localhost:%d", testcaddy.AdminPort),
		":8080 {", fmt.Sprintf(":%d {", proxy),
		":8081 {", fmt.Sprintf(":%d {", idp),
		"127.0.0.1:8081", fmt.Sprintf("127.0.0.1:%d", idp),
		"examples/tenants.json", "../examples/tenants.json",
	).Replace(string(src))
	caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: testcaddy.AdminPort}).InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", proxy)
	get := func(user string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token",
			strings.NewReader("grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com%2F"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, "demo-secret")
		resp, b := testhttp.Do(t, req)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: status %d, %v", user, resp.StatusCode, err)
		}
		return m
	}
	eu := get("eu-client")
	if eu["tenant_id"] != "org_acme" || eu["api-uri"] != "https://eu.api.example.com" || eu["token_type"] != "Bearer" ||
		eu["region"] != "eu-west-1" || eu["plan"] != "enterprise" {
		t.Fatalf("eu: %v", eu)
	}
	if limits, _ := eu["limits"].(map[string]any); limits["rps"] != float64(100) {
		t.Fatalf("eu limits: %v", eu["limits"])
	}
	us := get("us-client")
	if us["tenant_id"] != "org_globex" || us["api-uri"] != "https://us.api.example.com" || us["limits"] != nil ||
		us["region"] != "us-east-1" || us["plan"] != "team" {
		t.Fatalf("us: %v", us)
	}
	// a wrong secret: the stand-in IdP's error passes through unchanged
	resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"Authorization", "Basic ZXUtY2xpZW50Ondyb25n")
	if resp.StatusCode != 401 || string(body) != `{"error":"access_denied","error_description":"Unauthorized"}` {
		t.Fatalf("bad secret: %d %s", resp.StatusCode, body)
	}
}

// TestDemoCaddyfileListensOnLoopbackOnly: the README's demo adapts without
// warnings, and every server it defines (the enriching proxy and the
// stand-in IdP) listens on the loopback interface only.
func TestDemoCaddyfileListensOnLoopbackOnly(t *testing.T) {
	src, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, warnings, err := testcaddy.AdaptCaddyfile(src, "Caddyfile")
	if err != nil || len(warnings) != 0 {
		t.Fatalf("adapt: %v %q", err, warnings)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string `json:"listen"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	var listen []string
	for _, srv := range cfg.Apps.HTTP.Servers {
		listen = append(listen, srv.Listen...)
	}
	if len(cfg.Apps.HTTP.Servers) != 2 || len(listen) != 2 {
		t.Fatalf("want 2 servers with one address each, got %s", out)
	}
	for _, addr := range listen {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listens on %s, want 127.0.0.1 only", addr)
		}
	}
}
