package redissource

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// serverStats reads what the server sent in all (total_net_output_bytes)
// and the calls of each command (INFO commandstats).
func serverStats(t *testing.T, srv *testredis.Server) (sent int64, calls map[string]int64) {
	t.Helper()
	info, err := srv.Client.Info(context.Background(), "stats", "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls = map[string]int64{}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_net_output_bytes:"); ok {
			sent, _ = strconv.ParseInt(v, 10, 64)
		}
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, stats, _ := strings.Cut(rest, ":")
			c, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
			calls[name], _ = strconv.ParseInt(c, 10, 64)
		}
	}
	return sent, calls
}

// fillHash gives key n fields, each value of size bytes.
func fillHash(t *testing.T, srv *testredis.Server, key string, n, size int) {
	t.Helper()
	ctx := context.Background()
	value := strings.Repeat("v", size)
	for done := 0; done < n; {
		args := make([]any, 0, 2000)
		for ; done < n && len(args) < 2000; done++ {
			args = append(args, "f"+strconv.Itoa(done), value)
		}
		if err := srv.Client.HSet(ctx, key, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHashOverMaxSizeIsNotReadWhole: a hash of more fields than max_size
// can hold is refused on its HLEN, without a field read; a hash of few
// fields but large values is read in HSCAN chunks only until it passes
// max_size. Either refusal is remembered for negative_ttl: the lookups
// after it get the error without a command to Redis.
func TestHashOverMaxSizeIsNotReadWhole(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	const maxSize = 64 << 10
	fillHash(t, srv, "tenant:many", 200_000, 1)   // 200k fields: at least 1.2 MB as an object
	fillHash(t, srv, "tenant:large", 2_000, 1000) // 2k fields of 1 kB: 2 MB
	s := startOn(t, srv, nil, func(s *Source) {
		s.Format = FormatHash
		s.MaxSize = maxSize
		s.NegativeTTL = caddy.Duration(time.Minute)
	})
	for _, c := range []struct {
		tenant  string
		hashLen int64
		maxSent int64
	}{
		{"many", 1_200_000, 8 << 10},
		{"large", 2_000_000, 4 * maxSize},
	} {
		sent0, calls0 := serverStats(t, srv)
		_, err := lookup(t, s.Source, c.tenant)
		if err == nil || !strings.Contains(err.Error(), "larger than max_size") {
			t.Fatalf("%s: Lookup error = %v; want larger than max_size", c.tenant, err)
		}
		sent1, calls1 := serverStats(t, srv)
		if calls1["hgetall"] != calls0["hgetall"] {
			t.Errorf("%s: HGETALL was called", c.tenant)
		}
		// the INFO reply itself is part of what was sent
		if got := sent1 - sent0; got > c.maxSent {
			t.Errorf("%s: Redis sent %d bytes for a refused hash of about %d; want at most %d", c.tenant, got, c.hashLen, c.maxSent)
		}
		t.Logf("%s: %d bytes sent; hlen %d, hscan %d calls", c.tenant, sent1-sent0, calls1["hlen"]-calls0["hlen"], calls1["hscan"]-calls0["hscan"])
		for range 3 {
			if _, err := lookup(t, s.Source, c.tenant); err == nil || !strings.Contains(err.Error(), "larger than max_size") {
				t.Fatalf("%s: a repeated Lookup error = %v; want the remembered refusal", c.tenant, err)
			}
		}
		_, calls2 := serverStats(t, srv)
		for _, cmd := range []string{"hlen", "hscan", "hgetall"} {
			if calls2[cmd] != calls1[cmd] {
				t.Errorf("%s: %s called %d times within negative_ttl of the refusal", c.tenant, cmd, calls2[cmd]-calls1[cmd])
			}
		}
	}
	// a hash within max_size is read whole, through as many chunks as it takes
	fillHash(t, srv, "tenant:fits", 1_000, 10)
	r := mustLookup(t, s.Source, "fits")
	if got := strings.Count(string(r.Object), `"vvvvvvvvvv"`); got != 1000 {
		t.Errorf("a 1000-field hash read as %d fields", got)
	}
}

// TestWarnings: a literal password in the URL and a key template without
// a literal prefix are each warned about at load, with the way to fix it;
// a password from {env.*} and a template with a prefix are not.
func TestWarnings(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Args: []string{"--requirepass", "s3cret-pass"}})
	t.Setenv("REDIS_TEST_PASSWORD", "s3cret-pass")
	for _, c := range []struct {
		url, template string
		want          []string
	}{
		{"redis://:s3cret-pass@" + srv.Addr + "/0", "tenant:{http.token.tenant}", []string{"password as literal text"}},
		{"redis://:{env.REDIS_TEST_PASSWORD}@" + srv.Addr + "/0", "tenant:{http.token.tenant}", nil},
		{"redis://:{env.REDIS_TEST_PASSWORD}@" + srv.Addr + "/0", "{http.token.tenant}", []string{"starts with a placeholder"}},
		{"redis://:{env.REDIS_TEST_PASSWORD}@" + srv.Addr + "/0", "{http.token.tenant}:meta", []string{"starts with a placeholder"}},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		s := &Source{URL: c.url, logger: zap.New(core)}
		testcaddy.Provision(t, s)
		if err := s.UseKeyTemplate("tenants", c.template); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range logs.All() {
			got = append(got, e.Message)
			if strings.Contains(fmt.Sprint(e.ContextMap()), "s3cret-pass") || strings.Contains(e.Message, "s3cret-pass") {
				t.Errorf("the warning shows the password: %v", e)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s %s: warnings %q; want %q", c.url, c.template, got, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) || !strings.Contains(got[i], "{") {
				t.Errorf("%s %s: warning %q; want %q and the fix", c.url, c.template, got[i], w)
			}
		}
	}
}

// TestKeyLogsAreBounded: a lookup of a huge key yields an error, and log
// lines, of a bounded size.
func TestKeyLogsAreBounded(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	s := startOn(t, srv, nil, nil)
	huge := strings.Repeat("x", 4<<20)
	_, err := s.Lookup(context.Background(), "other:"+huge)
	if err == nil || len(err.Error()) > 2*sources.MaxLogValue {
		t.Errorf("error of %d bytes for a key outside the template", len(fmt.Sprint(err)))
	}
	if err := srv.Client.Set(context.Background(), "tenant:"+huge, "not an object", 0).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = s.Lookup(ctx, "tenant:"+huge)
	if err == nil || len(err.Error()) > 2*sources.MaxLogValue || !strings.Contains(err.Error(), "(4194311 bytes)") {
		t.Errorf("error of %d bytes for a huge key: %.300s", len(fmt.Sprint(err)), err)
	}
}
