package caddymodule_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// memSource is a source for fault injection: fixed entries, an optional
// delay that ignores the context (a badly written source), an optional
// error. Real sources (table, http) have their own tests against real
// files and servers.
type memSource struct {
	Entries map[string]json.RawMessage `json:"entries,omitempty"`
	Delay   caddy.Duration             `json:"delay,omitempty"`
	Fail    bool                       `json:"fail,omitempty"`
}

var memLookups atomic.Int64

func init() { caddy.RegisterModule(memSource{}) }

func (memSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: sources.Namespace + ".mem", New: func() caddy.Module { return new(memSource) }}
}

func (m *memSource) Lookup(_ context.Context, key string) (sources.Result, error) {
	memLookups.Add(1)
	time.Sleep(time.Duration(m.Delay))
	if m.Fail {
		return sources.Result{}, errors.New("injected failure")
	}
	return sources.Result{Object: m.Entries[key]}, nil
}

// UnmarshalCaddyfile: mem [{ entry <key> <json> | delay <d> | fail }]
func (m *memSource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	for d.NextBlock(0) {
		switch d.Val() {
		case "entry":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			if m.Entries == nil {
				m.Entries = map[string]json.RawMessage{}
			}
			m.Entries[args[0]] = json.RawMessage(args[1])
		case "delay":
			d.NextArg()
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Err(err.Error())
			}
			m.Delay = caddy.Duration(dur)
		case "fail":
			m.Fail = true
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
	}
	return nil
}

var (
	_ sources.Source        = (*memSource)(nil)
	_ caddyfile.Unmarshaler = (*memSource)(nil)
)

const sourcesBlock = `
	token_enrich {
		set api-uri https://default.api.example.com
		source tenants mem {
			key {http.token.tenant}
			entry org_acme ` + "`" + `{"api-uri":"https://acme.api.example.com","region":"eu","Access_Token":"evil"}` + "`" + `
		}
		source cells mem {
			key cell-{http.token.client_id}
			fields none
			entry cell-svc-eu ` + "`" + `{"cell":"c7","secret":"not a field"}` + "`" + `
		}
		set cell {http.token.source.cells.cell}
		rule gold {
			tenant org_acme
			source plans mem {
				key {http.token.tenant}
				entry org_acme ` + "`" + `{"limits":{"rps":1000}}` + "`" + `
			}
		}
	}
	reverse_proxy {UPSTREAM}
`

// TestSourcesThroughCaddy: a source's members are added where it stands,
// a later field wins, a source with fields none feeds placeholders only,
// a source in a rule runs only for the rule's tokens, and the standard
// members are never written whatever a source returns.
func TestSourcesThroughCaddy(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(200, auth0Body("svc-eu", r.Header.Get("X-Org")))(w, r)
	})
	base := startCaddy(t, sourcesBlock+`
	header >X-Cell {http.token.source.cells.cell}
`, up)
	for org, want := range map[string]map[string]any{
		"org_acme":  {"api-uri": "https://acme.api.example.com", "region": "eu", "cell": "c7", "limits": map[string]any{"rps": float64(1000)}},
		"org_other": {"api-uri": "https://default.api.example.com", "region": nil, "cell": "c7", "limits": nil},
	} {
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Org", org)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v %s", org, resp.StatusCode, err, body)
		}
		for k, v := range want {
			if g, _ := json.Marshal(got[k]); string(g) != mustJSON(v) {
				t.Errorf("%s: %s = %s, want %s", org, k, g, mustJSON(v))
			}
		}
		if _, ok := got["secret"]; ok {
			t.Errorf("%s: a fields-none source added a member: %s", org, body)
		}
		if _, ok := got["Access_Token"]; ok || !strings.HasPrefix(got["access_token"].(string), "eyJ") {
			t.Errorf("%s: standard member from a source: %s", org, body)
		}
		if resp.Header.Get("X-Cell") != "c7" {
			t.Errorf("%s: X-Cell %q", org, resp.Header.Get("X-Cell"))
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSourcesNeverHoldUpATokenPastTheirTimeout: a source that is slow
// (ignoring its context) or failing leaves its fields out; the token
// response arrives within the timeout and a small margin, with the other
// fields.
func TestSourcesNeverHoldUpATokenPastTheirTimeout(t *testing.T) {
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	const timeout = 200 * time.Millisecond
	base := startCaddy(t, `
	token_enrich {
		set api-uri https://default.api.example.com
		source slow mem {
			key {http.token.tenant}
			timeout 200ms
			delay 3s
			entry org_acme `+"`"+`{"region":"slow"}`+"`"+`
		}
		source broken mem {
			key {http.token.tenant}
			fail
		}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
	// the upstream and Caddy alone, for the margin
	for i := 0; i < 3; i++ {
		start := time.Now()
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		elapsed := time.Since(start)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got["tenant_id"] != "org_acme" ||
			got["api-uri"] != "https://default.api.example.com" || got["region"] != nil {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if elapsed > timeout+time.Second {
			t.Fatalf("the token took %v with a source timeout of %v", elapsed, timeout)
		}
		if elapsed < timeout {
			t.Fatalf("the token took %v: the slow source was not waited for up to its timeout", elapsed)
		}
	}
}

// TestSourcesAdapt: `caddy adapt` shows the sources, the module config in
// their lookup, and where each stands; errors name the line. (The adapter
// re-encodes module configs through maps: members come out sorted.)
func TestSourcesAdapt(t *testing.T) {
	cf := ":8080 {\n" + strings.ReplaceAll(sourcesBlock, "{UPSTREAM}", "127.0.0.1:9") + "}\n"
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"sources":[{"key":"{http.token.tenant}","lookup":{"entries":{"org_acme":{"Access_Token":"evil","api-uri":"https://acme.api.example.com","region":"eu"}},"source":"mem"},"name":"tenants"}`,
		`{"fields":"none","key":"cell-{http.token.client_id}","lookup":{"entries":{"cell-svc-eu":{"cell":"c7","secret":"not a field"}},"source":"mem"},"name":"cells"}`,
		`"source":"mem"`,
		`"fields":[{"name":"api-uri","value":"https://default.api.example.com"},{"source":"tenants"},{"source":"cells"},{"name":"cell","value":"{http.token.source.cells.cell}"}]`,
		`"fields":[{"source":"plans"}]`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s\n%s", want, out)
		}
	}
	for bad, want := range map[string]string{
		"source":                                   "source: expected <name> <module>",
		"source a":                                 "source: expected <name> <module>",
		"source a nosuch":                          "nosuch",
		"source a mem {\n\t\t\tbogus 1\n\t\t}":     "unrecognized subdirective: bogus",
		"source a mem {\n\t\t\ttimeout x\n\t\t}":   `timeout: "x" is not a duration`,
		"source a mem {\n\t\t\tfields some\n\t\t}": "fields: expected all or none",
	} {
		cf := ":8080 {\n\ttoken_enrich {\n\t\t" + bad + "\n\t}\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: %v, want %q with the file and line", bad, err, want)
		}
	}
}

// TestTableSourceThroughCaddy: the table source's file, rewritten while
// Caddy runs, reaches the next tokens within 2 s, without a reload; a
// broken rewrite leaves the last good values in use.
func TestTableSourceThroughCaddy(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/tenants.json"
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"org_acme":{"api-uri":"https://v1.example.com","region":"eu"},"*":{"api-uri":"https://default.example.com"}}`)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(200, auth0Body("svc-eu", r.Header.Get("X-Org")))(w, r)
	})
	base := startCaddy(t, `
	token_enrich {
		source tenants table `+file+` {
			key {http.token.tenant}
		}
	}
	reverse_proxy {UPSTREAM}
`, up)
	get := func(org string) map[string]any {
		_, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Org", org)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %s", err, body)
		}
		return got
	}
	if got := get("org_acme"); got["api-uri"] != "https://v1.example.com" || got["region"] != "eu" {
		t.Fatalf("first: %v", got)
	}
	if got := get("org_other"); got["api-uri"] != "https://default.example.com" {
		t.Fatalf("default entry: %v", got)
	}
	write(`{"org_acme":{"api-uri":"https://v2.example.com"}}`)
	deadline := time.Now().Add(2 * time.Second)
	for get("org_acme")["api-uri"] != "https://v2.example.com" {
		if time.Now().After(deadline) {
			t.Fatal("the rewritten file was not in use within 2 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	write(`{"org_acme":{"api-uri":"https://v3.exa`)
	time.Sleep(2500 * time.Millisecond)
	if got := get("org_acme"); got["api-uri"] != "https://v2.example.com" {
		t.Fatalf("after a torn rewrite: %v", got)
	}
}

// TestHTTPSourceThroughCaddy: the http source GETs its URL with the
// tenant escaped into the path, its members reach the response and the
// placeholders, a cached answer is reused, and a service that is slow or
// down costs the token its fields, never the token itself or more than the
// timeout.
func TestHTTPSourceThroughCaddy(t *testing.T) {
	var calls atomic.Int64
	var mode atomic.Value
	mode.Store("ok")
	svc := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch mode.Load() {
		case "slow":
			time.Sleep(2 * time.Second)
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.EscapedPath() != "/v1/tenants/org%2Facme" || r.Header.Get("Authorization") != "Bearer cells-secret" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"api_base":"https://cell7.example.com","cell":"c7"}`))
	})
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org/acme")))
	t.Setenv("CELLS_TOKEN", "cells-secret")
	base := startCaddy(t, `
	token_enrich {
		source cells http http://`+svc.addr+`/v1/tenants/{http.token.tenant} {
			timeout   200ms
			cache_ttl 1s
			header    Authorization "Bearer {env.CELLS_TOKEN}"
			fields    none
		}
		set api-uri {http.token.source.cells.api_base}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}
`, up)
	get := func() (map[string]any, time.Duration) {
		start := time.Now()
		resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got["tenant_id"] != "org/acme" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return got, time.Since(start)
	}
	if got, _ := get(); got["api-uri"] != "https://cell7.example.com" || got["cell"] != nil {
		t.Fatalf("first: %v", got)
	}
	if got, _ := get(); got["api-uri"] != "https://cell7.example.com" || calls.Load() != 1 {
		t.Fatalf("cached: %v, %d calls", got, calls.Load())
	}
	time.Sleep(1100 * time.Millisecond) // past cache_ttl
	for _, m := range []string{"slow", "down"} {
		mode.Store(m)
		got, took := get()
		if got["api-uri"] != nil || took > 200*time.Millisecond+time.Second {
			t.Fatalf("service %s: %v in %v", m, got, took)
		}
		time.Sleep(1100 * time.Millisecond)
	}
}

// A reload that keeps an http source's configuration keeps its cache: after
// it, while the service fails, tokens still get the cached answer, and with
// the service up it is not asked again before cache_ttl.
func TestHTTPSourceCacheOutlivesAReload(t *testing.T) {
	var calls atomic.Int64
	var down atomic.Bool
	svc := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"cell":"c7"}`))
	})
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	port := testcaddy.FreePort(t)
	site := func(gen int) string {
		return strings.ReplaceAll(fmt.Sprintf(`
	token_enrich {
		set gen %d
		source cells http http://%s/v1/tenants/{http.token.tenant} {
			cache_ttl 10m
			max_stale 1h
		}
	}
	reverse_proxy {UPSTREAM}
`, gen, svc.addr), "{UPSTREAM}", up.addr)
	}
	base := testcaddy.LoadSite(t, port, site(1))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"1","cell":"c7"`) {
		t.Fatalf("first config: %s", body)
	}
	base = testcaddy.LoadSite(t, port, site(2))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"2","cell":"c7"`) {
		t.Fatalf("reloaded: %s", body)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the service was asked %d times, want 1: the reload dropped the cache", n)
	}
	down.Store(true)
	base = testcaddy.LoadSite(t, port, site(3))
	if body := tokenBody(t, base); !strings.Contains(body, `"gen":"3","cell":"c7"`) {
		t.Fatalf("reloaded with the service down: %s, want the cached answer", body)
	}
}
