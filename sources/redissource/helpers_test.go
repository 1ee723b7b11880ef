package redissource

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// template is the key template of the tests' sources.
const template = "tenant:{http.token.tenant}"

// started is a provisioned source with its subscriber running and its
// logs recorded.
type started struct {
	*Source
	logs *observer.ObservedLogs
}

// start provisions s (with clk as the cache's clock when not nil), gives it
// the key template under the name "tenants", waits for its subscription
// when Redis is reachable, and cleans it up when the test ends.
func start(t testing.TB, s *Source, clk *testclock.Clock, reachable bool) started {
	t.Helper()
	if clk != nil {
		s.now = clk.Now
	}
	testcaddy.Provision(t, s)
	core, logs := observer.New(zapcore.DebugLevel)
	s.logger = zap.New(core)
	if err := s.UseKeyTemplate("tenants", template); err != nil {
		t.Fatalf("UseKeyTemplate: %v", err)
	}
	if reachable {
		subscribed(t, s, 1)
	}
	return started{s, logs}
}

// startOn starts a source of srv's database 0, configured by configure.
func startOn(t testing.TB, srv *testredis.Server, clk *testclock.Clock, configure func(*Source)) started {
	t.Helper()
	s := &Source{URL: srv.URL(0)}
	if configure != nil {
		configure(s)
	}
	return start(t, s, clk, true)
}

// lookup looks tenant up within the handler's default timeout.
func lookup(t testing.TB, s *Source, tenant string) (sources.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return s.Lookup(ctx, "tenant:"+tenant)
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

// within polls cond until it holds, failing the test when d has passed. It
// returns how long it took.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// subscribed waits until the source has handled its n-th subscription
// confirmation (and its revalidation of the cache).
func subscribed(t testing.TB, s *Source, n int64) {
	t.Helper()
	within(t, 5*time.Second, "the source to subscribe", func() bool { return s.b.subscriptions.Load() >= n })
}
