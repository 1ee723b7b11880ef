package sources

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// ParseSize parses the argument of the subdirective at d's cursor as a
// positive size in bytes (1MiB, 65536) of at most max into dst, for the
// sources' Caddyfile parsers. Errors name the line.
func ParseSize(d *caddyfile.Dispenser, dst *int64, max uint64) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	n, err := humanize.ParseBytes(d.Val())
	if err != nil || n == 0 || n > max {
		return d.Errf("%s %q: want a positive size such as 1MiB or 65536, at most %s", name, d.Val(), humanize.IBytes(max))
	}
	*dst = int64(n)
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// ParseDuration parses the argument of the subdirective at d's cursor as a
// duration that is not negative into dst, for the sources' Caddyfile
// parsers. Errors name the line.
func ParseDuration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	v, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return d.Errf("%s %q: %v", name, d.Val(), err)
	}
	if v < 0 {
		return d.Errf("%s %q: must not be negative", name, d.Val())
	}
	*dst = caddy.Duration(v)
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}
