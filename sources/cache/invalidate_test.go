package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// origin is a fetch whose answer the test sets, counting the fetches.
type origin struct {
	mu      sync.Mutex
	value   []byte
	err     error
	block   chan struct{} // when not nil, fetches wait for it to close
	fetches atomic.Int32
}

func (o *origin) set(v string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.value, o.err = nil, err
	if v != "" {
		o.value = []byte(v)
	}
}

func (o *origin) fetch(ctx context.Context, _ string) ([]byte, error) {
	o.mu.Lock()
	v, err, block := o.value, o.err, o.block
	o.mu.Unlock()
	o.fetches.Add(1) // after the read: a test that sees the count sees what was read
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return v, err
}

func newCache(t *testing.T, cfg Config, o *origin) *Cache {
	t.Helper()
	c, err := New(cfg, o.fetch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustGet(t *testing.T, c *Cache, key, want string, wantStale bool) {
	t.Helper()
	r, err := c.Get(context.Background(), key)
	if err != nil || string(r.Object) != want || r.Stale != wantStale {
		t.Fatalf("Get(%s) = %q stale=%v, %v; want %q stale=%v", key, r.Object, r.Stale, err, want, wantStale)
	}
}

func TestInvalidateRefetchesAFreshEntry(t *testing.T) {
	o := &origin{}
	o.set(`{"v":1}`, nil)
	c := newCache(t, Config{TTL: time.Hour}, o)
	mustGet(t, c, "a", `{"v":1}`, false)
	mustGet(t, c, "b", `{"v":1}`, false)
	o.set(`{"v":2}`, nil)
	c.Invalidate("a")
	mustGet(t, c, "a", `{"v":2}`, false)
	mustGet(t, c, "a", `{"v":2}`, false)
	if n := o.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3: a, b, and a once after its invalidation", n)
	}
}

// A key that was a miss (negative entry) and then is set is found at once.
func TestInvalidateEndsANegativeEntry(t *testing.T) {
	o := &origin{}
	c := newCache(t, Config{NegativeTTL: time.Hour}, o)
	mustGet(t, c, "a", "", false)
	o.set(`{"v":1}`, nil)
	mustGet(t, c, "a", "", false) // still remembered as a miss
	c.Invalidate("a")
	mustGet(t, c, "a", `{"v":1}`, false)
}

func TestRevalidateAllRefetchesEveryKey(t *testing.T) {
	o := &origin{}
	o.set(`{"v":1}`, nil)
	c := newCache(t, Config{TTL: time.Hour}, o)
	for _, k := range []string{"a", "b", "c"} {
		mustGet(t, c, k, `{"v":1}`, false)
	}
	o.set(`{"v":2}`, nil)
	c.RevalidateAll()
	for _, k := range []string{"a", "b", "c"} {
		mustGet(t, c, k, `{"v":2}`, false)
	}
	if n := o.fetches.Load(); n != 6 {
		t.Fatalf("fetches = %d, want 6", n)
	}
}

// A fetch that started before an invalidation answers its own waiters, but
// neither stands in for the lookups after the invalidation nor leaves its
// answer fresh in the cache, whether it ends before or after the new fetch.
func TestAFetchStartedBeforeAnInvalidationIsNotFresh(t *testing.T) {
	for _, oldEndsFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("oldEndsFirst=%v", oldEndsFirst), func(t *testing.T) {
			o := &origin{block: make(chan struct{})}
			o.set(`{"v":"old"}`, nil)
			c := newCache(t, Config{TTL: time.Hour}, o)
			early := make(chan string, 1)
			go func() {
				r, err := c.Get(context.Background(), "a")
				early <- fmt.Sprintf("%s %v", r.Object, err)
			}()
			for o.fetches.Load() == 0 { // the old fetch has read the old value
				time.Sleep(time.Millisecond)
			}
			oldBlock := o.block
			o.mu.Lock()
			o.value, o.block = []byte(`{"v":"new"}`), nil
			o.mu.Unlock()
			c.Invalidate("a")
			if oldEndsFirst {
				close(oldBlock)
				if got := <-early; got != `{"v":"old"} <nil>` {
					t.Fatalf("the early lookup got %s", got)
				}
				mustGet(t, c, "a", `{"v":"new"}`, false)
			} else {
				mustGet(t, c, "a", `{"v":"new"}`, false)
				close(oldBlock)
				if got := <-early; got != `{"v":"old"} <nil>` {
					t.Fatalf("the early lookup got %s", got)
				}
			}
			mustGet(t, c, "a", `{"v":"new"}`, false)
			if n := o.fetches.Load(); n != 2 {
				t.Fatalf("fetches = %d, want 2", n)
			}
		})
	}
}

// When the refetch after an invalidation fails, the old object is served,
// marked stale, up to TTL+MaxStale, and the origin is not asked again
// before RetryInterval.
func TestInvalidatedEntryIsServedStaleWhileTheOriginFails(t *testing.T) {
	var mu sync.Mutex
	clk := time.Unix(0, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	advance := func(d time.Duration) { mu.Lock(); clk = clk.Add(d); mu.Unlock() }
	o := &origin{}
	o.set(`{"v":1}`, nil)
	c := newCache(t, Config{TTL: time.Minute, MaxStale: time.Hour, Now: now}, o)
	mustGet(t, c, "a", `{"v":1}`, false)
	o.set("", errors.New("down"))
	c.Invalidate("a")
	mustGet(t, c, "a", `{"v":1}`, true)
	mustGet(t, c, "a", `{"v":1}`, true)
	if n := o.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2: no new fetch within RetryInterval of a failure", n)
	}
	advance(RetryInterval)
	mustGet(t, c, "a", `{"v":1}`, true)
	if n := o.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
	advance(time.Minute + time.Hour)
	if r, err := c.Get(context.Background(), "a"); err == nil {
		t.Fatalf("past TTL+MaxStale: got %q, want the origin's error", r.Object)
	}
	o.set(`{"v":2}`, nil)
	advance(RetryInterval)
	mustGet(t, c, "a", `{"v":2}`, false)
}

// A lookup that waits for the refetch of an invalidated entry returns at
// its own deadline, with the old object marked stale.
// An invalidation that follows failures (a reconnection after an outage)
// is a fetch at once: the failures were before it, so they do not hold the
// fetch it calls for back by RetryInterval.
func TestInvalidationAfterFailuresFetchesAtOnce(t *testing.T) {
	clk := time.Unix(0, 0)
	o := &origin{}
	o.set(`{"v":1}`, nil)
	c := newCache(t, Config{TTL: time.Minute, MaxStale: time.Hour, Now: func() time.Time { return clk }}, o)
	mustGet(t, c, "a", `{"v":1}`, false)
	o.set("", errors.New("down"))
	c.RevalidateAll()
	mustGet(t, c, "a", `{"v":1}`, true) // the fetch fails: stale
	o.set(`{"v":2}`, nil)
	c.RevalidateAll() // back, within RetryInterval of the failure
	mustGet(t, c, "a", `{"v":2}`, false)
	if n := o.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestInvalidatedLookupReturnsAtItsDeadline(t *testing.T) {
	o := &origin{}
	o.set(`{"v":1}`, nil)
	c := newCache(t, Config{TTL: time.Hour, FetchTimeout: time.Minute}, o)
	mustGet(t, c, "a", `{"v":1}`, false)
	release := make(chan struct{})
	o.mu.Lock()
	o.block = release
	o.mu.Unlock()
	defer close(release)
	c.Invalidate("a")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := c.Get(ctx, "a")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the lookup returned after %v, its deadline was 50ms", d)
	}
	if err != nil || string(r.Object) != `{"v":1}` || !r.Stale {
		t.Fatalf("got %q stale=%v, %v; want the old object, stale", r.Object, r.Stale, err)
	}
}

// Under concurrent lookups, changes and invalidations, once the last change
// is followed by its invalidation every lookup gets the last value.
func TestInvalidateUnderConcurrentLookups(t *testing.T) {
	o := &origin{}
	o.set(`{"v":0}`, nil)
	c := newCache(t, Config{TTL: time.Hour}, o)
	keys := []string{"a", "b", "c", "d"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Get(context.Background(), keys[j%len(keys)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for v := 1; v <= 200; v++ {
		o.set(fmt.Sprintf(`{"v":%d}`, v), nil)
		if v%50 == 0 {
			c.RevalidateAll()
		} else {
			c.Invalidate(keys[v%len(keys)])
		}
	}
	for _, k := range keys {
		c.Invalidate(k)
	}
	close(stop)
	wg.Wait()
	for _, k := range keys {
		mustGet(t, c, k, `{"v":200}`, false)
	}
}
