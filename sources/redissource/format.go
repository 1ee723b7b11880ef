package redissource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// fetch reads key in the configured format. It returns nil for a missing
// key or an empty hash (a miss), and an error for anything else that is not
// an object.
func (s *Source) fetch(ctx context.Context, key string) ([]byte, error) {
	if s.Format == FormatHash {
		return s.fetchHash(ctx, key)
	}
	return s.fetchJSON(ctx, key)
}

// fetchJSON GETs key, a string holding a JSON object.
func (s *Source) fetchJSON(ctx context.Context, key string) ([]byte, error) {
	b, err := s.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	if err := sources.CheckObject(b); err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	return b, nil
}

// fetchHash reads the hash key with HGETALL and returns its fields as an
// object of strings. encoding/json escapes every name and value; a name or
// value that is not UTF-8 has its invalid bytes replaced with U+FFFD.
func (s *Source) fetchHash(ctx context.Context, key string) ([]byte, error) {
	m, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis source: HGETALL %s: %w", key, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("redis source: HGETALL %s: %w", key, err)
	}
	return b, nil
}
