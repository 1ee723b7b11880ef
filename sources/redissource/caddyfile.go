package redissource

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
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
//	    max_size        <size>
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
			if ok, err := s.UnmarshalSubdirective(d); ok {
				if err != nil {
					return err
				}
				continue
			}
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
