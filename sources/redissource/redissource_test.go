package redissource

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func TestJSONValueIsTheObject(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	ctx := context.Background()
	if err := srv.Client.Set(ctx, "tenant:acme", `{"plan":"gold","limits":{"rps":100}}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, nil)
	r := mustLookup(t, s.Source, "acme")
	if string(r.Object) != `{"plan":"gold","limits":{"rps":100}}` || r.Stale {
		t.Fatalf("got %q stale=%v", r.Object, r.Stale)
	}
}

// A hash's fields become string members, every name and value escaped.
func TestHashFieldsAreStringMembers(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	fields := map[string]string{"plan": "gold", `we"ird\name`: "line\nbreak</script>", "cell": "eu-1", "empty": ""}
	if err := srv.Client.HSet(context.Background(), "tenant:acme", fields).Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, func(s *Source) { s.Format = FormatHash })
	r := mustLookup(t, s.Source, "acme")
	if err := sources.CheckObject(r.Object); err != nil {
		t.Fatalf("%q: %v", r.Object, err)
	}
	var got map[string]string
	if err := json.Unmarshal(r.Object, &got); err != nil || !reflect.DeepEqual(got, fields) {
		t.Fatalf("got %s (%v), want the hash's fields %v", r.Object, err, fields)
	}
}

// A missing key is a miss, in both formats, remembered for negative_ttl.
func TestMissingKeyIsAMiss(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	for _, format := range []string{FormatJSON, FormatHash} {
		t.Run(format, func(t *testing.T) {
			s := startOn(t, srv, nil, func(s *Source) { s.Format = format })
			if r := mustLookup(t, s.Source, "nobody-"+format); r.Object != nil {
				t.Fatalf("got %q for a missing key", r.Object)
			}
			// Without notifications, a value set now is not seen
			// before negative_ttl.
			if err := srv.Client.HSet(context.Background(), "tenant:nobody-"+format, "a", "b").Err(); err != nil {
				t.Fatal(err)
			}
			if err := srv.Client.Set(context.Background(), "tenant:nobody-json", `{"a":"b"}`, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if r := mustLookup(t, s.Source, "nobody-"+format); r.Object != nil {
				t.Fatalf("got %q: the miss was not cached", r.Object)
			}
		})
	}
}

// A value that is not a JSON object is an error, not a miss; so is a key
// of the wrong type for the format.
func TestNotAnObjectIsAnError(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	ctx := context.Background()
	deep := `{"a":` + strings.Repeat("[", enrichers.MaxDepth+1) + strings.Repeat("]", enrichers.MaxDepth+1) + `}`
	values := map[string]string{
		"array":   `[1,2]`,
		"string":  `"gold"`,
		"number":  `42`,
		"garbage": `plan=gold`,
		"cut":     `{"plan":"go`,
		"binary":  "{\"a\":\"\xff\xfe\"}",
		"deep":    deep,
		"empty":   ``,
	}
	for k, v := range values {
		if err := srv.Client.Set(ctx, "tenant:"+k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Client.HSet(ctx, "tenant:hash", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, nil)
	for k := range values {
		r, err := lookup(t, s.Source, k)
		if !errors.Is(err, sources.ErrNotObject) {
			t.Errorf("%s: got %q, %v; want ErrNotObject", k, r.Object, err)
		}
	}
	if r, err := lookup(t, s.Source, "hash"); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("a hash read as json: got %q, %v", r.Object, err)
	}
	h := startOn(t, srv, nil, func(s *Source) { s.Format = FormatHash })
	if r, err := lookup(t, h.Source, "array"); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("a string read as a hash: got %q, %v", r.Object, err)
	}
}

// A value larger than max_size is an error, in both formats; one that fits
// is the object.
func TestValueLargerThanMaxSizeIsAnError(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	ctx := context.Background()
	const maxSize = 64
	fits := `{"plan":"` + strings.Repeat("g", maxSize-len(`{"plan":""}`)) + `"}`
	big := `{"plan":"` + strings.Repeat("g", 1<<20) + `"}`
	for k, v := range map[string]string{"fits": fits, "big": big, "one-over": fits[:len(fits)-2] + `g"}`} {
		if err := srv.Client.Set(ctx, "tenant:"+k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Client.HSet(ctx, "tenant:bighash", "plan", strings.Repeat("g", maxSize)).Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, func(s *Source) { s.MaxSize = maxSize })
	if r := mustLookup(t, s.Source, "fits"); string(r.Object) != fits {
		t.Fatalf("a value of max_size bytes: got %q", r.Object)
	}
	for _, k := range []string{"big", "one-over"} {
		if r, err := lookup(t, s.Source, k); err == nil || !strings.Contains(err.Error(), "larger than max_size") {
			t.Errorf("%s: got %.40q, %v; want an error naming max_size", k, r.Object, err)
		}
	}
	h := startOn(t, srv, nil, func(s *Source) { s.Format = FormatHash; s.MaxSize = maxSize })
	if r, err := lookup(t, h.Source, "bighash"); err == nil || !strings.Contains(err.Error(), "larger than max_size") {
		t.Errorf("a hash over max_size: got %q, %v", r.Object, err)
	}
}

func TestLookupRefusesAKeyOutsideTheTemplate(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	if err := srv.Client.Set(context.Background(), "secret:x", `{"a":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := startOn(t, srv, nil, nil)
	if r, err := s.Lookup(context.Background(), "secret:x"); err == nil {
		t.Fatalf("Lookup of a key outside the template: %q", r.Object)
	}
}

// Redis stops: cached values are served, marked stale, up to max_stale past
// cache_ttl; a key never cached fails within the lookup's context; then
// nothing is served.
func TestRedisDownServesStaleUpToMaxStale(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Notify: true})
	if err := srv.Client.Set(context.Background(), "tenant:acme", `{"plan":"gold"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	clk := testclock.New()
	s := startOn(t, srv, clk, func(s *Source) {
		s.CacheTTL = caddy.Duration(time.Minute)
		s.MaxStale = caddy.Duration(time.Hour)
		s.FetchTimeout = caddy.Duration(500 * time.Millisecond)
	})
	mustLookup(t, s.Source, "acme")
	srv.Stop()

	clk.Advance(2 * time.Minute)
	within(t, 5*time.Second, "the cached value to be served stale", func() bool {
		start := time.Now()
		r, err := lookup(t, s.Source, "acme")
		if d := time.Since(start); d > 300*time.Millisecond+200*time.Millisecond {
			t.Fatalf("a lookup took %v with a 300ms context", d)
		}
		if err != nil || string(r.Object) != `{"plan":"gold"}` {
			t.Fatalf("with Redis down: %q, %v; want the cached value", r.Object, err)
		}
		return r.Stale
	})

	start := time.Now()
	if r, err := lookup(t, s.Source, "other"); err == nil {
		t.Fatalf("a key never cached, Redis down: %q", r.Object)
	}
	if d := time.Since(start); d > 300*time.Millisecond+200*time.Millisecond {
		t.Fatalf("a lookup took %v with a 300ms context", d)
	}

	clk.Advance(time.Hour)
	if r, err := lookup(t, s.Source, "acme"); err == nil {
		t.Fatalf("past max_stale, Redis down: %q, want an error", r.Object)
	}
}

// A server that accepts connections and never answers: a lookup returns at
// its context's end, and a fetch, retries included, ends by fetch_timeout.
func TestHungRedisNeverHoldsALookupOrAFetchPastItsBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	const fetchTimeout = 400 * time.Millisecond
	s := start(t, &Source{URL: "redis://" + ln.Addr().String() + "/0", Settings: cache.Settings{FetchTimeout: caddy.Duration(fetchTimeout)}}, nil, false)

	start := time.Now()
	if _, err := lookup(t, s.Source, "acme"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond+200*time.Millisecond {
		t.Fatalf("the lookup took %v with a 300ms context", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	start = time.Now()
	if _, err := s.b.fetch(ctx, "tenant:acme"); err == nil {
		t.Fatal("a fetch from a server that never answers succeeded")
	}
	if d := time.Since(start); d > fetchTimeout+200*time.Millisecond {
		t.Fatalf("the fetch took %v with fetch_timeout %v", d, fetchTimeout)
	}
}

func TestProvisionRendersEnvAndRejectsBadConfig(t *testing.T) {
	t.Setenv("TEST_REDIS_PASSWORD", "s3cret")
	s := &Source{URL: "rediss://app:{env.TEST_REDIS_PASSWORD}@redis.internal:6380/2"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Cleanup()
	opts, err := s.options("rediss://app:s3cret@redis.internal:6380/2")
	if err != nil {
		t.Fatal(err)
	}
	if opts.TLSConfig == nil || opts.TLSConfig.ServerName != "redis.internal" || opts.DB != 2 ||
		opts.Username != "app" || opts.Password != "s3cret" || !reflect.DeepEqual(opts.Addrs, []string{"redis.internal:6380"}) {
		t.Fatalf("options %+v", opts)
	}
	if s.db != 2 || strings.Contains(s.address, "s3cret") || !strings.Contains(s.address, "redis.internal:6380") {
		t.Fatalf("db %d, address %q", s.db, s.address)
	}

	for _, tc := range []struct {
		s    Source
		want string
	}{
		{Source{}, "url is required"},
		{Source{URL: "redis://h", Format: "xml"}, `format "xml"`},
		{Source{URL: "redis://h", Settings: cache.Settings{CacheTTL: -1}}, "must not be negative"},
		{Source{URL: "redis://h", Settings: cache.Settings{MaxStale: -1}}, "must not be negative"},
		{Source{URL: "redis://h", Settings: cache.Settings{FetchTimeout: -1}}, "must not be negative"},
		{Source{URL: "redis://h", Settings: cache.Settings{CacheSize: -1}}, "must not be negative"},
		{Source{URL: "redis://h", SentinelAddrs: []string{"s:26379"}}, "sentinel_addrs needs sentinel_master"},
		{Source{URL: "redis://h", SentinelMaster: "m", ClusterAddrs: []string{"n:6379"}}, "not both"},
		{Source{URL: "redis://u:s3cret@h/1", ClusterAddrs: []string{"n:6379"}}, "database 0 only"},
		{Source{URL: "http://u:s3cret@h/0"}, "scheme must be redis or rediss"},
		{Source{URL: "redis://u:s3cret@h/zero"}, "invalid database number"},
		{Source{URL: "redis://u:s3cret@h:99999999999/0%zz"}, "not a valid URL"},
		{Source{URL: "redis://u:s3cret@h/0?bogus=1"}, "bogus"},
		{Source{URL: "redis://{http.token.tenant}/0"}, "only placeholders known when the config loads"},
	} {
		s := tc.s
		err := s.Provision(ctx)
		if err == nil {
			_ = s.Cleanup()
			t.Errorf("%+v: Provision succeeded", tc.s)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %q does not say %q", tc.s, err, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: error %q shows the password", tc.s, err)
		}
	}
}

// Sentinel and Cluster are go-redis' own: the fields map onto its
// universal options, which pick the client.
func TestSentinelAndClusterOptions(t *testing.T) {
	s := &Source{SentinelMaster: "mymaster", SentinelAddrs: []string{"s2:26379", "s3:26379"}, Settings: cache.Settings{FetchTimeout: caddy.Duration(time.Second)}}
	o, err := s.options("redis://:pw@s1:26379/3")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "mymaster" || o.DB != 3 || o.Password != "pw" ||
		!reflect.DeepEqual(o.Addrs, []string{"s1:26379", "s2:26379", "s3:26379"}) || o.IsClusterMode {
		t.Fatalf("sentinel options %+v", o)
	}
	c := &Source{ClusterAddrs: []string{"n2:6379"}, Settings: cache.Settings{FetchTimeout: caddy.Duration(time.Second)}}
	o, err = c.options("redis://n1:6379")
	if err != nil {
		t.Fatal(err)
	}
	if !o.IsClusterMode || !reflect.DeepEqual(o.Addrs, []string{"n1:6379", "n2:6379"}) || o.MasterName != "" {
		t.Fatalf("cluster options %+v", o)
	}
	if o.DialTimeout != time.Second || o.ReadTimeout != time.Second || o.WriteTimeout != time.Second || !o.ContextTimeoutEnabled {
		t.Fatalf("timeouts %+v", o)
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"redis://app:s3cret@h:6379/0":         "redis://app:xxxxx@h:6379/0",
		"rediss://:s3cret@h/1?dial_timeout=3": "rediss://:xxxxx@h/1",
		"redis://h:6379":                      "redis://h:6379",
		"redis://a:s3cret@h:port%zz":          "(unparsable URL)",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLiteralPrefixAndGlobEscape(t *testing.T) {
	for tmpl, want := range map[string]string{
		"tenant:{http.token.tenant}": "tenant:",
		"{http.token.tenant}":        "",
		"fixed":                      "fixed",
		`a\{b}:{x}`:                  "a{b}:",
		"t:{http.token.tenant}:{x}":  "t:",
	} {
		k, err := sources.ParseKeyTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Prefix(); got != want {
			t.Errorf("prefix of %q = %q, want %q", tmpl, got, want)
		}
	}
	if got := globEscape(`a*b?c[d]e\f^g-h`); got != `a\*b\?c\[d\]e\\f\^g\-h` {
		t.Errorf("globEscape = %q", got)
	}
}

// BenchmarkLookupCached is a lookup of a key the cache holds fresh: what a
// token request pays for the source, besides placing the object.
func BenchmarkLookupCached(b *testing.B) {
	srv := testredis.Start(b, testredis.Options{Notify: true})
	if err := srv.Client.Set(context.Background(), "tenant:acme", `{"plan":"gold","region":"eu"}`, 0).Err(); err != nil {
		b.Fatal(err)
	}
	s := startOn(b, srv, nil, func(s *Source) { s.CacheTTL = caddy.Duration(time.Hour) })
	mustLookup(b, s.Source, "acme")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := s.Lookup(ctx, "tenant:acme"); err != nil || r.Object == nil {
			b.Fatalf("%q, %v", r.Object, err)
		}
	}
}
