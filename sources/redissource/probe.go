package redissource

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Origin is the server's host:port (with a cluster's or sentinels', all of
// them): no user name, no password.
func (s *Source) Origin() (string, bool) {
	if s.b == nil || s.opts == nil {
		return "", false
	}
	return strings.Join(s.opts.Addrs, ","), true
}

// Probe sends PING with a client of its own, made from the source's
// options (address, credentials, TLS, database), and closes it: it
// connects and authenticates as a lookup would, and leaves no connection
// in the pool of the source's client.
func (s *Source) Probe(ctx context.Context) error {
	c := redis.NewUniversalClient(s.opts)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		origin, _ := s.Origin()
		return fmt.Errorf("redis source: ping %s: %w", origin, err)
	}
	return nil
}

// Interface guard.
var _ sources.Prober = (*Source)(nil)
