package redissource

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

// objectIs reports whether a lookup of tenant returns want (nil: a miss).
func objectIs(t *testing.T, s *Source, tenant, want string) func() bool {
	return func() bool {
		r, err := lookup(t, s, tenant)
		if want == "" {
			return err == nil && r.Object == nil
		}
		return err == nil && string(r.Object) == want && !r.Stale
	}
}

// Every kind of change from another client reaches the cache within a
// second, although cache_ttl and negative_ttl are an hour.
func TestChangesFromAnyClientReachTheCacheWithinASecond(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	ctx := context.Background()
	long := func(s *Source) {
		s.CacheTTL = caddy.Duration(time.Hour)
		s.NegativeTTL = caddy.Duration(time.Hour)
	}
	js := startOn(t, srv, nil, long)
	before := testutil.ToFloat64(invalidationsTotal.WithLabelValues("tenants"))
	c := srv.Client
	steps := []struct {
		what   string
		change func() error
		want   string
	}{
		{"SET of a key cached as a miss", func() error { return c.Set(ctx, "tenant:acme", `{"v":1}`, 0).Err() }, `{"v":1}`},
		{"SET", func() error { return c.Set(ctx, "tenant:acme", `{"v":2}`, 0).Err() }, `{"v":2}`},
		{"DEL", func() error { return c.Del(ctx, "tenant:acme").Err() }, ""},
		{"SET again", func() error { return c.Set(ctx, "tenant:acme", `{"v":3}`, 0).Err() }, `{"v":3}`},
		{"expiry", func() error { return c.PExpire(ctx, "tenant:acme", 50*time.Millisecond).Err() }, ""},
		{"RENAME onto it", func() error {
			if err := c.Set(ctx, "tenant:staging", `{"v":4}`, 0).Err(); err != nil {
				return err
			}
			return c.Rename(ctx, "tenant:staging", "tenant:acme").Err()
		}, `{"v":4}`},
	}
	for _, st := range steps {
		mustLookup(t, js.Source, "acme") // cached, whatever it holds
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		d := within(t, time.Second, st.what, objectIs(t, js.Source, "acme", st.want))
		t.Logf("%s: seen after %v", st.what, d)
	}
	if after := testutil.ToFloat64(invalidationsTotal.WithLabelValues("tenants")); after < before+float64(len(steps)) {
		t.Errorf("invalidations_total went from %v to %v over %d changes", before, after, len(steps))
	}

	hs := startOn(t, srv, nil, func(s *Source) { long(s); s.Format = FormatHash })
	if r := mustLookup(t, hs.Source, "globex"); r.Object != nil {
		t.Fatalf("got %q", r.Object)
	}
	if err := c.HSet(ctx, "tenant:globex", "plan", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "HSET", objectIs(t, hs.Source, "globex", `{"plan":"gold"}`))
	if err := c.HSet(ctx, "tenant:globex", "plan", "silver", "cell", "c7").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "HSET of a cached hash", objectIs(t, hs.Source, "globex", `{"cell":"c7","plan":"silver"}`))
	if err := c.HDel(ctx, "tenant:globex", "plan", "cell").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "HDEL of the last fields", objectIs(t, hs.Source, "globex", ""))
}

// The source hears the notifications of its template's keys only, and the
// literal start of the template matches itself even when it holds glob
// characters.
func TestSubscriptionCoversTheTemplatesKeysOnly(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	ctx := context.Background()
	s := &Source{URL: srv.URL(0), Settings: cache.Settings{CacheTTL: caddy.Duration(time.Hour)}}
	ctxc, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctxc); err != nil {
		t.Fatal(err)
	}
	defer s.Cleanup()
	if err := s.UseKeyTemplate("globs", "t[1]*:{http.token.tenant}"); err != nil {
		t.Fatal(err)
	}
	subscribed(t, s, 1)
	before := testutil.ToFloat64(invalidationsTotal.WithLabelValues("globs"))
	n := func() float64 { return testutil.ToFloat64(invalidationsTotal.WithLabelValues("globs")) - before }
	if err := srv.Client.Set(ctx, "t1x:acme", `{}`, 0).Err(); err != nil { // the unescaped glob would match
		t.Fatal(err)
	}
	if err := srv.Client.Set(ctx, "t[1]*:acme", `{"v":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the notification of the template's key", func() bool { return n() >= 1 })
	time.Sleep(100 * time.Millisecond) // a notification of t1x:acme would have come with it
	if got := n(); got != 1 {
		t.Fatalf("invalidations = %v, want 1: only t[1]*:acme is the template's", got)
	}
}

// With keyspace notifications off, one warning names the source, the
// current value, the command that turns them on and the consequence; the
// password of the URL (from the environment) is in no log.
func TestWarnsOnceWhenNotificationsAreOff(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Args: []string{"--requirepass", "s3cret", "--notify-keyspace-events", "Kh"}})
	if err := srv.Client.Set(context.Background(), "tenant:acme", `{"v":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_REDIS_PASSWORD", "s3cret")
	s := start(t, &Source{URL: "redis://:{env.TEST_REDIS_PASSWORD}@" + srv.Addr + "/0"}, nil, true)
	if r := mustLookup(t, s.Source, "acme"); string(r.Object) != `{"v":1}` {
		t.Fatalf("with the password from the environment: got %q", r.Object)
	}
	warnings := s.logs.FilterLevelExact(zapcore.WarnLevel)
	if warnings.Len() != 1 {
		t.Fatalf("%d warnings, want 1: %v", warnings.Len(), warnings.All())
	}
	w := warnings.All()[0]
	f := w.ContextMap()
	if f["source"] != "tenants" || f["notify-keyspace-events"] != "hK" || f["missing"] != "$gxe" ||
		!strings.Contains(f["needed"].(string), "CONFIG SET notify-keyspace-events KA") ||
		!strings.Contains(w.Message, "only when cache_ttl expires") {
		t.Fatalf("warning %q %v", w.Message, f)
	}
	for _, e := range s.logs.All() {
		if strings.Contains(e.Message, "s3cret") || strings.Contains(toString(e.ContextMap()), "s3cret") {
			t.Fatalf("a log shows the password: %q %v", e.Message, e.ContextMap())
		}
	}
}

func toString(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}

func TestNoWarningWhenNotificationsAreOn(t *testing.T) {
	for _, value := range []string{"KA", "K$hgxe", "AKE"} {
		t.Run(value, func(t *testing.T) {
			srv := testredis.Start(t, testredis.Options{Args: []string{"--notify-keyspace-events", value}})
			s := startOn(t, srv, nil, nil)
			if w := s.logs.FilterLevelExact(zapcore.WarnLevel); w.Len() != 0 {
				t.Fatalf("warnings: %v", w.All())
			}
		})
	}
}

// A managed Redis that refuses CONFIG: one warning says the setting cannot
// be read, and what follows if notifications are off.
func TestWarnsWhenConfigIsRefused(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true, Args: []string{"--rename-command", "CONFIG", ""}})
	s := startOn(t, srv, nil, nil)
	warnings := s.logs.FilterLevelExact(zapcore.WarnLevel)
	if warnings.Len() != 1 || !strings.Contains(warnings.All()[0].Message, "CONFIG GET refused") ||
		warnings.All()[0].ContextMap()["source"] != "tenants" {
		t.Fatalf("warnings: %v", warnings.All())
	}
}

// Redis restarts; a value changed while the subscriber was disconnected
// (here without a notification) is seen once it has subscribed again.
func TestReconnectRevalidatesTheCache(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	ctx := context.Background()
	if err := srv.Client.Set(ctx, "tenant:acme", `{"v":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, func(s *Source) {
		s.CacheTTL = caddy.Duration(time.Hour)
		s.MaxStale = caddy.Duration(time.Hour)
		s.FetchTimeout = caddy.Duration(500 * time.Millisecond)
	})
	reconnects := func() float64 { return testutil.ToFloat64(reconnectsTotal.WithLabelValues("tenants")) }
	before := reconnects()
	if r := mustLookup(t, s.Source, "acme"); string(r.Object) != `{"v":1}` {
		t.Fatalf("got %q", r.Object)
	}
	srv.Stop()
	if r := mustLookup(t, s.Source, "acme"); string(r.Object) != `{"v":1}` {
		t.Fatalf("Redis down, within cache_ttl: got %q", r.Object)
	}
	srv.Restart()
	// The restarted server has lost its data; the new value is written
	// with notifications off, so only the revalidation can bring it.
	if err := srv.Client.ConfigSet(ctx, "notify-keyspace-events", "").Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.Set(ctx, "tenant:acme", `{"v":2}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	d := within(t, 10*time.Second, "the value changed while disconnected", objectIs(t, s.Source, "acme", `{"v":2}`))
	t.Logf("seen %v after the restart", d)
	if got := reconnects(); got != before+1 {
		t.Fatalf("reconnects_total went from %v to %v, want one more", before, got)
	}
}

// Cleanup closes every connection the source opened and ends its
// goroutines, config load after config load.
func TestCleanupLeavesNoConnectionsOrGoroutines(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	if err := srv.Client.Set(context.Background(), "tenant:acme", `{"v":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	baseClients := srv.ClientCount(t)
	baseGoroutines := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := &Source{URL: srv.URL(0)}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := s.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.UseKeyTemplate("leak", template); err != nil {
			t.Fatal(err)
		}
		subscribed(t, s, 1)
		for _, tenant := range []string{"acme", "globex", "initech"} {
			mustLookup(t, s, tenant)
		}
		if n := srv.ClientCount(t); n < baseClients+2 {
			t.Fatalf("%d clients with the source running, want at least %d (its subscriber and a command connection)", n, baseClients+2)
		}
		if err := s.Cleanup(); err != nil {
			t.Fatal(err)
		}
		cancel()
		within(t, 5*time.Second, "the server to see the connections closed", func() bool { return srv.ClientCount(t) == baseClients })
	}
	within(t, 5*time.Second, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= baseGoroutines })
}
