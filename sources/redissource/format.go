package redissource

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
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
// being held whole, remembered for negative_ttl (cache.Refuse); EXISTS, in
// the same transaction, tells a missing key from an empty value.
func (b *backend) fetchJSON(ctx context.Context, key string) ([]byte, error) {
	var get *redis.StringCmd
	var exists *redis.IntCmd
	_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.GetRange(ctx, key, 0, b.maxSize)
		exists = p.Exists(ctx, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", sources.Truncate(key), err)
	}
	v, _ := get.Bytes()
	if len(v) == 0 && exists.Val() == 0 {
		return nil, nil
	}
	if int64(len(v)) > b.maxSize {
		return nil, cache.Refuse(fmt.Errorf("redis source: GET %s: the value is larger than max_size %d", sources.Truncate(key), b.maxSize))
	}
	if err := sources.CheckObject(v); err != nil {
		return nil, fmt.Errorf("redis source: GET %s: %w", sources.Truncate(key), err)
	}
	return v, nil
}

// hscanCount is the COUNT of each HSCAN: the fields read past max_size
// before a hash is refused are at most one such chunk.
const hscanCount = 128

// minFieldCost is the fewest bytes a hash field adds to its object: "":"",
const minFieldCost = 6

// fetchHash reads the hash key and returns its fields as an object of
// strings, at most max_size bytes long. The read is bounded: HLEN first,
// refusing a hash of more fields than max_size can hold without reading
// them; then HSCAN in chunks of hscanCount fields, stopping as soon as the
// fields read pass max_size. A refusal is remembered for negative_ttl
// (cache.Refuse), so the next tokens do not read the hash again. HSCAN is
// not atomic: a hash changed during the read may be read part before, part
// after the change; the change's keyspace notification invalidates the
// key, and the next lookup reads it again. encoding/json escapes every
// name and value; a name or value that is not UTF-8 has its invalid bytes
// replaced with U+FFFD.
func (b *backend) fetchHash(ctx context.Context, key string) ([]byte, error) {
	n, err := b.client.HLen(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis source: HLEN %s: %w", sources.Truncate(key), err)
	}
	if n == 0 {
		return nil, nil
	}
	tooLarge := func() error {
		return cache.Refuse(fmt.Errorf("redis source: hash %s: the object is larger than max_size %d (%d fields)", sources.Truncate(key), b.maxSize, n))
	}
	if n > (b.maxSize-2)/minFieldCost {
		return nil, tooLarge()
	}
	m := make(map[string]string, n)
	size := int64(2) // {}
	var cursor uint64
	for {
		kv, next, err := b.client.HScan(ctx, key, cursor, "", hscanCount).Result()
		if err != nil {
			return nil, fmt.Errorf("redis source: HSCAN %s: %w", sources.Truncate(key), err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if _, dup := m[kv[i]]; !dup {
				size += int64(len(kv[i])+len(kv[i+1])) + minFieldCost
			}
			m[kv[i]] = kv[i+1]
		}
		if size > b.maxSize {
			return nil, tooLarge()
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(m) == 0 {
		return nil, nil
	}
	obj, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("redis source: hash %s: %w", sources.Truncate(key), err)
	}
	if int64(len(obj)) > b.maxSize {
		return nil, tooLarge()
	}
	return obj, nil
}
