package sources

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// Shared is a source's hold on a backend (its connections, its cache, its
// background work) that it shares with the sources of other configs built
// from the same configuration: a config reload that keeps a source's
// configuration keeps its backend, warm. The backends live in a
// caddy.UsagePool, keyed by what makes them; the last source to release a
// backend closes it.
//
// Caddy cleans a replaced config up while that config's requests in
// flight finish, so a source keeps using its backend after Release; a
// closed backend must go on answering, from its cache or with errors.
type Shared[B caddy.Destructor] struct {
	pool *caddy.UsagePool
	key  string
	// Backend is the backend; it stays set after Release.
	Backend B

	once sync.Once
	err  error
}

// Share takes the backend stored in pool under key, or makes one with
// make and stores it. loaded reports whether it was already there.
func Share[B caddy.Destructor](pool *caddy.UsagePool, key string, make func() (B, error)) (s *Shared[B], loaded bool, err error) {
	v, loaded, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		b, err := make()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
	if err != nil {
		return nil, false, err
	}
	b, ok := v.(B)
	if !ok {
		return nil, false, fmt.Errorf("shared backend %T under a key of %T", v, b)
	}
	return &Shared[B]{pool: pool, key: key, Backend: b}, loaded, nil
}

// Release gives the backend back; the pool destructs it when no source
// holds it any more. Calls after the first do nothing.
func (s *Shared[B]) Release() error {
	s.once.Do(func() {
		if _, err := s.pool.Delete(s.key); err != nil {
			s.err = fmt.Errorf("releasing the shared backend: %w", err)
		}
	})
	return s.err
}

// unshared numbers the keys made by Unshared.
var unshared atomic.Int64

// Unshared returns key made unique, for a backend that must be shared with
// no other source (one built with a test's own clock, say).
func Unshared(key string) string {
	return fmt.Sprintf("%s\x00unshared %d", key, unshared.Add(1))
}
