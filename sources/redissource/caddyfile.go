package redissource

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// UnmarshalCaddyfile sets up the source from the tokens the handler hands
// it: the module name, the URL and the source's own subdirectives (the
// handler keeps key, timeout and fields).
//
// Syntax:
//
//	redis <url> {
//	    format          json|hash
//	    cache_ttl       <duration>
//	    max_stale       <duration>
//	    negative_ttl    <duration>
//	    cache_size      <entries>
//	    cache_bytes     <size>
//	    fetch_timeout   <duration>
//	    sentinel_master <name>
//	    sentinel_addrs  <host:port...>
//	    cluster_addrs   <host:port...>
//	}
//
// The URL is redis:// or rediss://, with user, password and db, and may
// hold {env.*} and {file.*} placeholders, rendered when the config loads.
func (s *Source) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if !d.NextArg() {
		return d.Errf("redis source: missing URL, e.g. redis://127.0.0.1:6379/0")
	}
	s.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "format":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if v := d.Val(); v != FormatJSON && v != FormatHash {
				return d.Errf("format %q: want json or hash", v)
			}
			s.Format = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "cache_ttl":
			if err := sources.ParseDuration(d, &s.CacheTTL); err != nil {
				return err
			}
		case "max_stale":
			if err := sources.ParseDuration(d, &s.MaxStale); err != nil {
				return err
			}
		case "negative_ttl":
			if err := sources.ParseDuration(d, &s.NegativeTTL); err != nil {
				return err
			}
		case "fetch_timeout":
			if err := sources.ParseDuration(d, &s.FetchTimeout); err != nil {
				return err
			}
		case "cache_size":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n <= 0 {
				return d.Errf("cache_size %q: want a positive number of entries", d.Val())
			}
			s.CacheSize = n
			if d.NextArg() {
				return d.ArgErr()
			}
		case "cache_bytes":
			if err := sources.ParseSize(d, &s.CacheBytes, 1<<40); err != nil {
				return err
			}
		case "sentinel_master":
			if !d.NextArg() {
				return d.ArgErr()
			}
			s.SentinelMaster = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "sentinel_addrs", "cluster_addrs":
			name := d.Val()
			addrs := d.RemainingArgs()
			if len(addrs) == 0 {
				return d.Errf("%s: want at least one host:port", name)
			}
			if name == "sentinel_addrs" {
				s.SentinelAddrs = append(s.SentinelAddrs, addrs...)
			} else {
				s.ClusterAddrs = append(s.ClusterAddrs, addrs...)
			}
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
	}
	if err := s.check(); err != nil {
		return d.Errf("%v", err)
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Source)(nil)
