package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
)

// A refusal (Refuse) is remembered like a miss: for NegativeTTL the
// lookups get its error without a fetch; after it, or after an
// invalidation of the key, the key is fetched again. It replaces a cached
// object, which the origin no longer holds in an acceptable form.
func TestRefusalRememberedForNegativeTTL(t *testing.T) {
	clk := testclock.New()
	tooLarge := errors.New("value larger than max_size")
	var fetches atomic.Int32
	var refuse atomic.Bool
	c, err := New(Config{TTL: time.Second, NegativeTTL: 30 * time.Second, Now: clk.Now}, func(context.Context, string) ([]byte, error) {
		fetches.Add(1)
		if refuse.Load() {
			return nil, Refuse(tooLarge)
		}
		return []byte(`{"v":1}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if r, err := c.Get(ctx, "k"); err != nil || string(r.Object) != `{"v":1}` {
		t.Fatalf("first Get: %q, %v", r.Object, err)
	}
	refuse.Store(true)
	clk.Advance(2 * time.Second) // past TTL, nothing served stale
	for i := range 3 {
		r, err := c.Get(ctx, "k")
		if !errors.Is(err, tooLarge) || r.Object != nil {
			t.Fatalf("Get %d within NegativeTTL of the refusal: %q, %v; want the refusal", i, r.Object, err)
		}
		var wrapped *refusal
		if errors.As(err, &wrapped) {
			t.Fatal("the refusal's wrapper reached the caller")
		}
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d; want 2 (the refusal fetched once)", n)
	}
	c.Invalidate("k")
	if _, err := c.Get(ctx, "k"); !errors.Is(err, tooLarge) || fetches.Load() != 3 {
		t.Fatalf("after an invalidation: %v, %d fetches; want a new fetch", err, fetches.Load())
	}
	refuse.Store(false)
	clk.Advance(31 * time.Second)
	if r, err := c.Get(ctx, "k"); err != nil || string(r.Object) != `{"v":1}` || fetches.Load() != 4 {
		t.Fatalf("after NegativeTTL: %q, %v, %d fetches", r.Object, err, fetches.Load())
	}
}
