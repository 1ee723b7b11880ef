package redissource

import (
	"context"
	"encoding/json"
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

// fetchJSON reads key, a string holding a JSON object. It reads at most
// max_size+1 bytes of it (GETRANGE), so a larger value is an error without
// being held whole; EXISTS, in the same transaction, tells a missing key
// from an empty value.
func (b *backend) fetchJSON(ctx context.Context, key string) ([]byte, error) {
	var get *redis.StringCmd
	var exists *redis.IntCmd
	_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.GetRange(ctx, key, 0, b.maxSize)
		exists = p.Exists(ctx, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	v, _ := get.Bytes()
	if len(v) == 0 && exists.Val() == 0 {
		return nil, nil
	}
	if int64(len(v)) > b.maxSize {
		return nil, fmt.Errorf("redis source: GET %s: the value is larger than max_size %d", key, b.maxSize)
	}
	if err := sources.CheckObject(v); err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", key, err)
	}
	return v, nil
}

// fetchHash reads the hash key with HGETALL and returns its fields as an
// object of strings, at most max_size bytes long. HGETALL reads the hash
// whole: its size in Redis bounds the memory of one read. encoding/json escapes every name and value; a name or
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
	if int64(len(obj)) > b.maxSize {
		return nil, fmt.Errorf("redis source: HGETALL %s: the object is larger than max_size %d", key, b.maxSize)
	}
	return obj, nil
}
