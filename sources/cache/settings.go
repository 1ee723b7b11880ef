package cache

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Settings are the cache settings of a source module that caches its
// origin's answers. A module embeds them in its config, so that every such
// source has the same JSON fields and Caddyfile subdirectives, with the
// same defaults.
type Settings struct {
	// CacheTTL is how long an answer is fresh. Default: 5m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// MaxStale is how long after CacheTTL an answer is still served: at
	// once while one background fetch refreshes it
	// (stale-while-revalidate), and while the origin fails
	// (stale-if-error; the result is then marked stale). Default: 0,
	// nothing is served past CacheTTL.
	MaxStale caddy.Duration `json:"max_stale,omitempty"`

	// NegativeTTL is how long "the origin has nothing for this key" is
	// remembered. Default: 30s.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`

	// CacheSize is the largest number of keys cached; the least recently
	// used is evicted first. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`

	// CacheBytes bounds the memory of the cache: the bytes of the keys and
	// answers cached plus about 200 bytes per entry. The least recently
	// used keys are evicted to stay under it. Default: 64 MiB.
	CacheBytes int64 `json:"cache_bytes,omitempty"`

	// MaxSize is the largest answer read from the origin, in bytes; a
	// bigger one is an error, and is not read further where the origin's
	// protocol allows. Default: 1 MiB; at most 1 GiB.
	MaxSize int64 `json:"max_size,omitempty"`

	// FetchTimeout bounds every fetch from the origin, including
	// background refreshes, which no token waits for. The handler's
	// timeout bounds how long a token waits for the source; a fetch that
	// outlives it still fills the cache. Default: 2s.
	FetchTimeout caddy.Duration `json:"fetch_timeout,omitempty"`
}

// Bounds of the settings.
const (
	// MaxCacheBytes is the largest cache_bytes accepted.
	MaxCacheBytes = 1 << 40
	// DefaultMaxSize is the max_size when none is set.
	DefaultMaxSize = 1 << 20
	// MaxMaxSize is the largest max_size accepted: an answer is held in
	// memory whole, and cached.
	MaxMaxSize = 1 << 30
)

// SetDefaults gives the zero settings their defaults.
func (s *Settings) SetDefaults() {
	if s.CacheTTL == 0 {
		s.CacheTTL = caddy.Duration(DefaultTTL)
	}
	if s.NegativeTTL == 0 {
		s.NegativeTTL = caddy.Duration(DefaultNegativeTTL)
	}
	if s.CacheSize == 0 {
		s.CacheSize = DefaultSize
	}
	if s.CacheBytes == 0 {
		s.CacheBytes = DefaultMaxBytes
	}
	if s.FetchTimeout == 0 {
		s.FetchTimeout = caddy.Duration(DefaultFetchTimeout)
	}
	if s.MaxSize == 0 {
		s.MaxSize = DefaultMaxSize
	}
}

// Check reports a negative setting.
func (s Settings) Check() error {
	if s.CacheTTL < 0 || s.MaxStale < 0 || s.NegativeTTL < 0 || s.FetchTimeout < 0 {
		return errors.New("cache_ttl, max_stale, negative_ttl and fetch_timeout must not be negative")
	}
	if s.CacheSize < 0 || s.CacheBytes < 0 || s.MaxSize < 0 {
		return errors.New("cache_size, cache_bytes and max_size must not be negative")
	}
	if s.MaxSize > MaxMaxSize {
		return fmt.Errorf("max_size %d is larger than %d", s.MaxSize, MaxMaxSize)
	}
	return nil
}

// Config returns the cache's config for these settings; the caller adds
// the clock and the refresh-error callback.
func (s Settings) Config() Config {
	return Config{
		TTL:          time.Duration(s.CacheTTL),
		MaxStale:     time.Duration(s.MaxStale),
		NegativeTTL:  time.Duration(s.NegativeTTL),
		Size:         s.CacheSize,
		MaxBytes:     s.CacheBytes,
		FetchTimeout: time.Duration(s.FetchTimeout),
	}
}

// UnmarshalSubdirective parses the subdirective at d's cursor when it is
// one of the settings (cache_ttl, max_stale, negative_ttl, cache_size,
// cache_bytes, max_size, fetch_timeout) and reports whether it was.
func (s *Settings) UnmarshalSubdirective(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "cache_ttl":
		return true, sources.ParseDuration(d, &s.CacheTTL)
	case "max_stale":
		return true, sources.ParseDuration(d, &s.MaxStale)
	case "negative_ttl":
		return true, sources.ParseDuration(d, &s.NegativeTTL)
	case "fetch_timeout":
		return true, sources.ParseDuration(d, &s.FetchTimeout)
	case "cache_bytes":
		return true, sources.ParseSize(d, &s.CacheBytes, MaxCacheBytes)
	case "max_size":
		return true, sources.ParseSize(d, &s.MaxSize, MaxMaxSize)
	case "cache_size":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		n, err := strconv.Atoi(d.Val())
		if err != nil || n <= 0 {
			return true, d.Errf("cache_size %q: want a positive number of entries", d.Val())
		}
		s.CacheSize = n
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	}
	return false, nil
}
