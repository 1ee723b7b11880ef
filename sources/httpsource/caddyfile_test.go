package httpsource

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`http https://cells.internal/v1/tenants/{http.token.tenant} {
		cache_ttl     5m
		max_stale     24h
		negative_ttl  10s
		cache_size    500
		cache_bytes   16MiB
		max_size      64KiB
		fetch_timeout 1s
		header        Authorization "Bearer {env.CELLS_TOKEN}"
		header        X-Api-Key {env.CELLS_KEY}
	}`)
	var s Source
	if err := s.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Source{
		URL: "https://cells.internal/v1/tenants/{http.token.tenant}",
		Settings: cache.Settings{
			CacheTTL:     caddy.Duration(5 * time.Minute),
			MaxStale:     caddy.Duration(24 * time.Hour),
			NegativeTTL:  caddy.Duration(10 * time.Second),
			CacheSize:    500,
			CacheBytes:   16 << 20,
			MaxSize:      64 << 10,
			FetchTimeout: caddy.Duration(time.Second),
		},
		Headers: map[string]string{
			"Authorization": "Bearer {env.CELLS_TOKEN}",
			"X-Api-Key":     "{env.CELLS_KEY}",
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	got, _ := json.Marshal(s)
	const wantJSON = `{"url":"https://cells.internal/v1/tenants/{http.token.tenant}","cache_ttl":300000000000,` +
		`"max_stale":86400000000000,"negative_ttl":10000000000,"cache_size":500,"cache_bytes":16777216,` +
		`"max_size":65536,"fetch_timeout":1000000000,"headers":{"Authorization":"Bearer {env.CELLS_TOKEN}","X-Api-Key":"{env.CELLS_KEY}"}}`
	if string(got) != wantJSON {
		t.Fatalf("JSON\n got  %s\n want %s", got, wantJSON)
	}
}

func TestUnmarshalCaddyfileAuth(t *testing.T) {
	d := caddyfile.NewTestDispenser(`http https://cells.internal/{http.token.tenant} {
		oauth2 {
			token_url      https://idp.internal/oauth/token
			client_id      enricher
			client_secret  {env.CELLS_SECRET}
			scopes         cells.read cells.meta
			endpoint_param audience https://cells.internal
		}
	}`)
	var s Source
	if err := s.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := &OAuth2{
		TokenURL:       "https://idp.internal/oauth/token",
		ClientID:       "enricher",
		ClientSecret:   "{env.CELLS_SECRET}",
		Scopes:         []string{"cells.read", "cells.meta"},
		EndpointParams: map[string][]string{"audience": {"https://cells.internal"}},
	}
	if !reflect.DeepEqual(s.OAuth2, want) {
		t.Fatalf("got %+v", s.OAuth2)
	}

	d = caddyfile.NewTestDispenser(`http https://cells.internal/{http.token.tenant} {
		basic_auth enricher {env.CELLS_PASSWORD}
	}`)
	s = Source{}
	if err := s.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if *s.BasicAuth != (BasicAuth{Username: "enricher", Password: "{env.CELLS_PASSWORD}"}) {
		t.Fatalf("got %+v", s.BasicAuth)
	}

	// No block at all.
	d = caddyfile.NewTestDispenser(`http https://cells.internal/{http.token.tenant}`)
	s = Source{}
	if err := s.UnmarshalCaddyfile(d); err != nil || s.URL != "https://cells.internal/{http.token.tenant}" {
		t.Fatalf("%+v, %v", s, err)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`http`, "missing URL"},
		{`http https://a/{x} https://b/{x}`, "wrong argument count"},
		{"http https://a/{x} {\n bogus 1\n}", "unrecognized subdirective: bogus"},
		{"http https://a/{x} {\n cache_ttl\n}", "wrong argument count"},
		{"http https://a/{x} {\n cache_ttl soon\n}", "cache_ttl"},
		{"http https://a/{x} {\n max_stale -1h\n}", "negative"},
		{"http https://a/{x} {\n cache_ttl 1m 2m\n}", "wrong argument count"},
		{"http https://a/{x} {\n cache_size 0\n}", "cache_size"},
		{"http https://a/{x} {\n cache_size many\n}", "cache_size"},
		{"http https://a/{x} {\n max_size huge\n}", "max_size"},
		{"http https://a/{x} {\n max_size 2GiB\n}", "at most 1.0 GiB"},
		{"http https://a/{x} {\n cache_bytes 0\n}", "cache_bytes"},
		{"http https://a/{x} {\n header X-Key\n}", "header"},
		{"http https://a/{x} {\n basic_auth user\n}", "basic_auth"},
		{"http https://a/{x} {\n oauth2 {\n  token_url\n }\n}", "token_url"},
		{"http https://a/{x} {\n oauth2 {\n  grant password\n }\n}", "unrecognized oauth2 subdirective: grant"},
		{"http https://a/{x} {\n oauth2 {\n  endpoint_param audience\n }\n}", "endpoint_param"},
	} {
		var s Source
		err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestModuleIsRegistered(t *testing.T) {
	mi, err := caddy.GetModule("http.handlers.token_enrich.sources.http")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mi.New().(*Source); !ok {
		t.Fatalf("New returns %T", mi.New())
	}
}

// The block of docs/metadata.md, as the handler hands it over, provisions.
func TestCaddyfileExampleProvisions(t *testing.T) {
	t.Setenv("CELLS_TOKEN", "t")
	d := caddyfile.NewTestDispenser(`http https://cells.internal/v1/tenants/{http.token.tenant} {
		cache_ttl 5m
		max_stale 24h
		header    Authorization "Bearer {env.CELLS_TOKEN}"
	}`)
	var s Source
	if err := s.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	provision(t, &s, nil)
	if got := s.header.Get("Authorization"); got != "Bearer t" {
		t.Fatalf("Authorization = %q", got)
	}
	if s.MaxSize != cache.DefaultMaxSize || s.CacheSize != cache.DefaultSize || s.CacheBytes != cache.DefaultMaxBytes ||
		time.Duration(s.NegativeTTL) != cache.DefaultNegativeTTL || time.Duration(s.FetchTimeout) != cache.DefaultFetchTimeout {
		t.Fatalf("defaults not set: %+v", s)
	}
}
