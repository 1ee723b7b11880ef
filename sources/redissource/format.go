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
func (b *backend) fetch(ctx context.Context, key string) ([]byte, error) {
	if b.format == FormatHash {
		return b.fetchHash(ctx, key)
	}
	return b.fetchJSON(ctx, key)
}

// fetchJSON GETs key, a string holding a JSON object.
func (b *backend) fetchJSON(ctx context.Context, key string) ([]byte, error) {
	v, err := b.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	if err := sources.CheckObject(v); err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	return v, nil
}

// fetchHash reads the hash key with HGETALL and returns its fields as an
// object of strings. encoding/json escapes every name and value; a name or
// value that is not UTF-8 has its invalid bytes replaced with U+FFFD.
func (b *backend) fetchHash(ctx context.Context, key string) ([]byte, error) {
	m, err := b.client.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis source: HGETALL %s: %w", key, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	obj, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("redis source: HGETALL %s: %w", key, err)
	}
	return obj, nil
}
