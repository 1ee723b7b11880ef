package httpsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func TestLookupReturnsTheObjectAndSendsNothingElse(t *testing.T) {
	o := newOrigin(t, answer(`{"cell":"eu-1","plan":"gold"}`))
	s := tenantSource(t, o.URL, nil, nil)
	r := mustLookup(t, s, "acme")
	if string(r.Object) != `{"cell":"eu-1","plan":"gold"}` || r.Stale {
		t.Fatalf("got %q stale=%v", r.Object, r.Stale)
	}
	req := o.lastRequest()
	if req.Method != http.MethodGet || req.URL.Path != "/v1/tenants/acme" {
		t.Errorf("request %s %s, want GET /v1/tenants/acme", req.Method, req.URL.Path)
	}
	if got := req.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
		if v, ok := req.Header[h]; ok {
			t.Errorf("the service saw %s: %q with no credentials configured", h, v)
		}
	}
}

func TestRenderKeyEscapesEachValueForItsPlace(t *testing.T) {
	o := newOrigin(t, answer(`{}`))
	s := provision(t, &Source{URL: o.URL + "/v1/tenants/{http.token.tenant}/cells?client={http.token.client}&v=1"}, nil)
	repl := caddy.NewReplacer()
	repl.Set("http.token.tenant", "a/b c")
	repl.Set("http.token.client", "x&y=z w")
	key, ok := s.RenderKey(repl)
	want := o.URL + "/v1/tenants/a%2Fb%20c/cells?client=x%26y%3Dz+w&v=1"
	if !ok || key != want {
		t.Fatalf("RenderKey = %q, %v; want %q", key, ok, want)
	}
	if _, err := s.Lookup(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	req := o.lastRequest()
	if req.URL.EscapedPath() != "/v1/tenants/a%2Fb%20c/cells" {
		t.Errorf("service saw path %q", req.URL.EscapedPath())
	}
	if q := req.URL.Query(); q.Get("client") != "x&y=z w" || q.Get("v") != "1" || len(q) != 2 {
		t.Errorf("service saw query %v", q)
	}
}

func TestRenderKeyRefusesEmptyAndUnsafeValues(t *testing.T) {
	s := provision(t, &Source{URL: "https://cells.internal/v1/{http.token.region}/{http.token.tenant}"}, nil)
	for _, tc := range []struct {
		region, tenant string
		ok             bool
		want           string
	}{
		{"eu", "acme", true, "https://cells.internal/v1/eu/acme"},
		{"eu-1", "acme", true, "https://cells.internal/v1/eu-1/acme"},
		{"eu", "", false, ""},
		{"", "acme", false, ""},
		{"evil.example/x?", "acme", true, "https://cells.internal/v1/evil.example%2Fx%3F/acme"},
		{"eu", "..", false, ""},
		{"eu", ".", false, ""},
		{"eu", "...", true, "https://cells.internal/v1/eu/..."},
	} {
		repl := caddy.NewReplacer()
		if tc.region != "" {
			repl.Set("http.token.region", tc.region)
		}
		repl.Set("http.token.tenant", tc.tenant)
		key, ok := s.RenderKey(repl)
		if ok != tc.ok || key != tc.want {
			t.Errorf("region %q tenant %q: RenderKey = %q, %v; want %q, %v", tc.region, tc.tenant, key, ok, tc.want, tc.ok)
		}
	}
	// An unknown placeholder renders empty.
	if key, ok := s.RenderKey(caddy.NewReplacer()); ok {
		t.Errorf("no values: RenderKey = %q, true", key)
	}
}

// TestHostIsChosenAtLoad: a placeholder of the request in the host or port
// is a config error, since it would choose where the credentials go; one
// known at load is rendered then.
func TestHostIsChosenAtLoad(t *testing.T) {
	for _, u := range []string{
		"https://{http.token.region}.cells.internal/v1/{http.token.tenant}",
		"https://cells.internal:{http.token.port}/v1/{http.token.tenant}",
		"https://{http.request.header.X-Host}/v1",
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		s := &Source{URL: u}
		err := s.Provision(ctx)
		if err == nil {
			_ = s.Cleanup()
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), "the host and port must not hold a placeholder of the request") ||
			!strings.Contains(err.Error(), "put placeholders in the path or the query") {
			t.Errorf("%s: Provision error = %v", u, err)
		}
	}
	t.Setenv("CELLS_HOST", "eu.cells.internal:8443")
	s := provision(t, &Source{URL: "https://{env.CELLS_HOST}/v1/{http.token.tenant}"}, nil)
	repl := caddy.NewReplacer()
	repl.Set("http.token.tenant", "acme")
	if key, ok := s.RenderKey(repl); !ok || key != "https://eu.cells.internal:8443/v1/acme" {
		t.Errorf("RenderKey = %q, %v", key, ok)
	}
}

func TestLookupRefusesAKeyOutsideTheTemplate(t *testing.T) {
	o := newOrigin(t, answer(`{}`))
	s := tenantSource(t, o.URL, nil, nil)
	if _, err := s.Lookup(context.Background(), "http://198.51.100.1/v1/tenants/acme"); err == nil {
		t.Fatal("Lookup of a foreign URL succeeded")
	}
	if n := o.hits.Load(); n != 0 {
		t.Fatalf("the service saw %d requests", n)
	}
}

// A slow service: Lookup returns at the caller's deadline, and the answer,
// when it comes, fills the cache for the lookups after it.
func TestSlowServiceLookupReturnsByDeadline(t *testing.T) {
	const delay = 1500 * time.Millisecond
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		answer(`{"slow":true}`)(w, r)
	})
	s := tenantSource(t, o.URL, nil, func(s *Source) { s.FetchTimeout = caddy.Duration(5 * time.Second) })
	start := time.Now()
	_, err := lookup(t, s, "acme") // 300ms
	if elapsed := time.Since(start); elapsed > 300*time.Millisecond+500*time.Millisecond {
		t.Errorf("Lookup returned after %v, deadline 300ms", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	eventually(t, "the slow answer to be cached", func() bool {
		r, err := lookup(t, s, "acme")
		return err == nil && string(r.Object) == `{"slow":true}`
	})
	if n := o.hits.Load(); n != 1 {
		t.Fatalf("the service saw %d requests, want 1", n)
	}
}

func TestFailuresAreErrors(t *testing.T) {
	reset := func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with a RST
		}
		_ = c.Close()
	}
	status := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}
	}
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	}
	deep := `{"a":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`
	for _, tc := range []struct {
		name      string
		h         http.HandlerFunc
		notObject bool
	}{
		{"500", status(500, `{"error":"boom"}`), false},
		{"503", status(503, ``), false},
		{"401", status(401, `{}`), false},
		{"204", status(204, ``), false},
		{"redirect", redirect, false},
		{"reset", reset, false},
		{"garbage", answer(`<html>oops</html>`), true},
		{"truncated", answer(`{"cell":"eu`), true},
		{"empty", answer(``), true},
		{"array", answer(`[{"cell":"eu"}]`), true},
		{"string", answer(`"eu-1"`), true},
		{"number", answer(`42`), true},
		{"null", answer(`null`), true},
		{"two values", answer(`{} {}`), true},
		{"not UTF-8", answer("{\"cell\":\"\xff\"}"), true},
		{"too deep", answer(deep), true},
		{"a million brackets", answer(`{"a":` + strings.Repeat("[", 1<<20-10)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, tc.h)
			s := tenantSource(t, o.URL, nil, func(s *Source) {
				s.MaxSize = 2 << 20
				s.FetchTimeout = caddy.Duration(10 * time.Second)
			})
			// The timeout is not what this test is about: a generous one
			// keeps a loaded machine from turning a failure into a timeout.
			r, err := lookupWithin(t, s, "acme", 10*time.Second)
			if err == nil {
				t.Fatalf("no error; got %q", r.Object)
			}
			if errors.Is(err, sources.ErrNotObject) != tc.notObject {
				t.Errorf("err = %v; wraps ErrNotObject: %v, want %v", err, !tc.notObject, tc.notObject)
			}
			if r.Object != nil {
				t.Errorf("an error came with an object: %q", r.Object)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		s := tenantSource(t, "http://"+addr, nil, nil)
		if _, err := lookup(t, s, "acme"); err == nil {
			t.Fatal("no error from a service that is down")
		}
	})
}

// An error names the host and path, never the query, which may carry a
// credential.
func TestErrorsDoNotSpellTheQuery(t *testing.T) {
	t.Setenv("CELLS_KEY", "k-123-secret")
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	s := provision(t, &Source{URL: o.URL + "/v1/{http.token.tenant}?api_key={env.CELLS_KEY}"}, nil)
	_, err := lookup(t, s, "acme")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "/v1/acme") {
		t.Fatalf("err = %v", err)
	}
	if got := o.lastRequest().URL.Query().Get("api_key"); got != "k-123-secret" {
		t.Fatalf("service saw api_key %q", got)
	}
}

// A body of 50 MB is refused after max_size bytes, with or without a
// Content-Length, and never held in memory.
func TestLargeBodyIsRefusedUnread(t *testing.T) {
	const total = 50 << 20
	chunk := bytes.Repeat([]byte(" "), 64<<10)
	for _, withLength := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", withLength), func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
				if withLength {
					w.Header().Set("Content-Length", fmt.Sprint(total))
				}
				_, _ = w.Write([]byte(`{"a":"`))
				for sent := 6; sent < total; sent += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
			s := tenantSource(t, o.URL, nil, nil)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := lookup(t, s, "acme")
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "max_size") {
				t.Fatalf("err = %v, want a max_size error", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 5<<20 {
				t.Fatalf("allocated %d bytes reading a 50 MB body with max_size 1 MiB", grew)
			}
			if testing.Verbose() {
				t.Logf("allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
			}
		})
	}
}

func TestConcurrentLookupsOfAColdKeyMakeOneRequest(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		answer(`{"cell":"eu-1"}`)(w, r)
	})
	s := tenantSource(t, o.URL, nil, nil)
	key, _ := s.RenderKey(replWith("acme"))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := s.Lookup(ctx, key)
			if err == nil && string(r.Object) != `{"cell":"eu-1"}` {
				err = fmt.Errorf("got %q", r.Object)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := o.hits.Load(); n != 1 {
		t.Fatalf("the service saw %d requests for 50 concurrent lookups, want 1", n)
	}
}

func TestCacheExpiry(t *testing.T) {
	clk := testclock.New()
	o := newOrigin(t, answer(`{"v":1}`))
	s := tenantSource(t, o.URL, clk, func(s *Source) { s.CacheTTL = caddy.Duration(time.Minute) })
	mustLookup(t, s, "acme")
	mustLookup(t, s, "globex")
	clk.Advance(59 * time.Second)
	mustLookup(t, s, "acme")
	if n := o.hits.Load(); n != 2 {
		t.Fatalf("hits = %d within cache_ttl, want 2", n)
	}
	o.set(answer(`{"v":2}`))
	clk.Advance(2 * time.Second)
	// max_stale 0: past cache_ttl the lookup waits for the service.
	if r := mustLookup(t, s, "acme"); string(r.Object) != `{"v":2}` || r.Stale {
		t.Fatalf("after cache_ttl: %q stale=%v", r.Object, r.Stale)
	}
	if n := o.hits.Load(); n != 3 {
		t.Fatalf("hits = %d, want 3", n)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	clk := testclock.New()
	o := newOrigin(t, answer(`{"v":1}`))
	s := tenantSource(t, o.URL, clk, func(s *Source) {
		s.CacheTTL = caddy.Duration(time.Minute)
		s.MaxStale = caddy.Duration(time.Hour)
	})
	mustLookup(t, s, "acme")
	release := make(chan struct{})
	o.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		answer(`{"v":2}`)(w, r)
	})
	clk.Advance(2 * time.Minute)
	// While the refresh hangs, every lookup gets the stale answer at once.
	for range 20 {
		if r := mustLookup(t, s, "acme"); string(r.Object) != `{"v":1}` || r.Stale {
			t.Fatalf("during the refresh: %q stale=%v, want v1 not marked stale", r.Object, r.Stale)
		}
	}
	eventually(t, "the background refresh", func() bool { return o.hits.Load() == 2 })
	close(release)
	eventually(t, "the refreshed answer", func() bool {
		return string(mustLookup(t, s, "acme").Object) == `{"v":2}`
	})
	if n := o.hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2: one background refresh for 20 stale lookups", n)
	}
}

func TestStaleIfError(t *testing.T) {
	for _, failure := range []string{"500", "down"} {
		t.Run(failure, func(t *testing.T) {
			clk := testclock.New()
			o := newOrigin(t, answer(`{"v":1}`))
			s := tenantSource(t, o.URL, clk, func(s *Source) {
				s.CacheTTL = caddy.Duration(time.Minute)
				s.MaxStale = caddy.Duration(time.Hour)
			})
			mustLookup(t, s, "acme")
			if failure == "down" {
				o.Close()
			} else {
				o.set(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
			}
			clk.Advance(2 * time.Minute)
			if r := mustLookup(t, s, "acme"); string(r.Object) != `{"v":1}` {
				t.Fatalf("stale lookup: %q", r.Object)
			}
			eventually(t, "a lookup marked stale after the failed refresh", func() bool {
				r := mustLookup(t, s, "acme")
				return string(r.Object) == `{"v":1}` && r.Stale
			})
			if failure == "500" {
				if n := o.hits.Load(); n != 2 {
					t.Fatalf("hits = %d, want 2", n)
				}
				// The failed key is retried once per RetryInterval.
				for range 10 {
					mustLookup(t, s, "acme")
				}
				if n := o.hits.Load(); n != 2 {
					t.Fatalf("hits = %d within RetryInterval of the failure, want 2", n)
				}
				// A lookup starts the retry; the failed refresh before it
				// may still be finishing, so look up until one does.
				clk.Advance(cache.RetryInterval)
				eventually(t, "the retry", func() bool {
					mustLookup(t, s, "acme")
					return o.hits.Load() == 3
				})
			}
			// Past cache_ttl + max_stale, the error is the answer.
			clk.Advance(time.Hour)
			if r, err := lookup(t, s, "acme"); err == nil {
				t.Fatalf("past max_stale: %q stale=%v, want an error", r.Object, r.Stale)
			}
		})
	}
}

func TestNotFoundIsACachedMiss(t *testing.T) {
	clk := testclock.New()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/ghost") {
			http.NotFound(w, r)
			return
		}
		answer(`{"v":1}`)(w, r)
	})
	s := tenantSource(t, o.URL, clk, func(s *Source) {
		s.MaxStale = caddy.Duration(time.Hour)
		s.NegativeTTL = caddy.Duration(10 * time.Second)
	})
	for range 3 {
		if r := mustLookup(t, s, "ghost"); r.Object != nil || r.Stale {
			t.Fatalf("404: %q stale=%v, want a miss", r.Object, r.Stale)
		}
	}
	if n := o.hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}
	clk.Advance(11 * time.Second)
	if r := mustLookup(t, s, "ghost"); r.Object != nil {
		t.Fatalf("404 again: %q", r.Object)
	}
	if n := o.hits.Load(); n != 2 {
		t.Fatalf("hits = %d after negative_ttl, want 2", n)
	}
}

func TestHeaderAuthentication(t *testing.T) {
	t.Setenv("CELLS_TOKEN", "tok-from-env")
	t.Setenv("CELLS_KEY", "key-from-env")
	o := newOrigin(t, answer(`{}`))
	s := tenantSource(t, o.URL, nil, func(s *Source) {
		s.Headers = map[string]string{
			"Authorization": "Bearer {env.CELLS_TOKEN}",
			"x-api-key":     "{env.CELLS_KEY}",
		}
	})
	mustLookup(t, s, "acme")
	h := o.lastRequest().Header
	if h.Get("Authorization") != "Bearer tok-from-env" || h.Get("X-Api-Key") != "key-from-env" {
		t.Fatalf("service saw Authorization %q, X-Api-Key %q", h.Get("Authorization"), h.Get("X-Api-Key"))
	}
}

func TestBasicAuthentication(t *testing.T) {
	t.Setenv("CELLS_PASSWORD", "p@ss:word")
	o := newOrigin(t, answer(`{}`))
	s := tenantSource(t, o.URL, nil, func(s *Source) {
		s.BasicAuth = &BasicAuth{Username: "enricher", Password: "{env.CELLS_PASSWORD}"}
	})
	mustLookup(t, s, "acme")
	user, pass, ok := o.lastRequest().BasicAuth()
	if !ok || user != "enricher" || pass != "p@ss:word" {
		t.Fatalf("service saw basic %q %q %v", user, pass, ok)
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	t.Setenv("CELLS_CLIENT_SECRET", "cs-123")
	var tokenErr error
	var mu sync.Mutex
	tokens := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if err := r.ParseForm(); err != nil || id != "enricher" || secret != "cs-123" ||
			r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "cells.read" ||
			r.Form.Get("audience") != "https://cells.internal" {
			mu.Lock()
			tokenErr = fmt.Errorf("token request: basic %q:%q form %v", id, secret, r.Form)
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answer(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)(w, r)
	})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answer(`{"ok":true}`)(w, r)
	})
	s := tenantSource(t, o.URL, nil, func(s *Source) {
		s.OAuth2 = &OAuth2{
			TokenURL:       tokens.URL + "/oauth/token",
			ClientID:       "enricher",
			ClientSecret:   "{env.CELLS_CLIENT_SECRET}",
			Scopes:         []string{"cells.read"},
			EndpointParams: map[string][]string{"audience": {"https://cells.internal"}},
		}
	})
	for _, tenant := range []string{"acme", "globex", "initech"} {
		if r, err := lookup(t, s, tenant); err != nil || string(r.Object) != `{"ok":true}` {
			mu.Lock()
			t.Fatalf("%s: %q, %v (%v)", tenant, r.Object, err, tokenErr)
		}
	}
	if n := tokens.hits.Load(); n != 1 {
		t.Fatalf("token requests = %d for 3 lookups, want 1 (the token is cached)", n)
	}
	if n := o.hits.Load(); n != 3 {
		t.Fatalf("service requests = %d, want 3", n)
	}
}

func TestOAuth2TokenFailureIsALookupError(t *testing.T) {
	tokens := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	o := newOrigin(t, answer(`{}`))
	s := tenantSource(t, o.URL, nil, func(s *Source) {
		s.OAuth2 = &OAuth2{TokenURL: tokens.URL, ClientID: "enricher", ClientSecret: "x"}
	})
	if _, err := lookup(t, s, "acme"); err == nil {
		t.Fatal("no error")
	}
	if n := o.hits.Load(); n != 0 {
		t.Fatalf("the service saw %d requests without a token", n)
	}
}

func TestProvisionRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Source
	}{
		{"no url", Source{}},
		{"ftp", Source{URL: "ftp://cells.internal/{http.token.tenant}"}},
		{"scheme from a placeholder", Source{URL: "{env.CELLS_URL}/v1/{http.token.tenant}"}},
		{"no host", Source{URL: "https:///v1/{http.token.tenant}"}},
		{"fragment", Source{URL: "https://cells.internal/v1/{http.token.tenant}#x"}},
		{"per-request header", Source{URL: "https://cells.internal/{http.token.tenant}",
			Headers: map[string]string{"Authorization": "{http.request.header.Authorization}"}}},
		{"header with a newline", Source{URL: "https://cells.internal/{http.token.tenant}",
			Headers: map[string]string{"X-Key": "a\nb"}}},
		{"bad header name", Source{URL: "https://cells.internal/{http.token.tenant}",
			Headers: map[string]string{"X Key": "a"}}},
		{"two kinds of auth", Source{URL: "https://cells.internal/{http.token.tenant}",
			Headers:   map[string]string{"authorization": "Bearer x"},
			BasicAuth: &BasicAuth{Username: "u", Password: "p"}}},
		{"oauth2 without token_url", Source{URL: "https://cells.internal/{http.token.tenant}",
			OAuth2: &OAuth2{ClientID: "c"}}},
		{"oauth2 bad token_url", Source{URL: "https://cells.internal/{http.token.tenant}",
			OAuth2: &OAuth2{TokenURL: "cells", ClientID: "c"}}},
		{"negative ttl", Source{URL: "https://cells.internal/{http.token.tenant}", Settings: cache.Settings{CacheTTL: -1}}},
		{"negative size", Source{URL: "https://cells.internal/{http.token.tenant}", Settings: cache.Settings{MaxSize: -1}}},
		{"huge size", Source{URL: "https://cells.internal/{http.token.tenant}", Settings: cache.Settings{MaxSize: 1 << 62}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			s := tc.s
			err := s.Provision(ctx)
			if err == nil {
				err = s.Validate()
				_ = s.Cleanup()
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func replWith(tenant string) *caddy.Replacer {
	repl := caddy.NewReplacer()
	repl.Set("http.token.tenant", tenant)
	return repl
}

// A cached lookup, as the handler makes it for every token once the
// tenant's answer is cached.
func BenchmarkLookupCached(b *testing.B) {
	o := newOrigin(b, answer(`{"cell":"eu-1","plan":"gold"}`))
	s := &Source{URL: o.URL + "/v1/tenants/{http.token.tenant}"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Cleanup()
	key, _ := s.RenderKey(replWith("acme"))
	if _, err := s.Lookup(context.Background(), key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := s.Lookup(context.Background(), key); err != nil || r.Object == nil {
			b.Fatal(r, err)
		}
	}
}

// RenderKey then Lookup, cached: the source's whole cost per token.
func BenchmarkRenderKeyAndLookupCached(b *testing.B) {
	o := newOrigin(b, answer(`{"cell":"eu-1"}`))
	s := &Source{URL: o.URL + "/v1/tenants/{http.token.tenant}"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Cleanup()
	repl := replWith("a/b c")
	b.ReportAllocs()
	for b.Loop() {
		key, ok := s.RenderKey(repl)
		if !ok {
			b.Fatal("no key")
		}
		if _, err := s.Lookup(context.Background(), key); err != nil {
			b.Fatal(err)
		}
	}
}
