package httpsource

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// origin is a real HTTP server that counts the requests it sees and
// answers with a handler the test can swap.
type origin struct {
	*httptest.Server
	hits    atomic.Int64
	handler atomic.Pointer[http.HandlerFunc]
	mu      sync.Mutex
	last    *http.Request // the last request seen
}

func newOrigin(t testing.TB, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.set(h)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Clone(context.Background())
		o.mu.Unlock()
		(*o.handler.Load())(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) set(h http.HandlerFunc) { o.handler.Store(&h) }

func (o *origin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// answer returns a handler that answers 200 with body.
func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

// provision provisions and validates s, with clk as the cache's clock when
// not nil, and cleans it up when the test ends.
func provision(t *testing.T, s *Source, clk *testclock.Clock) *Source {
	t.Helper()
	if clk != nil {
		s.now = clk.Now
	}
	testcaddy.Provision(t, s)
	return s
}

// tenantSource is a provisioned source for base + "/v1/tenants/{http.token.tenant}".
func tenantSource(t *testing.T, base string, clk *testclock.Clock, configure func(*Source)) *Source {
	t.Helper()
	s := &Source{URL: base + "/v1/tenants/{http.token.tenant}"}
	if configure != nil {
		configure(s)
	}
	return provision(t, s, clk)
}

// lookup renders the key for tenant and looks it up with the handler's
// default timeout.
func lookup(t testing.TB, s *Source, tenant string) (sources.Result, error) {
	t.Helper()
	return lookupWithin(t, s, tenant, 300*time.Millisecond)
}

// lookupWithin is lookup with the timeout d.
func lookupWithin(t testing.TB, s *Source, tenant string, d time.Duration) (sources.Result, error) {
	t.Helper()
	repl := caddy.NewReplacer()
	repl.Set("http.token.tenant", tenant)
	key, ok := s.RenderKey(repl)
	if !ok {
		t.Fatalf("RenderKey(%q) not ok", tenant)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Lookup(ctx, key)
}

// mustLookup is lookup that fails the test on an error.
func mustLookup(t testing.TB, s *Source, tenant string) sources.Result {
	t.Helper()
	r, err := lookup(t, s, tenant)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", tenant, err)
	}
	return r
}

// eventually polls cond until it holds or 5s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
