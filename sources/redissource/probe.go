package redissource

import (
	"context"
	"fmt"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Origin is the server's address, without its password.
func (s *Source) Origin() (string, bool) { return s.address, s.b != nil }

// Probe sends PING with the source's client: it connects, authenticates
// as a lookup would, and selects the database.
func (s *Source) Probe(ctx context.Context) error {
	if err := s.b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis source: ping %s: %w", s.address, err)
	}
	return nil
}

// Interface guard.
var _ sources.Prober = (*Source)(nil)
