package redissource

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Source
		json string
	}{
		{
			in: `redis redis://:{env.REDIS_PASSWORD}@127.0.0.1:6379/0 {
				format        hash
				cache_ttl     10m
				max_stale     24h
				negative_ttl  5s
				cache_size    500
				cache_bytes   16MiB
				fetch_timeout 1s
			}`,
			want: Source{
				URL: "redis://:{env.REDIS_PASSWORD}@127.0.0.1:6379/0", Format: FormatHash,
				Settings: cache.Settings{
					CacheTTL: caddy.Duration(10 * time.Minute), MaxStale: caddy.Duration(24 * time.Hour),
					NegativeTTL: caddy.Duration(5 * time.Second), CacheSize: 500, CacheBytes: 16 << 20,
					FetchTimeout: caddy.Duration(time.Second),
				},
			},
			json: `{"url":"redis://:{env.REDIS_PASSWORD}@127.0.0.1:6379/0","format":"hash","cache_ttl":600000000000,` +
				`"max_stale":86400000000000,"negative_ttl":5000000000,"cache_size":500,"cache_bytes":16777216,"fetch_timeout":1000000000}`,
		},
		{
			in:   `redis rediss://s1:26379/2 {` + "\n sentinel_master mymaster\n sentinel_addrs s2:26379 s3:26379\n}",
			want: Source{URL: "rediss://s1:26379/2", SentinelMaster: "mymaster", SentinelAddrs: []string{"s2:26379", "s3:26379"}},
			json: `{"url":"rediss://s1:26379/2","sentinel_master":"mymaster","sentinel_addrs":["s2:26379","s3:26379"]}`,
		},
		{
			in:   "redis redis://n1:6379 {\n cluster_addrs n2:6379\n cluster_addrs n3:6379\n}",
			want: Source{URL: "redis://n1:6379", ClusterAddrs: []string{"n2:6379", "n3:6379"}},
			json: `{"url":"redis://n1:6379","cluster_addrs":["n2:6379","n3:6379"]}`,
		},
		{in: `redis redis://h`, want: Source{URL: "redis://h"}, json: `{"url":"redis://h"}`},
	} {
		var s Source
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in)); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(s, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.in, s, tc.want)
		}
		if got, _ := json.Marshal(s); string(got) != tc.json {
			t.Errorf("%s: JSON\n got  %s\n want %s", tc.in, got, tc.json)
		}
	}
}

// Errors name the file and the line of the subdirective at fault.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		want string
	}{
		{`redis`, 1, "redis source: missing URL"},
		{`redis redis://a redis://b`, 1, "wrong argument count"},
		{"redis redis://h {\n format json\n bogus 1\n}", 3, "unrecognized subdirective: bogus"},
		{"redis redis://h {\n format xml\n}", 2, `format "xml": want json or hash`},
		{"redis redis://h {\n format\n}", 2, "wrong argument count"},
		{"redis redis://h {\n\n cache_ttl soon\n}", 3, `cache_ttl "soon"`},
		{"redis redis://h {\n max_stale -1h\n}", 2, `max_stale "-1h": must not be negative`},
		{"redis redis://h {\n fetch_timeout 1s 2s\n}", 2, "wrong argument count"},
		{"redis redis://h {\n cache_size 0\n}", 2, "cache_size"},
		{"redis redis://h {\n cache_bytes lots\n}", 2, "cache_bytes"},
		{"redis redis://h {\n sentinel_master\n}", 2, "wrong argument count"},
		{"redis redis://h {\n sentinel_addrs\n}", 2, "sentinel_addrs: want at least one host:port"},
		{"redis redis://h {\n sentinel_addrs s:26379\n}", 3, "sentinel_addrs needs sentinel_master"},
		{"redis redis://h {\n sentinel_master m\n cluster_addrs n:1\n}", 4, "not both"},
	} {
		var s Source
		err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		at := fmt.Sprintf(", at Testfile:%d", tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(err.Error(), at) {
			t.Errorf("%q: err = %v, want one containing %q and ending %q", tc.in, err, tc.want, at)
		}
	}
}

func TestModuleIsRegistered(t *testing.T) {
	mi, err := caddy.GetModule("http.handlers.token_enrich.sources.redis")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mi.New().(*Source); !ok {
		t.Fatalf("New returns %T", mi.New())
	}
}
